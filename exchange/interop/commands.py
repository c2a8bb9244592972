"""`haven shelter import --format hsds|hud` and `haven export hic|hsds`.

Imports go through the registry's one all-or-nothing path (`registry.add_shelters`): a
bad record stops the import before anything is written, and the summary says what was
skipped and which defaults were applied.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import io
import sys
from collections.abc import Awaitable, Callable
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from exchange import db, terminal
from exchange.beds import registry
from exchange.errors import CliError, HavenError
from exchange.interop import hic, hsds, hsds_export, hud, tables
from exchange.interop import store as interop_store
from exchange.interop.geocode import zip_place
from exchange.interop.outcome import Outcome
from exchange.settings import Settings

T = TypeVar("T")


async def _connected(settings: Settings, fn: Callable[[Any], Awaitable[T]]) -> T:
    conn = await db.connect(db.database_url(settings))
    try:
        await db.migrate(conn)
        return await fn(conn)
    finally:
        await conn.close()


def _emit(obj: object) -> None:
    sys.stdout.write(msgspec.json.encode(obj).decode() + "\n")


def parse_source(args: argparse.Namespace) -> Outcome:
    """The shelters an HSDS or HUD import path holds (nothing written yet)."""
    path = Path(args.file)
    if not path.exists():
        raise CliError(f"{path}: no such file or directory")
    try:
        source = tables.load(path)
        if args.format == "hsds":
            return hsds.parse(source, geocode=zip_place, region=args.region)
        return hud.parse(source, geocode=zip_place, region=args.region, today=_day(args.date))
    except HavenError as exc:
        raise CliError(f"{path}: {exc}; nothing was imported") from None


def import_shelters(args: argparse.Namespace, settings: Settings) -> int:
    """Map the source, then register every shelter in one transaction (or none)."""
    out = parse_source(args)
    if not out.shelters:
        _emit(_summary(out, []))
        raise CliError(f"{args.file}: no shelters to import; nothing was imported")
    added: list[tuple[str, str]] = []
    if not args.dry_run:
        added = asyncio.run(_connected(settings, lambda c: registry.add_shelters(c, out.shelters)))
    if terminal.for_people(args):
        _show(out, added)
    else:
        _emit(_summary(out, added))
    return 0


def _show(out: Outcome, added: list[tuple[str, str]]) -> None:
    rows = [
        (
            *((added[i][0],) if added else ()),
            s.name,
            s.region,
            ", ".join(f"{t} {n}" for t, n in sorted(s.beds.items())),
            "yes" if s.confidential else "",
            origin,
            *((added[i][1],) if added else ()),
        )
        for i, (s, origin) in enumerate(zip(out.shelters, out.origins, strict=True))
    ]
    columns = ["name", "region", "beds", "confidential", "from"]
    if added:
        columns = ["id", *columns, "token"]
    title = "Imported (each token is shown only now)" if added else "Would import (dry run)"
    terminal.table(title, columns, rows)
    terminal.table("Skipped", ["record", "why"], [(k.record, k.reason) for k in out.skipped])
    terminal.table(
        "Defaults applied (the source did not say)",
        ["default", "shelters"],
        list(out.defaults.items()),
    )


def _summary(out: Outcome, added: list[tuple[str, str]]) -> dict[str, Any]:
    shelters = [
        {"name": s.name, "region": s.region, "beds": s.beds, "from": origin}
        | ({"id": added[i][0], "token": added[i][1]} if added else {})
        for i, (s, origin) in enumerate(zip(out.shelters, out.origins, strict=True))
    ]
    return {
        "imported" if added else "would_import": shelters,
        "skipped": msgspec.to_builtins(out.skipped),
        "defaults": out.defaults,
    }


def _day(text: str | None) -> date:
    if text is None:
        return datetime.now(UTC).date()
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise CliError(f"--date {text!r} is not a date like 2026-01-28") from None


# -- export -------------------------------------------------------------------------------


def add_parser(sub: Any) -> None:
    """Register `export` on the `haven` subcommands."""
    export = sub.add_parser("export", help="write the registry in other systems' formats")
    kinds = export.add_subparsers(dest="export", required=True)
    directory = kinds.add_parser(
        "hsds",
        help="an HSDS 3.1 directory of the non-confidential shelters (for 211)",
        description="Write HSDS 3.1 tabular files (CSV and datapackage.json) for every "
        "shelter that is not confidential. Confidential shelters are never written. "
        "Capacity is each bed type's total; free beds are not published.",
    )
    directory.add_argument("dir", metavar="DIR", help="created if missing; files overwritten")
    directory.add_argument("--region", action="append", help="only these regions (repeatable)")
    directory.set_defaults(func=export_hsds)
    count = kinds.add_parser(
        "hic",
        help="the Housing Inventory Count on one night, as CSV",
        description="Write HUD's Housing Inventory Count for the night of --date as CSV (one "
        "row per shelter and household type), from the registry and the bed history: each "
        "bed type's total as of the end of that day. Confidential shelters are counted as "
        "victim service providers: their beds, no address. Totals go to stderr.",
    )
    count.add_argument("--date", required=True, help="the night counted, e.g. 2027-01-27")
    count.add_argument("--coc", default="", help="the CoC code for every row, e.g. OH-506")
    count.add_argument("--region", action="append", help="only these regions (repeatable)")
    count.add_argument("--tz", default="UTC", help="the day ends at midnight here (default UTC)")
    count.add_argument("-o", "--output", metavar="FILE", help="write here, not to stdout")
    count.set_defaults(func=export_hic)


def export_hsds(args: argparse.Namespace, settings: Settings) -> int:
    target = Path(args.dir)
    found = asyncio.run(
        _connected(
            settings,
            lambda c: interop_store.registry(c, confidential=False, regions=args.region),
        )
    )
    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    written = hsds_export.export(found.shelters, updated=now)
    try:
        target.mkdir(parents=True, exist_ok=True)
        for name, rows in written.items():
            (target / f"{name}.csv").write_text(_csv(hsds_export.COLUMNS[name], rows))
        (target / "datapackage.json").write_bytes(
            msgspec.json.format(msgspec.json.encode(hsds_export.datapackage(written)), indent=2)
        )
    except OSError as exc:
        raise CliError(f"cannot write {target}: {exc.strerror or exc}") from None
    _emit({"directory": str(target), "shelters": len(found.shelters), "hsds": hsds.VERSION})
    return 0


def _csv(columns: tuple[str, ...], rows: list[dict[str, str]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def export_hic(args: argparse.Namespace, settings: Settings) -> int:
    day = _day(args.date)
    try:
        zone = ZoneInfo(args.tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise CliError(f"--tz {args.tz!r} is not a time zone like America/New_York") from None
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    found = asyncio.run(
        _connected(
            settings,
            lambda c: interop_store.registry(c, confidential=True, regions=args.region, at=end),
        )
    )
    table = hic.rows(found.shelters, day=day, coc=args.coc)
    text = hic.to_csv(table)
    if args.output:
        try:
            Path(args.output).write_text(text, newline="")
        except OSError as exc:
            raise CliError(f"cannot write {args.output}: {exc.strerror or exc}") from None
    else:
        sys.stdout.write(text)
    for label, beds in hic.totals(table).items():
        sys.stderr.write(f"{label}: {beds}\n")
    if found.from_current:
        sys.stderr.write(
            f"haven: note: no bed history before {end.isoformat()} for "
            f"{', '.join(found.from_current)} (pruned): their current totals are used\n"
        )
    return 0
