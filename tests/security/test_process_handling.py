"""Process handling (finding 8): one demo per database, SIGTERM stops the embedded
PostgreSQL, a busy port and a bad DATABASE_URL are one clear line and exit 2."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from exchange import cli, db
from exchange.serve import wait_ready

ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port something else is listening on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        yield int(s.getsockname()[1])


def test_serve_on_a_busy_port_is_one_line_and_exit_2(
    busy_port: int, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`haven serve --port <busy>` says so in one line and exits 2, before starting anything."""
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/never-reached")
    assert cli.main(["serve", "--port", str(busy_port)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith(f"haven: cannot listen on 127.0.0.1:{busy_port}: ")


@pytest.mark.parametrize(
    ("url", "where"),
    [
        ("postgresql://haven:s3cret-pw@127.0.0.1:1/haven", "127.0.0.1:1/haven"),
        ("postgresql://haven:s3cret-pw@no-such-host.invalid:5432/haven", "no-such-host.invalid"),
        ("postgresql://haven:s3cret-pw@127.0.0.1:notaport/haven", "127.0.0.1:?/haven"),
        ("mysql://haven:s3cret-pw@127.0.0.1/haven", "(not a postgresql:// URL)"),
    ],
)
def test_a_bad_database_url_is_one_line_without_the_password(
    url: str, where: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """`haven shelter list` with an unreachable DATABASE_URL: one line naming host:port/db,
    never the password, exit 2."""
    monkeypatch.setenv("DATABASE_URL", url)
    assert cli.main(["shelter", "list"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "s3cret" not in err
    assert err.startswith(f"haven: cannot reach the database at {where}")


def test_a_missing_database_is_one_line(
    pg_server_dsn: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A server that answers but has no such database: the server's reason, in one line."""
    monkeypatch.setenv("DATABASE_URL", db.with_database(pg_server_dsn, "haven_no_such_db"))
    assert cli.main(["shelter", "list"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and 'database "haven_no_such_db" does not exist' in err


def haven(*args: str, env: dict[str, str], **kw: Any) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "exchange.cli", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.slow
def test_serve_with_a_bad_database_url_is_one_line() -> None:
    """`haven serve` with an unreachable DATABASE_URL: exit 2, one line, no traceback."""
    proc = haven(
        "serve",
        "--port",
        str(free_port()),
        env={"DATABASE_URL": "postgresql://haven:s3cret-pw@127.0.0.1:1/haven"},
    )
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2, err
    assert err == "haven: cannot reach the database at 127.0.0.1:1/haven: " + err.split(": ", 2)[2]
    assert err.count("\n") == 1 and "Traceback" not in err and "s3cret" not in err


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_sigterm_stops_serve_and_its_embedded_postgres(tmp_path: Path) -> None:
    """`haven serve` on the embedded PostgreSQL, stopped with SIGTERM, exits 0 and stops
    the PostgreSQL it started (none is left running)."""
    data = tmp_path / "data"
    port = free_port()
    env = {"HAVEN_DATA_DIR": str(data), "DATABASE_URL": ""}
    proc = haven("serve", "--port", str(port), env=env)
    postmaster = None
    try:
        wait_ready(f"http://127.0.0.1:{port}/readyz", None, 90)
        postmaster = int((data / "pg" / "postmaster.pid").read_text().split()[0])
        assert _alive(postmaster)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err[-2000:]
        deadline = time.monotonic() + 20
        while _alive(postmaster) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(postmaster), "the embedded PostgreSQL outlived haven serve"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
        if postmaster is not None and _alive(postmaster):
            os.kill(postmaster, signal.SIGQUIT)


def _demo(dsn: str, *args: str) -> subprocess.Popen[str]:
    return haven("demo", "--shelters", "9", "--rate", "10", *args, env={"DATABASE_URL": dsn})


def _wait_for_line(proc: subprocess.Popen[str], prefix: str, timeout: float) -> str:
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if line.startswith(prefix):
            return line
        if not line and proc.poll() is not None:
            break
    raise AssertionError(f"no {prefix!r} line; stderr: {proc.stderr.read() if proc.stderr else ''}")


@pytest.mark.slow
def test_a_second_demo_refuses_before_touching_the_first(dsn: str) -> None:
    """While a demo runs, a second one on the same database — on a free port or on the
    first one's — exits 2 with a clear line and the first carries on unharmed."""
    first = _demo(dsn, "--duration", "12")
    try:
        url = _wait_for_line(first, "Dashboard: ", 60).split()[-1]
        port = url.rstrip("/").rsplit(":", 1)[1]
        for extra in ([], ["--port", port]):
            second = _demo(dsn, "--duration", "2", *extra)
            _, err = second.communicate(timeout=60)
            assert second.returncode == 2, err
            assert err.count("\n") == 1, err
            assert "another `haven demo` is running" in err or "cannot listen on" in err
        out, err = first.communicate(timeout=60)
    finally:
        if first.poll() is None:
            first.kill()
            first.communicate()
    assert first.returncode == 0, err
    summary = json.loads(out.splitlines()[-1])
    assert summary["errors"] == {} and summary["unanswered"] == 0, summary


@pytest.mark.slow
def test_a_demo_whose_tokens_are_revoked_says_so(dsn: str) -> None:
    """Revoking a running demo's shelter tokens ends it with a demo-specific line, not the
    agent's advice about --token."""
    demo = _demo(dsn, "--duration", "60")
    try:
        _wait_for_line(demo, "Dashboard: ", 60)

        async def revoke() -> None:
            conn = await asyncpg.connect(dsn)
            try:
                await conn.execute("update tokens set revoked_at = now() where role = 'shelter'")
            finally:
                await conn.close()

        asyncio.run(revoke())
        _, err = demo.communicate(timeout=60)
    finally:
        if demo.poll() is None:
            demo.kill()
            demo.communicate()
    assert demo.returncode == 2, err
    assert "refused the demo's shelter tokens" in err and "--token" not in err
