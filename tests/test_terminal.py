"""What the commands print for a person at a terminal (a real pseudo-terminal) and for a
program (a pipe): tables there, the unchanged JSON here."""

from __future__ import annotations

import asyncio
import json
import os
import pty
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import asyncpg
import pytest

from exchange import terminal
from exchange.beds import registry
from schema.registry import NewShelter

HERE = Path(__file__).parent / "interop"


def on_a_terminal(dsn: str, *argv: str) -> str:
    """Run `haven ARGV` with stdout on a pseudo-terminal 160 columns wide; its screen."""
    main, child = pty.openpty()
    env = {**os.environ, "DATABASE_URL": dsn, "COLUMNS": "160", "TERM": "xterm"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "exchange.cli", *argv], stdout=child, stderr=child, env=env
    )
    os.close(child)
    chunks = []
    while True:
        try:
            data = os.read(main, 65536)
        except OSError:  # the child closed its end
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=60)
    os.close(main)
    return b"".join(chunks).decode()


def piped(dsn: str, *argv: str) -> str:
    env = {**os.environ, "DATABASE_URL": dsn}
    done = subprocess.run(
        [sys.executable, "-m", "exchange.cli", *argv], capture_output=True, env=env, timeout=60
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.decode()


def test_ago_reads_naturally() -> None:
    """Freshness in the words a person uses."""
    now = datetime(2026, 12, 1, 10, 15, tzinfo=UTC)
    assert terminal.ago("2026-12-01T10:14:30Z", now) == "30 s ago"
    assert terminal.ago("2026-12-01T10:03:00Z", now) == "12 min ago"
    assert terminal.ago("2026-11-30T10:00:00Z", now) == "24 h ago"
    assert terminal.ago(None, now) == "never"


@pytest.mark.slow  # each runs `haven` in a fresh Python: seconds apiece
def test_shelter_list_is_a_table_on_a_terminal_and_json_in_a_pipe(dsn: str) -> None:
    """On a terminal: beds free/total and freshness; piped or --json: the JSON list."""

    async def seed() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await registry.add_shelters(
                conn,
                [
                    NewShelter(
                        name="Harbor House",
                        region="OH",
                        lat=41,
                        lon=-81,
                        beds={"single": 12, "family": 3},
                    ),
                    NewShelter(
                        name="Quiet",
                        region="OH",
                        lat=41,
                        lon=-81,
                        beds={"single": 6},
                        confidential=True,
                    ),
                ],
            )
        finally:
            await conn.close()

    asyncio.run(seed())
    screen = on_a_terminal(dsn, "shelter", "list")
    assert "2 shelters (beds free/total)" in screen
    assert "family 3/3, single 12/12" in screen
    assert "never (stale)" in screen and "Harbor House" in screen
    assert not screen.lstrip().startswith("[")
    listed = json.loads(piped(dsn, "shelter", "list"))
    assert [s["name"] for s in listed] == ["Harbor House", "Quiet"]
    assert json.loads(on_a_terminal(dsn, "shelter", "list", "--json"))[0]["id"] == "s00001"


@pytest.mark.slow  # each runs `haven` in a fresh Python: seconds apiece
def test_an_import_summary_is_three_tables_on_a_terminal(dsn: str) -> None:
    """What would be imported, what was skipped and why, and the defaults applied."""
    screen = on_a_terminal(
        dsn,
        "shelter",
        "import",
        "--format",
        "hud",
        "--date",
        "2026-01-28",
        "--dry-run",
        str(HERE / "hud"),
    )
    assert "Would import (dry run)" in screen and "Safe Harbor Shelter" in screen
    assert "Skipped" in screen and "no ProjectCoC row" in screen
    assert "Defaults applied" in screen and "languages: en" in screen


@pytest.mark.slow  # each runs `haven` in a fresh Python: seconds apiece
def test_the_separator_mistake_names_the_separator(dsn: str) -> None:
    """`--beds single=12;family=3` (a CSV habit) says to use `,`."""
    env = {**os.environ, "DATABASE_URL": dsn}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "exchange.cli",
            "shelter",
            "add",
            "--name",
            "A",
            "--region",
            "OH",
            "--lat",
            "41",
            "--lon",
            "-81",
            "--beds",
            "single=12;family=3",
        ],
        capture_output=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 2
    assert "separate bed types with ',' as in single=12,family=3, not ';'" in done.stderr.decode()
