"""Retention on a real database: a request planted with everything a request can hold,
placed, picked up, arrived, alerted and webhooked, then aged past her stay, leaves
nothing of itself in any table but the audit chain — which still verifies — while the
regions' daily figures and the other women's runs stay."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import asyncpg
import msgspec
import pytest
from test_placements import SETTINGS, live_offer, planner, shelters
from test_placements_pickup import arrange, principal

from exchange import cli
from exchange.audit import store as audit
from exchange.placements import offers, purge, requests, retention, runs, schedule
from exchange.settings import Settings
from exchange.webhooks import registry
from schema import problem as p
from schema.placements import NewRequest

REF = "ZZREF-Purge-0001"
TOKEN = "ZZcontactPurgeToken01"
OTHER_TOKEN = "ZZcontactOtherToken02"
HOME = 39.123456


@pytest.fixture
def solver() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(1) as executor:
        yield executor


async def create(conn: asyncpg.Connection[Any], token_id: int, **kw: Any) -> str:
    body = {
        "region": "OH",
        "release_date": (dt.date.today() + dt.timedelta(days=5)).isoformat(),
        "origin": {"lat": 40.0, "lon": -83.0},
        "bed_type": "single",
        "age": 30,
        "max_km": 100,
        **kw,
    }
    async with conn.transaction():
        return await requests.create(
            conn, principal(token_id), msgspec.convert(body, NewRequest), today=dt.date.today()
        )


async def tables_naming(conn: asyncpg.Connection[Any], needle: str) -> dict[str, int]:
    """Every table of the database with a row whose text contains `needle`."""
    names = [
        r["table_name"]
        for r in await conn.fetch(
            "select table_name from information_schema.tables"
            " where table_schema = 'public' and table_type = 'BASE TABLE' order by 1"
        )
    ]
    found = {}
    for name in names:
        n = await conn.fetchval(
            f'select count(*) from "{name}" t where t::text like $1', f"%{needle}%"
        )
        if n:
            found[name] = n
    return found


async def test_a_purged_request_leaves_nothing_but_the_audit_chain(
    conn: asyncpg.Connection[Any], pool: asyncpg.Pool[Any], solver: ThreadPoolExecutor
) -> None:
    """Plant her (ref, home, contacts with a location), a co-defendant kept apart from
    her, and a later woman; place, accept, pick up, alert, webhook, arrive, match again
    (she is a resident then), record the day; age her; purge. No table but the audit log
    names her id, and none at all her ref, contact token or home; the chain verifies;
    the others' runs still decode with them in; the day's figures remain."""
    await shelters(conn, 3)
    drc = await planner(conn)
    await registry.register(conn, "DRC", "http://127.0.0.1:9/never")
    her = await create(
        conn,
        drc,
        ref=REF,
        home={"lat": HOME, "lon": -82.5},
        contacts=[TOKEN],
        contact_locations=[{"contact": TOKEN, "lat": 45.0, "lon": -90.0}],
    )
    other = await create(conn, drc, ref="ZZ-other", exclude_with=[her], contacts=[OTHER_TOKEN])
    await runs.run(pool, SETTINGS, solver, ["OH"], token_id=None)
    offer_id, shelter_id = await live_offer(conn, her)
    await offers.act(conn, offer_id, "accept", token_id=None, shelter_id=shelter_id)
    await arrange(conn, principal(drc), her, who="verified_family")
    assert await schedule.release_sweep(pool, SETTINGS)  # alerts (pickup_flagged), the day
    assert await conn.fetchval("select count(*) from webhook_deliveries") == 1
    await offers.act(conn, offer_id, "arrived", token_id=None, shelter_id=shelter_id)
    later = await create(conn, drc, ref="ZZ-later")
    await runs.run(pool, SETTINGS, solver, ["OH"], token_id=None)
    assert await schedule.release_sweep(pool, SETTINGS)
    for needle in (her, REF, TOKEN):
        assert "matching_runs" in await tables_naming(conn, needle) or needle == REF
    await conn.execute(
        "update requests set updated_at = now() - interval '731 days' where id = $1", her
    )

    dry = await purge.purge(pool, days=30, stay_days=730, dry_run=True)
    assert dry is not None and dry.requests == [her] and dry.dry_run
    assert (dry.offers, dry.pickups, dry.runs, dry.unlinked) == (1, 1, 2, [other])
    assert await conn.fetchval("select count(*) from requests where id = $1", her) == 1

    done = await purge.purge(pool, days=30, stay_days=730)
    assert done is not None and done.requests == [her] and done.unlinked == [other]
    assert await tables_naming(conn, her) == {
        "audit_log": await conn.fetchval(
            "select count(*) from audit_log t where t::text like $1", f"%{her}%"
        )
    }
    for secret in (REF, TOKEN, str(HOME)):
        assert await tables_naming(conn, secret) == {}, secret
    assert (await audit.verify(conn)).ok
    kinds = await conn.fetch(
        "select kind, detail from audit_log where subject = $1 order by id desc limit 1",
        f"request:{her}",
    )
    assert [tuple(k) for k in kinds] == [("request.purged", "agency=DRC")]
    for run_id in (1, 2):
        problem = msgspec.json.decode(
            (await conn.fetchval("select problem::text from matching_runs where id = $1", run_id)),
            type=p.Problem,
        )
        present = {r.id for r in problem.requests} | {w.id for w in problem.residents}
        assert her not in present and (other in present or later in present)
    assert await conn.fetchval("select exclude_with from requests where id = $1", other) == []
    assert await conn.fetchval("select count(*) from region_days") == 1
    assert (await purge.purge(pool, days=30, stay_days=730)) == purge.Purged(
        requests=[], offers=0, pickups=0, alerts=0, runs=0, unlinked=[], dry_run=False
    )


async def test_only_requests_ended_long_enough_ago_are_purged(
    conn: asyncpg.Connection[Any], pool: asyncpg.Pool[Any]
) -> None:
    """Withdrawn 29 days ago: kept; 30: purged; open for a year: never."""
    drc = await planner(conn)
    young, old_, live = [await create(conn, drc, ref=f"R-{i}") for i in range(3)]
    for rid in (young, old_):
        await offers.withdraw(conn, rid, agency="DRC", token_id=drc)
    await conn.execute(
        "update requests set updated_at = now() - make_interval(days => $2) where id = $1",
        young,
        29,
    )
    await conn.execute(
        "update requests set updated_at = now() - make_interval(days => $2) where id = $1",
        old_,
        30,
    )
    await conn.execute("update requests set created_at = now() - interval '1 year'")
    done = await purge.purge(pool, days=30, stay_days=730)
    assert done is not None and done.requests == [old_]
    left = {r["id"] for r in await conn.fetch("select id from requests")}
    assert left == {young, live}


def test_scrub_keeps_what_others_need_and_drops_what_only_she_had() -> None:
    """Her request, her residence, her id in others' exclude_with, her contact locations,
    her assignment: gone. A token another woman shares stays."""
    problem = {
        "version": 1,
        "requests": [
            {"id": "r1", "contacts": ["a", "shared"], "exclude_with": []},
            {"id": "r2", "contacts": ["shared"], "exclude_with": ["r1"]},
        ],
        "residents": [{"id": "r3", "shelter": "s1", "contacts": ["c"], "exclude_with": ["r1"]}],
        "contacts": [{"id": "a", "lat": 1}, {"id": "shared"}, {"id": "c"}],
        "shelters": [{"id": "s1", "flagged_contacts": ["a", "c"]}],
    }
    plan = {"assignments": [{"request": "r1"}, {"request": "r2"}], "unplaced": []}
    got = retention.scrub_run(problem, plan, ["r1"])
    assert got is not None
    scrubbed, kept = got
    assert scrubbed["requests"] == [{"id": "r2", "contacts": ["shared"], "exclude_with": []}]
    assert scrubbed["residents"][0]["exclude_with"] == []
    assert scrubbed["contacts"] == [{"id": "shared"}, {"id": "c"}]
    assert scrubbed["shelters"][0]["flagged_contacts"] == ["c"]
    assert kept == {"assignments": [{"request": "r2"}], "unplaced": []}
    assert retention.scrub_run(problem, plan, ["r9"]) is None


def test_haven_purge_dry_run_prints_ids_and_counts(
    dsn: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`haven purge --dry-run` on an empty exchange prints an empty purge and changes
    nothing; HAVEN_RETENTION_DAYS is read from the environment."""
    monkeypatch.setenv("DATABASE_URL", dsn)
    monkeypatch.setenv("HAVEN_RETENTION_DAYS", "7")
    assert cli.main(["purge", "--dry-run"]) == 0
    out = msgspec.json.decode(capsys.readouterr().out)
    assert out == {
        "requests": [],
        "offers": 0,
        "pickups": 0,
        "alerts": 0,
        "runs": 0,
        "unlinked": [],
        "dry_run": True,
    }
    assert Settings().retention_days == 30


GROOMER = "ZZcontactGroomer0003"


async def test_she_stays_a_resident_while_she_may_live_there_and_runs_still_check(
    conn: asyncpg.Connection[Any],
    pool: asyncpg.Pool[Any],
    solver: ThreadPoolExecutor,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """She arrives at the only shelter; a woman groomed by the same contact, and one kept
    apart from her, are never offered that shelter — not after retention (31 days: her
    request is kept), only once her stay is over (731 days: purged). Then every stored run
    still passes `haven match --check`: the one that placed her is `feasible` without her,
    the ones where she was a resident keep a nameless `purged-1` in her place."""
    [shelter] = await shelters(conn, 1, beds=4)
    drc = await planner(conn)
    her = await create(conn, drc, ref="ZZ-her", contacts=[GROOMER])
    await create(conn, drc, ref="ZZ-b")
    await runs.run(pool, SETTINGS, solver, ["OH"], token_id=None)  # run 1: she is placed
    offer_id, _ = await live_offer(conn, her)
    await offers.act(conn, offer_id, "accept", token_id=None, shelter_id=shelter)
    await offers.act(conn, offer_id, "arrived", token_id=None, shelter_id=shelter)
    groomed = await create(conn, drc, ref="ZZ-groomed", contacts=[GROOMER])
    apart = await create(conn, drc, ref="ZZ-apart", exclude_with=[her])

    async def unplaced_after_a_run() -> dict[str, str]:
        result = await runs.run(pool, SETTINGS, solver, ["OH"], token_id=None)
        plan = msgspec.json.decode(
            await conn.fetchval("select plan::text from matching_runs where id = $1", result.id)
        )
        return {u["request"]: u["reason"] for u in plan["unplaced"]}

    kept_apart = {groomed: "safety_exclusion", apart: "safety_exclusion"}
    assert await unplaced_after_a_run() == kept_apart  # run 2
    await conn.execute(
        "update requests set updated_at = now() - interval '31 days' where id = $1", her
    )
    done = await purge.purge(pool, days=30, stay_days=730)
    assert done is not None and done.requests == []
    assert await unplaced_after_a_run() == kept_apart  # run 3: still her shelter's resident
    await conn.execute(
        "update requests set updated_at = now() - interval '731 days' where id = $1", her
    )
    done = await purge.purge(pool, days=30, stay_days=730)
    assert done is not None and done.requests == [her] and done.runs == 3

    for run_id in (1, 2, 3):
        row = await conn.fetchrow(
            "select problem::text as problem, plan::text as plan from matching_runs where id = $1",
            run_id,
        )
        assert her not in row["problem"] + row["plan"]
        (tmp_path / f"{run_id}-problem.json").write_text(row["problem"])
        (tmp_path / f"{run_id}-plan.json").write_text(row["plan"])
        capsys.readouterr()
        checked = cli.main(
            [
                "match",
                "--check",
                str(tmp_path / f"{run_id}-problem.json"),
                str(tmp_path / f"{run_id}-plan.json"),
            ]
        )
        assert (checked, msgspec.json.decode(capsys.readouterr().out)) == (
            0,
            {"ok": True, "errors": []},
        ), run_id
        problem = msgspec.json.decode(row["problem"], type=p.Problem)
        plan = msgspec.json.decode(row["plan"])
        if run_id == 1:
            assert plan["status"] == "feasible" and len(plan["assignments"]) == 1
        else:
            assert [
                (w.id, w.shelter, w.contacts)
                for w in problem.residents
                if w.id.startswith("purged-")
            ] == [("purged-1", shelter, [GROOMER])]
            assert {r.id: r.exclude_with for r in problem.requests}[apart] == ["purged-1"]
            assert {u["request"]: u["reason"] for u in plan["unplaced"]} == kept_apart


def test_scrub_keeps_a_purged_resident_nameless_with_what_the_rules_read() -> None:
    """A purged resident becomes `purged-N` with only the tokens a request left shares and
    her relations with them; one sharing nothing goes; a later purge trims `purged-N`
    again (and drops her once nothing of her matters)."""
    problem = {
        "version": 1,
        "requests": [
            {"id": "r2", "weight": 2, "contacts": ["shared"], "exclude_with": []},
            {"id": "r4", "weight": 1, "contacts": [], "exclude_with": ["r1"]},
        ],
        "residents": [
            {"id": "r1", "shelter": "s1", "contacts": ["shared", "hers"], "exclude_with": []},
            {"id": "r3", "shelter": "s1", "contacts": ["own"], "exclude_with": []},
        ],
        "contacts": [{"id": "hers", "lat": 1.0, "lon": 2.0}, {"id": "shared"}],
        "shelters": [{"id": "s1", "flagged_contacts": ["hers"]}],
    }
    plan = {
        "status": "optimal",
        "objective": {"placed_weight": 3, "total_km": 30},
        "bound": {"placed_weight": 3, "total_km": 30},
        "assignments": [{"request": "r2", "km": 10}, {"request": "r4", "km": 20}],
        "unplaced": [],
    }
    got = retention.scrub_run(problem, plan, ["r1", "r3"])
    assert got is not None
    scrubbed, kept = got
    assert scrubbed["residents"] == [
        {"id": "purged-1", "shelter": "s1", "contacts": ["shared"], "exclude_with": []}
    ]
    assert scrubbed["requests"][1]["exclude_with"] == ["purged-1"]
    assert scrubbed["contacts"] == [{"id": "shared"}]
    assert scrubbed["shelters"][0]["flagged_contacts"] == []
    assert kept == plan  # no placed woman was purged: still optimal
    again = retention.scrub_run(scrubbed, kept, ["r2"])
    assert again is not None
    assert again[0]["residents"][0]["contacts"] == []  # r4's relation keeps her
    assert again[1]["status"] == "feasible"
    assert again[1]["objective"] == {"placed_weight": 1, "total_km": 20}
    assert again[1]["bound"] == {"placed_weight": 3}
    last = retention.scrub_run(again[0], again[1], ["r4"])
    assert last is not None and last[0]["residents"] == [] and last[0]["requests"] == []
