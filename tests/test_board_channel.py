"""The dashboard channel: the hub's coalescing, interval and slow-consumer rules and its
degraded status, and /ws/dashboard and /api/regions end to end on a real server (auth,
Origin, resume, suppression, a stalled client, a database that stops answering)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import socket
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from dashboards import ADMIN, FakeTime, Scene, dashboard_token, drain
from test_faults import PrivatePostgres
from timing import within
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from exchange import db
from exchange.access import tokens as auth
from exchange.access.origin import origin_allowed
from exchange.beds import registry
from exchange.beds import store as events
from exchange.beds.model import BedState, NewEvent
from exchange.board import board as live
from exchange.board import fanout
from exchange.board import hub as dashboard
from schema.registry import NewShelter, Principal

PLANNER = Principal(token_id=1, role="planner")
VIEWER = Principal(token_id=2, role="viewer")


# -- helpers ------------------------------------------------------------------------------


async def seed(
    conn: asyncpg.Connection[Any],
    layout: dict[str, int],
    *,
    beds: dict[str, int] | None = None,
    confidential: int = 0,
) -> dict[str, list[tuple[str, str]]]:
    """Shelters per region ({"OH": 3}); the first `confidential` of each region are confidential."""
    out: dict[str, list[tuple[str, str]]] = {}
    for region, n in layout.items():
        shelters = [
            NewShelter(
                name=f"Shelter {region} {i}",
                region=region,
                lat=40.0,
                lon=-83.0,
                beds=beds or {"single": 10, "family": 2},
                confidential=i < confidential,
            )
            for i in range(n)
        ]
        out[region] = await registry.add_shelters(conn, shelters)
    return out


async def report(
    conn: asyncpg.Connection[Any],
    shelter_id: str,
    beds: dict[str, tuple[int, int, int]],
    *,
    notify: bool = True,
) -> int:
    """Change beds the way the ingest writer does: beds + event in one transaction, NOTIFY after."""
    async with conn.transaction():
        for bed_type, (total, occupied, oos) in beds.items():
            await conn.execute(
                "insert into beds (shelter_id, bed_type, total, occupied, out_of_service,"
                " reported) values ($1, $2, $3, $4, $5, true)"
                " on conflict (shelter_id, bed_type) do update"
                " set total = $3, occupied = $4, out_of_service = $5, reported = true",
                shelter_id,
                bed_type,
                total,
                occupied,
                oos,
            )
        report_seq = await conn.fetchval(
            "update shelters set last_seq = last_seq + 1, last_report_at = now()"
            " where id = $1 returning last_seq",
            shelter_id,
        )
        state = {
            t: BedState(total=a, occupied=b, out_of_service=c) for t, (a, b, c) in beds.items()
        }
        seqs = await events.append(
            conn,
            events.Outbox(),
            [NewEvent(shelter_id=shelter_id, kind="report", beds=state, report_seq=report_seq)],
        )
    if notify:
        await conn.execute("select pg_notify($1, $2)", events.CHANNEL, str(seqs[-1]))
    return seqs[-1]


async def recv(ws: ClientConnection, timeout: float = 3.0) -> dict[str, Any]:
    return dict(json.loads(await asyncio.wait_for(ws.recv(), timeout)))


class Picture:
    """What a dashboard client holds after applying every message it received."""

    def __init__(self) -> None:
        self.seq = 0
        self.regions: dict[str, dict[str, Any]] = {}
        self.kinds: list[str] = []

    def apply(self, message: dict[str, Any]) -> None:
        self.kinds.append(message["type"])
        if message["type"] == "snapshot":
            self.regions = {r["region"]: r for r in message["regions"]}
        else:
            self.regions[message["region"]["region"]] = message["region"]
        self.seq = message["seq"]

    async def settle(self, ws: ClientConnection, quiet: float = 0.5) -> None:
        """Apply messages until none arrives for `quiet` seconds."""
        while True:
            try:
                self.apply(await recv(ws, quiet))
            except TimeoutError:
                return

    async def until(
        self, ws: ClientConnection, done: Callable[[Picture], bool], timeout: float = 3.0
    ) -> None:
        deadline = time.monotonic() + timeout
        while not done(self):
            self.apply(await recv(ws, max(0.01, deadline - time.monotonic())))


def available(p: Picture, region: str, bed_type: str = "single") -> int | None:
    beds = p.regions.get(region, {}).get("beds") or {}
    return None if bed_type not in beds else int(beds[bed_type]["available"])


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# -- the hub, without sockets --------------------------------------------------------------


def make_hub(
    coalesce_s: float = 0.0, limit: int = 8
) -> tuple[dashboard.Hub, live.Board, list[int]]:
    b = live.Board(stale_after=timedelta(hours=8), min_shelters=1)
    seq = [0]
    return dashboard.Hub(b, coalesce_s=coalesce_s, queue_limit=limit), b, seq


def feed(b: live.Board, seq: list[int], shelter: str, region: str, available_: int) -> set[str]:
    from datetime import UTC, datetime

    seq[0] += 1
    return b.apply(
        events.Event(
            seq=seq[0],
            at=datetime.now(UTC),
            shelter_id=shelter,
            region=region,
            confidential=False,
            kind="report",
            beds={"single": BedState(total=10, occupied=10 - available_, out_of_service=0)},
            report_seq=seq[0],
        )
    )


async def test_subscribe_sends_a_snapshot_then_updates() -> None:
    """A new subscriber gets a snapshot; a change reaches it as an update with the board seq."""
    hub, b, seq = make_hub()
    hub.changed(feed(b, seq, "s00001", "OH", 3))
    sub = hub.subscribe(PLANNER, None)
    hub.changed(feed(b, seq, "s00002", "PA", 5))
    first, second = drain(sub)
    assert first["type"] == "snapshot" and first["seq"] == 1
    assert second == {"type": "update", "seq": 2, "region": second["region"]}
    assert (
        second["region"]["region"] == "PA" and second["region"]["beds"]["single"]["available"] == 5
    )


def test_updates_to_a_region_are_coalesced_latest_wins() -> None:
    """Within the coalescing window a region is sent once, with its latest state."""
    t = FakeTime()
    b = live.Board(stale_after=timedelta(hours=8), min_shelters=1)
    seq = [0]
    hub = dashboard.Hub(b, coalesce_s=0.2, queue_limit=8, clock=t.clock, call_later=t.call_later)
    hub.changed(feed(b, seq, "s00001", "OH", 1))
    sub = hub.subscribe(PLANNER, None)
    drain(sub)
    t.advance(0.25)
    hub.changed(feed(b, seq, "s00001", "OH", 2))  # first change after quiet: sent at once
    for n in (3, 4, 5):
        hub.changed(feed(b, seq, "s00001", "OH", n))
    assert [m["region"]["beds"]["single"]["available"] for m in drain(sub)] == [2]
    t.advance(0.1)
    assert drain(sub) == []  # still inside the window
    t.advance(0.15)
    late = drain(sub)
    assert [(m["seq"], m["region"]["beds"]["single"]["available"]) for m in late] == [(5, 5)]


def test_throttled_regions_are_published_on_a_wall_clock_grid() -> None:
    """A region with a contributing confidential shelter is published on the ticks of a grid
    of the interval (here the wall clock reads like the hub's: ticks at multiples of 60 s),
    at least one interval after its last publication, with the latest state; a live region
    in the same hub is sent at once."""
    s = Scene(min_shelters=1, interval_s=60.0, wall=lambda: 100.0)
    planner, admin = s.watch(PLANNER), s.watch(ADMIN)
    s.report("s2", "PA", available=5)
    s.report("s1", "OH", available=5, confidential=True)  # t=100: held for 180 (>= 100+60)
    s.advance(0.2)
    assert [(t, r["region"]) for t, r in planner.updates()] == [(100.0, "PA")]
    assert {r["region"] for _, r in admin.updates()} == {"OH", "PA"}
    s.advance(179.9 - s.time.now)
    assert len(planner.updates("OH")) == 0
    s.report("s1", "OH", available=3, confidential=True)
    s.advance(0.2)
    ((t, oh),) = planner.updates("OH")
    assert t == 180.0 and oh["beds"]["single"]["available"] == 3
    s.report("s1", "OH", available=1, confidential=True)  # t=180.1: not before 240
    s.advance(59.8)
    assert len(planner.updates("OH")) == 1
    s.advance(0.2)
    assert [t for t, _ in planner.updates("OH")] == [180.0, 240.0]
    s.advance(130)  # nothing new: nothing sent
    assert len(planner.updates("OH")) == 2 and s.hub._tick is None


def test_processes_publish_on_the_same_ticks() -> None:
    """Two hubs whose monotonic clocks disagree but whose wall clocks agree publish a
    throttled region at the same wall-clock instants (resubscribing elsewhere gains nothing)."""
    seen: list[list[float]] = []
    # The wall clock reads 1100 at hub time 100 in one, 1082.7 in the other (which then
    # waits 17.3 s so that both see the same reports at the same wall-clock times).
    for offset in (1000.0, 982.7):
        s = Scene(min_shelters=1, interval_s=60.0, wall=lambda o=offset: 100 + o)
        planner = s.watch(PLANNER)
        s.advance(1000 - offset)
        for k in range(6):
            s.report("s1", "OH", available=k % 4, confidential=True)
            s.advance(41)
        wall = s.hub._wall_offset
        seen.append([round(t + wall, 6) for t, _ in planner.updates("OH")])
    assert seen[0] == seen[1] and all(t % 60 == 0 for t in seen[0])


def test_the_interval_is_a_setting() -> None:
    """HAVEN_CONFIDENTIAL_INTERVAL_S sets the interval: with 5 s, updates come every 5 s."""
    s = Scene(min_shelters=1, interval_s=5.0, wall=lambda: 100.0)
    planner = s.watch(PLANNER)
    for k in range(8):
        s.report("s1", "OH", available=k % 4, confidential=True)
        s.advance(1.5)
    times = [t for t, _ in planner.updates("OH")]
    assert times == [105.0, 110.0]


def test_degraded_is_said_to_every_subscriber_and_to_new_ones() -> None:
    """A status change reaches every subscriber once; a subscriber joining while degraded
    gets the status right after its snapshot; a resync keeps it; recovery is said too."""
    hub, b, seq = make_hub(limit=3)
    hub.changed(feed(b, seq, "s00001", "OH", 1))
    old = hub.subscribe(PLANNER, None)
    drain(old)
    hub.status(True)
    hub.status(True)
    assert drain(old) == [{"type": "status", "degraded": True}]
    new = hub.subscribe(VIEWER, None)
    assert [m["type"] for m in drain(new)] == ["snapshot", "status"]
    for n in range(2, 6):  # fill old's queue: it is resynced, and told again
        hub.changed(feed(b, seq, "s00001", "OH", n))
    assert [m["type"] for m in drain(old)] == ["snapshot", "status"]
    hub.status(False)
    assert drain(old) == [{"type": "status", "degraded": False}]
    assert [m["type"] for m in drain(hub.subscribe(PLANNER, None))] == ["snapshot"]


async def test_a_full_queue_is_resynced_then_closed_and_others_are_unaffected() -> None:
    """A subscriber whose queue is full gets one fresh snapshot instead; if it still has not
    taken that snapshot when the queue fills again it is closed with 4008; a reading
    subscriber receives every update meanwhile."""
    hub, b, seq = make_hub(limit=4)
    hub.changed(feed(b, seq, "s00001", "OH", 0))
    slow, quick = hub.subscribe(PLANNER, None), hub.subscribe(PLANNER, None)
    got: list[dict[str, Any]] = drain(quick)
    for n in range(1, 4):
        hub.changed(feed(b, seq, "s00001", "OH", n))
        got += drain(quick)
    assert len(slow) == 4 and slow.close_code is None
    hub.changed(feed(b, seq, "s00001", "OH", 4))  # full: resync
    assert hub.resyncs == 1 and len(slow) == 1 and slow.resync_pending
    assert json.loads(slow._items[0][0])["type"] == "snapshot"
    for n in range(5, 9):
        hub.changed(feed(b, seq, "s00001", "OH", n))
        got += drain(quick)
    assert slow.close_code == dashboard.WS_TOO_SLOW and hub.dropped == 1 and len(hub) == 1
    assert [m["region"]["beds"]["single"]["available"] for m in got[1:]] == list(range(1, 9))
    assert await slow.next() is None


async def test_resume_sends_only_changed_regions_and_matches_a_snapshot() -> None:
    """Resuming from a seen seq sends the regions changed at or after it (one flush shares a
    seq, so the client may have missed part of it); applying them gives the snapshot."""
    hub, b, seq = make_hub()
    for i, region in enumerate(["OH", "PA", "WV"]):
        hub.changed(feed(b, seq, f"s0000{i}", region, 1))
    client = Picture()
    for m in drain(hub.subscribe(PLANNER, None)):
        client.apply(m)
    hub.changed(feed(b, seq, "s00001", "PA", 7))
    resumed = drain(hub.subscribe(PLANNER, client.seq))
    assert [(m["type"], m["region"]["region"]) for m in resumed] == [
        ("update", "WV"),
        ("update", "PA"),
    ]
    for m in resumed:
        client.apply(m)
    fresh = Picture()
    for m in drain(hub.subscribe(PLANNER, None)):
        fresh.apply(m)
    assert client.regions == fresh.regions and client.seq == fresh.seq == 4


async def test_a_since_older_than_the_history_or_ahead_of_it_gets_a_snapshot() -> None:
    """A since before the retained history, or beyond the board, is answered with a snapshot."""
    hub, b, seq = make_hub()
    for i, region in enumerate(["OH", "PA", "WV"]):
        hub.changed(feed(b, seq, f"s0000{i}", region, 1))
    b.floor = 2
    assert [m["type"] for m in drain(hub.subscribe(PLANNER, 1))] == ["snapshot"]
    assert [m["type"] for m in drain(hub.subscribe(PLANNER, 99))] == ["snapshot"]
    assert [m["type"] for m in drain(hub.subscribe(PLANNER, 3))] == ["update"]


def test_origin_allowlist() -> None:
    """Same-origin and allowed origins pass, a missing Origin passes, anything else fails."""

    def ok(origin: str | None, allowed: tuple[str, ...] = ()) -> bool:
        headers = {"host": "127.0.0.1:8000"} | ({"origin": origin} if origin else {})
        return origin_allowed(headers, allowed)

    assert ok(None) and ok("http://127.0.0.1:8000") and ok("https://127.0.0.1:8000")
    assert ok("https://ops.example.org", ("https://ops.example.org",))
    for bad in (
        "https://evil.example",
        "null",
        "http://127.0.0.1:8001",
        "http://127.0.0.1:8000.evil.example",
    ):
        assert not ok(bad)


# -- end to end on a real server -------------------------------------------------------------


async def test_dashboard_tokens_roles_and_revocation(
    conn: asyncpg.Connection[Any], serve: Any
) -> None:
    """Viewer, planner and admin tokens get a snapshot; shelter, unknown, missing and
    revoked tokens are refused at the handshake; revoking an open dashboard closes it (4401)."""
    shelters = await seed(conn, {"OH": 3})
    server = serve()
    url = server.ws_url + "/ws/dashboard"
    for role in ("viewer", "planner", "admin"):
        _, token = await dashboard_token(conn, role)  # type: ignore[arg-type]
        async with connect(url, additional_headers=bearer(token)) as ws:
            first = await recv(ws)
            assert first["type"] == "snapshot" and [r["region"] for r in first["regions"]] == ["OH"]
    _, revoked = await auth.create_token(conn, "viewer")
    await auth.revoke_token(conn, token=revoked)
    for headers, status in (
        (bearer(shelters["OH"][0][1]), 403),
        (bearer("hvn_nope"), 401),
        ({}, 401),
        (bearer(revoked), 401),
    ):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url, additional_headers=headers):
                pass
        assert refused.value.response.status_code == status
    token_id, live_token = await dashboard_token(conn, "planner")
    async with connect(url, additional_headers=bearer(live_token)) as ws:
        await recv(ws)
        await auth.revoke_token(conn, token_id=token_id)
        with pytest.raises(ConnectionClosed) as closed:
            await recv(ws, timeout=5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    with pytest.raises(InvalidStatus):
        async with connect(url + "?since=abc", additional_headers=bearer(live_token)):
            pass


async def test_cross_site_websocket_hijacking_fails(
    conn: asyncpg.Connection[Any], serve: Any
) -> None:
    """A signed-in browser's cookie opens the dashboard from the same origin or an allowed
    one, but a cross-site page's handshake (foreign Origin) is refused."""
    await seed(conn, {"OH": 3})
    _, token = await auth.create_token(conn, "viewer")
    server = serve(env={"HAVEN_ALLOWED_ORIGINS": "https://ops.example.org"})
    async with httpx.AsyncClient(base_url=server.url) as http:
        signed = await http.post("/session", data={"token": token})
    assert signed.status_code == 303
    set_cookie = signed.headers["set-cookie"].lower()
    assert "httponly" in set_cookie and "samesite=strict" in set_cookie and "path=/" in set_cookie
    cookie = {"Cookie": f"haven_session={signed.cookies['haven_session']}"}
    url = server.ws_url + "/ws/dashboard"
    for origin in (server.url, "https://ops.example.org"):
        async with connect(url, additional_headers=cookie, origin=origin) as ws:  # type: ignore[arg-type]
            assert (await recv(ws))["type"] == "snapshot"
    for origin in ("https://evil.example", "null", f"http://localhost:{server.port}"):
        with pytest.raises(InvalidStatus) as refused:
            async with connect(url, additional_headers=cookie, origin=origin):  # type: ignore[arg-type]
                pass
        assert refused.value.response.status_code == 403
        assert b"forbidden_origin" in refused.value.response.body


async def test_resume_after_a_drop_equals_a_fresh_snapshot(
    conn: asyncpg.Connection[Any], serve: Any
) -> None:
    """A client that drops, misses updates and comes back with since ends with exactly the
    picture of a fresh snapshot; after the history is pruned, an old since gets a snapshot."""
    shelters = await seed(conn, {"OH": 3, "PA": 3, "WV": 3})
    _, token = await dashboard_token(conn, "planner")
    server = serve()
    url = server.ws_url + "/ws/dashboard"
    client = Picture()
    async with connect(url, additional_headers=bearer(token)) as ws:
        await client.until(ws, lambda p: "snapshot" in p.kinds)
        await report(conn, shelters["OH"][0][0], {"single": (10, 4, 0)})
        await client.until(ws, lambda p: available(p, "OH") == 6)
    first_seen = client.seq
    async with connect(url, additional_headers=bearer(token)) as watcher:
        watch = Picture()
        await watch.until(watcher, lambda p: "snapshot" in p.kinds)
        await report(conn, shelters["OH"][1][0], {"single": (10, 1, 0)})
        await report(conn, shelters["PA"][2][0], {"single": (10, 3, 0), "family": (2, 2, 0)})
        last = await report(conn, shelters["OH"][1][0], {"single": (10, 2, 0)})
        await watch.until(watcher, lambda p: p.seq >= last)
    client.kinds.clear()
    async with connect(f"{url}?since={client.seq}", additional_headers=bearer(token)) as ws:
        await client.settle(ws)
    assert client.seq >= last
    assert client.kinds and set(client.kinds) == {"update"}
    assert {m for m in client.regions} == {"OH", "PA", "WV"}
    async with connect(url, additional_headers=bearer(token)) as ws:
        fresh = Picture()
        fresh.apply(await recv(ws))
    assert client.regions == fresh.regions and client.seq == fresh.seq

    # Prune the history past what the client saw first; a restarted server no longer covers it.
    await conn.execute("delete from bed_events where seq <= $1", first_seen + 1)
    server.stop()
    server.start()
    async with connect(f"{url}?since={first_seen}", additional_headers=bearer(token)) as ws:
        assert (await recv(ws))["type"] == "snapshot"


async def test_suppression_and_confidentiality(conn: asyncpg.Connection[Any], serve: Any) -> None:
    """Viewers and planners get a small region with a confidential shelter suppressed without
    numbers, and no update when its shelters report; no message, API answer or page names or
    locates a single shelter, confidential or not."""
    big = await seed(conn, {"OH": 3}, confidential=1)
    small = await seed(conn, {"WV": 2}, confidential=1)
    await report(conn, small["WV"][0][0], {"single": (10, 9, 0)})
    for (sid, _), occupied in zip(big["OH"], (8, 10, 10), strict=True):
        await report(conn, sid, {"single": (10, occupied, 0)})
    _, viewer = await auth.create_token(conn, "viewer")
    _, planner = await dashboard_token(conn, "planner")
    server = serve()
    url = server.ws_url + "/ws/dashboard"
    texts: list[str] = []
    async with connect(url, additional_headers=bearer(viewer)) as ws:
        snap = await recv(ws)
        texts.append(json.dumps(snap))
        regions = {r["region"]: r for r in snap["regions"]}
        assert regions["WV"] == {
            "region": "WV",
            "shelters": 0,
            "stale": 0,
            "suppressed": True,
            "as_of": None,
        }
        assert regions["OH"]["beds"]["single"] == {"total": 30, "available": 2}
        assert regions["OH"]["as_of"].endswith(":00Z")  # to the interval: a confidential shelter
        await report(conn, small["WV"][1][0], {"single": (10, 0, 0)})
        with pytest.raises(TimeoutError):
            texts.append(json.dumps(await recv(ws, timeout=1.0)))
    async with connect(url, additional_headers=bearer(planner)) as ws:
        snap = await recv(ws)
        texts.append(json.dumps(snap))
        wv = {r["region"]: r for r in snap["regions"]}["WV"]
        assert wv == regions["WV"]
    async with httpx.AsyncClient(base_url=server.url) as http:
        for token in (viewer, planner):
            api = await http.get("/api/regions", headers=bearer(token))
            assert api.status_code == 200 and api.json()["type"] == "snapshot"
            texts.append(api.text)
            await http.post("/session", data={"token": token})
            page = await http.get("/")
            assert 'data-region="OH"' in page.text
            texts.append(page.text)
            http.cookies.clear()
        assert (await http.get("/api/regions")).status_code == 401
    names = [sid for group in (big, small) for listed in group.values() for sid, _ in listed]
    for text in texts:
        for sid in names:
            assert sid not in text
        assert "Shelter " not in text and "-83" not in text and "lat" not in text


async def test_a_stalled_client_does_not_hold_up_others(
    conn: asyncpg.Connection[Any], serve: Any
) -> None:
    """A dashboard that stops reading is resynced, then closed (4008), while a reading
    dashboard keeps receiving every change promptly."""
    bed_types = {f"type_{i:03d}": 50 for i in range(200)}  # ~10 KB per region message
    shelters = await seed(conn, {f"R{i:02d}": 1 for i in range(20)}, beds=bed_types)
    ids = [group[0][0] for group in shelters.values()]
    _, token = await dashboard_token(conn, "planner")
    server = serve(env={"HAVEN_COALESCE_MS": "0"})
    url = server.ws_url + "/ws/dashboard"

    raw = socket.socket()
    raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # stop reading: fill up fast
    raw.connect(("127.0.0.1", server.port))
    async with (
        connect(
            url,
            additional_headers=bearer(token),
            sock=raw,
            max_queue=1,
            max_size=None,
            compression=None,  # repetitive JSON deflates 50x; the backlog must be real bytes
            close_timeout=0.5,
        ) as stalled,
        connect(url, additional_headers=bearer(token), max_size=None, close_timeout=0.5) as quick,
    ):
        watch = Picture()
        await watch.until(quick, lambda p: "snapshot" in p.kinds)
        lag: list[float] = []
        for round_ in range(1, 201):
            started = time.monotonic()
            async with conn.transaction():
                await conn.execute(
                    "update beds set occupied = $2 where shelter_id = any($1::text[])",
                    ids,
                    round_ % 50,
                )
                state = {
                    t: BedState(total=50, occupied=round_ % 50, out_of_service=0) for t in bed_types
                }
                seqs = await events.append(
                    conn,
                    events.Outbox(),
                    [NewEvent(shelter_id=sid, kind="report", beds=state) for sid in ids],
                )
            await conn.execute("select pg_notify($1, $2)", events.CHANNEL, str(seqs[-1]))
            head = seqs[-1]
            await watch.until(quick, lambda p, head=head: p.seq >= head, timeout=5)
            lag.append(time.monotonic() - started)
            if "dashboard too slow" in server.log.read_text():
                break
        log = server.log.read_text()
        assert "dashboard behind, resynced" in log and "dashboard too slow, closed" in log
        assert max(lag) < within(1.0), f"the reading dashboard lagged {max(lag):.2f}s behind"
        assert available(watch, "R00", "type_000") == 50 - round_ % 50
        # Read the stalled one at last: it ends closed, never caught up by the backlog.
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        seen = Picture()
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                seen.apply(await recv(stalled, timeout=10))
        assert closed.value.rcvd is None or closed.value.rcvd.code == dashboard.WS_TOO_SLOW
        assert seen.seq < seqs[-1]


def test_restale_interval_is_a_small_fraction_of_the_stale_age() -> None:
    """Staleness is re-checked often enough to notice within a few seconds, but not constantly."""
    assert dashboard.restale_interval(8 * 3600) == 5.0
    assert dashboard.restale_interval(2) == 0.25


async def test_a_shelter_going_stale_is_pushed(conn: asyncpg.Connection[Any], serve: Any) -> None:
    """With a short stale age, a shelter whose report ages out is pushed as stale."""
    shelters = await seed(conn, {"OH": 3})
    _, token = await dashboard_token(conn, "planner")
    server = serve(env={"HAVEN_STALE_AFTER_S": "2"})
    async with connect(server.ws_url + "/ws/dashboard", additional_headers=bearer(token)) as ws:
        p = Picture()
        await p.until(ws, lambda p: "snapshot" in p.kinds)
        assert p.regions["OH"]["stale"] == 3  # never reported
        await report(conn, shelters["OH"][0][0], {"single": (10, 0, 0)})
        await p.until(ws, lambda p: p.regions["OH"]["stale"] == 2)
        assert available(p, "OH") == 10
        await p.until(ws, lambda p: p.regions["OH"]["stale"] == 3, timeout=5)
        assert p.regions["OH"]["beds"] == {}  # stale shelters add nothing


# -- degraded: the exchange cannot read its database ---------------------------------------


async def until_status(ws: ClientConnection, degraded: bool, timeout: float) -> None:
    """Read until a status message saying `degraded`; fail on any other status."""
    deadline = time.monotonic() + timeout
    while True:
        message = await recv(ws, max(0.01, deadline - time.monotonic()))
        if message["type"] == "status":
            assert message == {"type": "status", "degraded": degraded}
            return


async def test_dashboards_are_told_when_the_database_stops_and_comes_back(
    tmp_path: Path, serve: Any
) -> None:
    """PostgreSQL stops under a connected dashboard: it is told `degraded: true` within
    seconds, a new dashboard or /api/regions is refused with 503 `unavailable` (the token
    cannot be checked), and `degraded: false` comes once PostgreSQL is back."""
    pg = await asyncio.to_thread(PrivatePostgres, tmp_path / "private")
    try:
        setup = await asyncpg.connect(pg.url)
        try:
            await db.migrate(setup)
            await seed(setup, {"OH": 3})
            _, token = await dashboard_token(setup, "planner")
        finally:
            await setup.close()
        server = serve(database=pg.url)
        url = server.ws_url + "/ws/dashboard"
        async with connect(url, additional_headers=bearer(token)) as ws:
            assert (await recv(ws, timeout=within(10)))["type"] == "snapshot"
            await asyncio.to_thread(pg.stop)
            # The next catch-up (every second) fails within its 5 s timeout; a loaded
            # machine gets twice that again. A miss says what the server logged.
            try:
                await until_status(ws, True, timeout=within(20))
            except TimeoutError:
                tail = server.log.read_text()[-3000:] if server.log else ""
                raise AssertionError(f"no degraded status; the server logged:\n{tail}") from None
            with pytest.raises(InvalidStatus) as refused:
                async with connect(url, additional_headers=bearer(token)):
                    pass
            assert refused.value.response.status_code == 503
            async with httpx.AsyncClient(base_url=server.url) as http:
                api = await http.get("/api/regions", headers=bearer(token))
            assert api.status_code == 503 and api.json()["code"] == "unavailable"
            await asyncio.to_thread(pg.start)
            await until_status(ws, False, timeout=within(20))
    finally:
        with contextlib.suppress(Exception):
            await asyncio.to_thread(pg.close)


async def test_a_database_that_does_not_answer_is_said_on_every_channel(
    conn: asyncpg.Connection[Any], serve: Any
) -> None:
    """While the event table cannot be read (locked: the catch-up times out), connected
    dashboards, new ones (right after their snapshot), /api/regions and the page all say
    the numbers may be out of date, and say so no more once it can be read again."""
    await seed(conn, {"OH": 3})
    _, token = await auth.create_token(conn, "viewer")
    server = serve()
    url = server.ws_url + "/ws/dashboard"
    async with (
        connect(url, additional_headers=bearer(token)) as before,
        httpx.AsyncClient(base_url=server.url) as http,
    ):
        assert (await recv(before))["type"] == "snapshot"
        assert (await http.get("/api/regions", headers=bearer(token))).json()["degraded"] is False
        async with conn.transaction():
            await conn.execute("lock table bed_events in access exclusive mode")
            await until_status(before, True, timeout=within(fanout.CATCH_UP_TIMEOUT_S + 5))
            async with connect(url, additional_headers=bearer(token)) as joined:
                assert [(await recv(joined))["type"], await recv(joined)] == [
                    "snapshot",
                    {"type": "status", "degraded": True},
                ]
            api = (await http.get("/api/regions", headers=bearer(token))).json()
            assert api["type"] == "snapshot" and api["degraded"] is True
            await http.post("/session", data={"token": token})
            page = (await http.get("/")).text
            assert 'role="alert"><p>Numbers may be out of date' in page
        await until_status(before, False, timeout=within(5))
        assert (await http.get("/api/regions", headers=bearer(token))).json()["degraded"] is False
        assert 'role="alert"></div>' in (await http.get("/")).text
