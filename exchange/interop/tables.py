"""The tables of an import: CSV files (and JSON documents) from a directory, a zip or a
file, each row knowing where it came from so an error can name it."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path
from typing import Any

import msgspec

from exchange.errors import ImportFileError


class Row(msgspec.Struct, frozen=True):
    """One record: its values by column, and where it is (`Project.csv line 3`)."""

    where: str
    values: dict[str, str]

    def get(self, column: str) -> str | None:
        """The value stripped, or None when the column is absent or blank."""
        value = (self.values.get(column) or "").strip()
        return value or None


Tables = dict[str, list[Row]]
"""Rows by table, keyed by the file name in lower case without `.csv`."""


class Source(msgspec.Struct, frozen=True):
    """What an import path held: CSV tables and parsed JSON documents by file name."""

    tables: Tables
    documents: dict[str, Any]


def read_csv(name: str, text: str) -> list[Row]:
    """The rows of one CSV file (a UTF-8 byte-order mark is ignored)."""
    reader = csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))
    rows: list[Row] = []
    for values in reader:
        where = f"{name} line {reader.line_num}"
        if None in values:
            raise ImportFileError(where, "more values than columns")
        rows.append(Row(where, {k.strip(): v or "" for k, v in values.items() if k}))
    return rows


def load(path: Path) -> Source:
    """Read a directory, a zip, or one `.csv`/`.json` file; other files are ignored."""
    files: dict[str, bytes] = {}
    try:
        if path.is_dir():
            files = {p.name: p.read_bytes() for p in sorted(path.iterdir()) if p.is_file()}
        elif zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                for info in archive.infolist():
                    if not info.is_dir() and not info.filename.startswith("__MACOSX/"):
                        files[Path(info.filename).name] = archive.read(info)
        else:
            files = {path.name: path.read_bytes()}
    except OSError as exc:
        raise ImportFileError(str(path), f"cannot read it: {exc.strerror or exc}") from None
    tables: Tables = {}
    documents: dict[str, Any] = {}
    for name, data in files.items():
        lower = name.lower()
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise ImportFileError(name, "is not UTF-8 text") from None
        if lower.endswith(".csv"):
            tables[lower.removesuffix(".csv")] = read_csv(name, text)
        elif lower.endswith(".json") and lower != "datapackage.json":
            try:
                documents[name] = msgspec.json.decode(text)
            except msgspec.DecodeError as exc:
                raise ImportFileError(name, f"is not JSON: {exc}") from None
    return Source(tables, documents)
