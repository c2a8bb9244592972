"""The `haven` command line: registry and token commands print JSON; bad input exits 2."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import asyncpg
import pytest

from exchange import cli


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, object, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


@pytest.fixture
def db_env(dsn: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", dsn)
    return dsn


def count(dsn: str, table: str) -> int:
    async def q() -> int:
        conn = await asyncpg.connect(dsn)
        try:
            return int(await conn.fetchval(f"select count(*) from {table}"))
        finally:
            await conn.close()

    return asyncio.run(q())


def test_shelter_add_prints_id_and_token(db_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    """`shelter add` registers a shelter with rules and prints {id, token}."""
    code, out, _ = run(
        capsys,
        "shelter",
        "add",
        "--name",
        "Harbor",
        "--region",
        "OH",
        "--lat",
        "41.5",
        "--lon",
        "-81.7",
        "--beds",
        "single=12,family=3",
        "--confidential",
        "--mat-ok",
        "--max-children",
        "2",
        "--languages",
        "en,es",
        "--services",
        "trafficking",
    )
    assert code == 0 and isinstance(out, dict)
    assert out["id"] == "s00001" and out["token"].startswith("hvn_")
    code, listed, _ = run(capsys, "shelter", "list")
    assert isinstance(listed, list)
    [s] = listed
    assert s["confidential"] and s["rules"]["mat_ok"] and s["rules"]["languages"] == ["en", "es"]
    assert s["bed_types"] == ["family", "single"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--beds", "single=x"], "beds: 'single=x' is not type=count"),
        (
            ["--beds", "single=3;family=1"],
            "beds: separate bed types with ',' as in single=12,family=3, not ';'",
        ),
        (["--beds", "single=1", "--region", "ohio"], "region"),
        (["--beds", "single=1", "--lat", "95"], "lat"),
        (["--beds", "single=1", "--max-age", "10", "--min-age", "30"], "max_age"),
    ],
)
def test_shelter_add_rejects_bad_input(
    db_env: str, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    """Bad options exit 2 with a specific message and register nothing."""
    base = {"--name": "A", "--region": "OH", "--lat": "41", "--lon": "-81"}
    for i in range(0, len(args), 2):
        base[args[i]] = args[i + 1]
    code, _, err = run(capsys, "shelter", "add", *[x for kv in base.items() for x in kv])
    assert code == 2 and message in err
    assert count(db_env, "shelters") == 0


def test_import_reports_first_bad_line_and_imports_nothing(
    db_env: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """An import with a bad line exits 2 naming the line; no shelter is added."""
    good = {"name": "A", "region": "OH", "lat": 41.0, "lon": -81.0, "beds": {"single": 2}}
    lines = [json.dumps(good), json.dumps({**good, "beds": {"single": -2}}), json.dumps(good)]
    path = tmp_path / "shelters.jsonl"
    path.write_text("\n".join(lines))
    code, _, err = run(capsys, "shelter", "import", str(path))
    assert code == 2 and "line 2" in err and "nothing was imported" in err
    assert count(db_env, "shelters") == 0


def test_import_csv_adds_every_row(
    db_env: str, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    """A good CSV import adds every shelter and prints their ids and tokens."""
    path = tmp_path / "shelters.csv"
    path.write_text(
        'name,region,lat,lon,beds\nA,OH,41,-81,single=2\nB,OH,40,-82,"family=1,single=1"\n'
    )
    code, out, _ = run(capsys, "shelter", "import", str(path))
    assert code == 0 and isinstance(out, list)
    assert [r["id"] for r in out] == ["s00001", "s00002"]
    assert count(db_env, "beds") == 3


def test_token_create_and_revoke(db_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Tokens are created per role and region; revoking an unknown token exits 2."""
    code, out, _ = run(capsys, "token", "create", "--role", "viewer", "--region", "OH,TX")
    assert code == 0 and isinstance(out, dict)
    token = out["token"]
    code, out, _ = run(capsys, "token", "revoke", "--token", token)
    assert code == 0 and out == {"revoked": True}
    code, _, err = run(capsys, "token", "revoke", "--token", token)
    assert code == 2 and "nothing was revoked" in err


def test_token_list_shows_ids_never_secrets(
    db_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`token list` shows live tokens by id (revoked ones with --all), never the token."""
    _, created, _ = run(
        capsys, "token", "create", "--role", "planner", "--region", "OH", "--agency", "DRC"
    )
    assert isinstance(created, dict)
    code, listed, _ = run(capsys, "token", "list")
    assert code == 0 and isinstance(listed, list)
    [info] = listed
    assert (info["role"], info["regions"], info["revoked_at"]) == ("planner", ["OH"], None)
    assert created["token"] not in json.dumps(listed)
    assert run(capsys, "token", "revoke", "--id", str(info["id"]))[0] == 0
    assert run(capsys, "token", "list")[1] == []
    _, everything, _ = run(capsys, "token", "list", "--all")
    assert isinstance(everything, list) and everything[0]["revoked_at"] is not None


def test_a_planner_token_needs_its_agency(db_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Placements: a planner belongs to one agency; other roles have none."""
    code, _, err = run(capsys, "token", "create", "--role", "planner", "--region", "OH")
    assert code == 2 and "--agency" in err
    code, _, err = run(capsys, "token", "create", "--role", "viewer", "--agency", "DRC")
    assert code == 2 and "planner tokens" in err
    code, _, err = run(capsys, "token", "create", "--role", "planner", "--agency", "no spaces")
    assert code == 2 and "--agency" in err
