"""What the `haven` commands print: a table for a person at a terminal, JSON for a
program (stdout piped or redirected) or when `--json` is given.

The JSON is the command's contract and never changes with the terminal; the tables are
for reading and may.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import msgspec


def for_people(args: Any) -> bool:
    """True when stdout is a terminal and `--json` was not asked for."""
    return not getattr(args, "json", False) and sys.stdout.isatty()


def emit_json(obj: object) -> None:
    sys.stdout.write(msgspec.json.encode(obj).decode() + "\n")


def table(
    title: str | None,
    columns: Sequence[str],
    rows: Sequence[Sequence[object]],
    *,
    empty: str = "none",
) -> None:
    """Print one table (or `empty` when there are no rows)."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if not rows:
        console.print(f"{title}: {empty}" if title else empty)
        return
    t = Table(title=title, title_justify="left", header_style="bold")
    for c in columns:
        t.add_column(c, overflow="fold")
    for row in rows:
        t.add_row(*("" if v is None else str(v) for v in row))
    console.print(t)


def say(text: str) -> None:
    from rich.console import Console

    Console().print(text)


def ago(iso: str | None, now: datetime | None = None) -> str:
    """`2026-12-01T10:03:00Z` → `12 min ago` (or `never`)."""
    if iso is None:
        return "never"
    then = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    seconds = max(0, int(((now or datetime.now(UTC)) - then).total_seconds()))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min ago"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"
