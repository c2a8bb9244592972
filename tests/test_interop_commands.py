"""`haven shelter import --format hsds|hud` and `haven export hsds|hic` against a real
database: all-or-nothing imports, round trips, and nothing confidential published."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from exchange import cli
from exchange.beds import registry
from exchange.interop import store
from schema.registry import NewShelter, Rules

HERE = Path(__file__).parent / "interop"


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, (json.loads(out) if out.strip() else None), err


@pytest.fixture
def db_env(dsn: str, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("DATABASE_URL", dsn)
    return dsn


def query(dsn: str, fn: Any) -> Any:
    async def go() -> Any:
        conn = await asyncpg.connect(dsn)
        try:
            return await fn(conn)
        finally:
            await conn.close()

    return asyncio.run(go())


def shelter_count(dsn: str) -> int:
    return int(query(dsn, lambda c: c.fetchval("select count(*) from shelters")))


def test_hsds_import_registers_shelters_with_tokens_and_a_summary(
    db_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The HSDS fixture becomes two shelters with tokens; skips and defaults are reported."""
    code, out, err = run(capsys, "shelter", "import", "--format", "hsds", str(HERE / "hsds"))
    assert code == 0, err
    assert [s["id"] for s in out["imported"]] == ["s00001", "s00002"]
    assert all(s["token"].startswith("hvn_") for s in out["imported"])
    assert out["imported"][1]["from"] == "service svc-2 at location loc-2"
    assert {s["record"] for s in out["skipped"]} == {"service svc-4", "service svc-5", "1 services"}
    assert out["defaults"]["languages: en (none listed)"] == 1
    assert shelter_count(db_env) == 2


def test_dry_run_writes_nothing(db_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--dry-run prints what would be imported, without ids or tokens."""
    code, out, _ = run(
        capsys, "shelter", "import", "--format", "hsds", "--dry-run", str(HERE / "hsds")
    )
    assert code == 0 and len(out["would_import"]) == 2 and "token" not in out["would_import"][0]
    assert shelter_count(db_env) == 0


def test_a_bad_record_imports_nothing(
    db_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """One bad capacity row: exit 2, the row named, no shelter registered."""
    bad = tmp_path / "hsds"
    bad.mkdir()
    for f in (HERE / "hsds").iterdir():
        text = f.read_text()
        if f.name == "service_capacity.csv":
            text = text.replace("cap-5,svc-5,unit-bed,8,8", "cap-5,svc-5,unit-bed,8,eight")
        (bad / f.name).write_text(text)
    code, out, err = run(capsys, "shelter", "import", "--format", "hsds", str(bad))
    assert code == 2 and out is None
    assert "service_capacity.csv line 7: maximum 'eight' is not a number" in err
    assert "nothing was imported" in err
    assert shelter_count(db_env) == 0


def test_hud_import_registers_es_and_th_projects(
    db_env: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """The HMIS fixture imports on its day, with the real ZIP data placing the shelters."""
    code, out, err = run(
        capsys, "shelter", "import", "--format", "hud", "--date", "2026-01-28", str(HERE / "hud")
    )
    assert code == 0, err
    assert [s["beds"] for s in out["imported"]] == [
        {"single": 25, "family": 4},
        {"single": 8},
        {"single": 10, "family": 3},
    ]
    listed = query(db_env, lambda c: store.registry(c, confidential=True))
    [(_, vsp)] = [(i, s) for i, s in listed.shelters if s.confidential]
    assert vsp.name.startswith("Safe Harbor") and vsp.address is None
    assert 41.0 < vsp.lat < 41.2 and vsp.region == "OH"


def test_a_bad_date_is_a_usage_error(db_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    """--date must be a date; the message says what one looks like."""
    code, _, err = run(
        capsys, "shelter", "import", "--format", "hud", "--date", "28/1/2026", str(HERE / "hud")
    )
    assert code == 2 and "--date '28/1/2026' is not a date like 2026-01-28" in err


PUBLIC = [
    NewShelter(
        name="Harbor House",
        region="OH",
        lat=41.08,
        lon=-81.52,
        beds={"single": 12, "family": 3},
        rules=Rules(
            max_children=2,
            mat_ok=True,
            min_age=21,
            max_age=64,
            excluded_offenses=["arson"],
            languages=["en", "es"],
        ),
        services=["sud", "trafficking"],
        address="12 Elm St, Akron, OH 44308",
        intake_phone="+1 330 555 0100",
    ),
    NewShelter(
        name="Rosa",
        region="TX-N",
        lat=32.7,
        lon=-97.1,
        beds={"single": 4},
        address="Rear entrance by the chapel",
    ),
]
SECRET = NewShelter(
    name="Quiet Harbor",
    region="OH",
    lat=41.1,
    lon=-81.6,
    beds={"single": 6},
    confidential=True,
    address="99 Hidden Lane, Akron, OH 44310",
    intake_phone="+1 330 555 0999",
)


def test_hsds_round_trip_keeps_every_public_shelter_and_no_secret_one(
    db_env: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Export HSDS, import it again: the same registry for the non-confidential shelters,
    and the confidential one appears nowhere in the files."""
    query(db_env, lambda c: registry.add_shelters(c, [PUBLIC[0], SECRET, PUBLIC[1]]))
    out_dir = tmp_path / "211"
    code, out, err = run(capsys, "export", "hsds", str(out_dir))
    assert code == 0 and out["shelters"] == 2, err
    everything = "".join(p.read_text() for p in out_dir.iterdir())
    for secret in ("Quiet Harbor", "Hidden Lane", "555 0999", "41.1,", "44310"):
        assert secret not in everything
    assert json.loads((out_dir / "datapackage.json").read_text())["hsds_version"] == "3.1"

    code, out, err = run(capsys, "shelter", "import", "--format", "hsds", str(out_dir))
    assert code == 0, err
    assert [s["id"] for s in out["imported"]] == ["s00004", "s00005"]
    assert out["skipped"] == []
    again = query(db_env, lambda c: store.registry(c, confidential=True))
    by_id = dict(again.shelters)
    assert [by_id["s00004"], by_id["s00005"]] == [by_id["s00001"], by_id["s00003"]]
