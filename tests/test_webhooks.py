"""Per-agency webhooks against a real HTTP receiver: each agency gets its own alerts only,
signed so the receiver can verify them, with ids and reasons and nothing else; a failing
receiver is retried with backoff, then given up; a stuck one never holds up the exchange."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from typing import Any

import asyncpg
import httpx
import msgspec
import pytest
from test_cli import run
from test_placements import TOKEN_A, planner, request
from test_placements_pickup import arrange, principal
from webhook_receiver import Receiver, receiving

from exchange.placements import alerts, requests
from exchange.settings import Settings
from exchange.webhooks import registry
from exchange.webhooks.delivery import Sender, backoff, sign, verify

POLICY = requests.policy(Settings())


def soon(days: int = 3) -> str:
    return (dt.date.today() + dt.timedelta(days=days)).isoformat()


async def deliveries(conn: asyncpg.Connection[Any]) -> list[dict[str, Any]]:
    rows = await conn.fetch(
        "select id, agency, attempts, next_at - now() as wait, delivered_at, failed_at,"
        " last_error from webhook_deliveries order by id"
    )
    return [dict(r) for r in rows]


async def test_each_agency_gets_its_own_alerts_signed_with_ids_and_reasons_only(
    conn: asyncpg.Connection[Any], pool: asyncpg.Pool[Any]
) -> None:
    """DRC's request 3 days from release without a bed raises `no_bed`; ELSE's accepted
    one raises nothing. DRC's receiver gets one POST whose signature verifies, naming the
    request and its reasons and no ref or contact token; ELSE's receiver gets nothing."""
    drc, other = await planner(conn), await planner(conn, agency="ELSE")
    rid = await request(conn, drc, "A-REF-1", release_date=soon(), contacts=[TOKEN_A])
    theirs = await request(conn, other, "B-REF-1", agency="ELSE", release_date=soon(30))
    async with receiving(Receiver()) as mine, receiving(Receiver()) as elsewhere:
        hook = await registry.register(conn, "DRC", mine.url)
        await registry.register(conn, "ELSE", elsewhere.url)
        changed = await alerts.sweep(pool, POLICY)
        assert [t.request for t in changed or []] == [rid]
        async with httpx.AsyncClient(timeout=5) as client:
            sender = Sender(pool, timeout_s=5, attempts=3, client=client)
            assert await sender.send_due() == 1
        [got] = mine.got
        assert elsewhere.got == []
        stamp = int(got.headers["x-haven-timestamp"])
        assert abs(stamp - time.time()) < 60
        assert verify(hook.secret, stamp, got.body, got.headers["x-haven-signature"])
        assert not verify(hook.secret, stamp + 1, got.body, got.headers["x-haven-signature"])
        body = json.loads(got.body)
        assert body["agency"] == "DRC"
        assert body["alerts"] == [
            {"request": rid, "at_risk": ["no_bed"], "raised": ["no_bed"], "cleared": []}
        ]
        for secret in ("A-REF-1", TOKEN_A, "B-REF-1", theirs):
            assert secret not in got.body.decode()
    [done] = await deliveries(conn)
    assert done["delivered_at"] is not None and done["attempts"] == 1


async def test_a_failing_receiver_is_retried_with_backoff_then_given_up(
    conn: asyncpg.Connection[Any], pool: asyncpg.Pool[Any]
) -> None:
    """A 500 schedules the next attempt 5 s later, then 10 s; after the last attempt the
    delivery is given up, with the error kept (never the body)."""
    drc = await planner(conn)
    await request(conn, drc, "A-1", release_date=soon())
    async with receiving(Receiver(status=500)) as failing:
        await registry.register(conn, "DRC", failing.url)
        await alerts.sweep(pool, POLICY)
        async with httpx.AsyncClient(timeout=5) as client:
            sender = Sender(pool, timeout_s=5, attempts=3, client=client)
            waits = []
            for _ in range(3):
                await conn.execute("update webhook_deliveries set next_at = now()")
                assert await sender.send_due() == 1
                waits.append((await deliveries(conn))[0])
    assert [w["attempts"] for w in waits] == [1, 2, 3]
    assert 4 < waits[0]["wait"].total_seconds() <= 5
    assert 9 < waits[1]["wait"].total_seconds() <= 10
    assert waits[2]["failed_at"] is not None and waits[2]["last_error"] == "http 500"
    assert len(failing.got) == 3
    assert [backoff(n) for n in (1, 2, 3, 20)] == [5.0, 10.0, 20.0, 3600.0]


async def test_a_stuck_receiver_never_holds_up_the_exchange(
    conn: asyncpg.Connection[Any], pool: asyncpg.Pool[Any]
) -> None:
    """While the sender waits on a receiver that never answers, sweeps, pickups and the
    readiness board go on at their usual pace; the delivery times out and is retried."""
    drc = await planner(conn)
    rid = await request(conn, drc, "A-1", release_date=soon())
    async with receiving(Receiver(hang=True)) as stuck:
        await registry.register(conn, "DRC", stuck.url)
        async with Sender(pool, timeout_s=0.5, attempts=5, poll_s=0.05).running():
            await alerts.sweep(pool, POLICY)
            await asyncio.wait_for(stuck.arrived.wait(), 5)
            started = time.perf_counter()
            await arrange(conn, principal(drc), rid, who="other")
            assert await alerts.sweep(pool, POLICY)
            async with conn.transaction():
                await requests.readiness_board(
                    conn, principal(drc), now=dt.datetime.now(dt.UTC), days=14, policy=POLICY
                )
            assert time.perf_counter() - started < 1.0
            for _ in range(100):
                first = (await deliveries(conn))[0]
                if first["last_error"]:
                    break
                await asyncio.sleep(0.05)
    assert first["last_error"] == "ReadTimeout" and first["delivered_at"] is None


def test_the_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    """Documented so a receiver can be written from the README alone."""
    assert sign("k" * 32, 1796990400, b"{}") == (
        "sha256=" + __import__("hmac").new(b"k" * 32, b"1796990400.{}", "sha256").hexdigest()
    )


def test_agency_webhook_command_prints_the_secret_once(
    dsn: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`haven agency webhook` prints agency, url and secret; `webhooks` lists them without
    secrets; `--remove` removes; a bad URL is refused with exit 2."""
    monkeypatch.setenv("DATABASE_URL", dsn)
    code, made, _ = run(
        capsys, "agency", "webhook", "--agency", "DRC", "--url", "https://drc.example/h"
    )
    assert code == 0 and isinstance(made, dict) and len(made["secret"]) >= 32
    code, listed, _ = run(capsys, "agency", "webhooks")
    assert code == 0 and isinstance(listed, list) and listed[0]["agency"] == "DRC"
    assert made["secret"] not in json.dumps(listed)
    code, _, err = run(capsys, "agency", "webhook", "--agency", "DRC", "--url", "ftp://x")
    assert code == 2 and "http(s)" in err
    code, gone, _ = run(capsys, "agency", "webhook", "--agency", "DRC", "--remove")
    assert code == 0 and gone == {"agency": "DRC", "removed": True}
    code, _, err = run(capsys, "agency", "webhook", "--agency", "DRC", "--remove")
    assert code == 2 and "no webhook" in err
    assert msgspec.json.decode(msgspec.json.encode(made))["url"] == "https://drc.example/h"
