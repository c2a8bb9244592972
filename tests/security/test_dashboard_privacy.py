"""What a dashboard may reveal: the differencing cases, as a viewer and a planner live them.

Each test follows the sequence of messages one dashboard receives (snapshot, updates,
resume) while shelters report, go stale and register, and checks that no single shelter's
numbers or report times can be recovered from it (rules 1-4 of "What a dashboard may
reveal" in the exchange protocol). The board and hub run on fake time (`dashboards.Scene`)
with the production defaults: at least 3 contributing shelters, a 60 s interval.
The last test checks the same over a real server's websocket, API and page.
"""

from __future__ import annotations

import asyncio
import json
import math
from itertools import count, pairwise
from typing import Any

import asyncpg
import httpx
import pytest
from dashboards import ADMIN, PLANNER, VIEWER, Scene, Watcher, dashboard_token
from websockets.asyncio.client import connect

from exchange.beds import registry
from schema.registry import NewShelter

INTERVAL = 60.0


def suppressed(region: str) -> dict[str, Any]:
    """All a suppressed region may say."""
    return {"region": region, "shelters": 0, "stale": 0, "suppressed": True, "as_of": None}


def open_region(s: Scene, region: str = "OH", n: int = 3, *, available: int = 5) -> None:
    """`n` open (not confidential) shelters that report."""
    for i in range(n):
        s.report(f"{region}-{i}", region, available=available)


def next_tick(s: Scene, *watchers: Watcher) -> float:
    """Let pending publications go out (two intervals); return the next tick of the
    interval grid, found from the last publication the watchers saw."""
    s.advance(2 * INTERVAL)
    last = max(t for w in watchers for t, _ in w.updates())
    return last + INTERVAL * math.ceil((s.time.now - last) / INTERVAL)


def test_a_region_with_too_few_contributing_shelters_says_nothing() -> None:
    """Three shelters, two never reported (stale): the region is suppressed for viewers and,
    since the one that reports is confidential, for planners; neither learns its numbers,
    its report time, or how many shelters are stale."""
    s = Scene()
    s.register("OH-0", "OH")
    s.register("OH-1", "OH")
    s.report("OH-conf", "OH", available=4, confidential=True)
    s.advance(2 * INTERVAL)
    viewer, planner = s.watch(VIEWER), s.watch(PLANNER)
    for available in (3, 2, 1):
        s.advance(17)
        s.report("OH-conf", "OH", available=available, confidential=True)
    s.advance(3 * INTERVAL)
    for watcher in (viewer, planner):
        assert watcher.pictures("OH") == [suppressed("OH")]
        assert watcher.updates() == []


def test_shelters_going_stale_never_leave_one_shelter_on_view() -> None:
    """Three shelters report, then two fall silent past the stale age: once only the
    confidential one contributes, viewers and planners see the region suppressed, never
    its numbers alone, and no update says how many went stale."""
    s = Scene()
    s.report("OH-0", "OH", available=5)
    s.report("OH-1", "OH", available=5)
    s.report("OH-conf", "OH", available=5, confidential=True)
    s.advance(2 * INTERVAL)
    viewer, planner = s.watch(VIEWER), s.watch(PLANNER)
    s.advance(4 * 3600, step=30)
    s.report("OH-conf", "OH", available=2, confidential=True)
    s.advance(4 * 3600 + 10 * INTERVAL, step=30)  # OH-0 and OH-1 are stale now
    for watcher in (viewer, planner):
        pictures = watcher.pictures("OH")
        assert pictures[-1] == suppressed("OH")
        for picture in pictures:
            assert picture["suppressed"] or picture["shelters"] - picture["stale"] >= 3
            if not picture["suppressed"]:
                assert picture["beds"]["single"]["total"] == 30


def test_a_confidential_report_makes_no_update_of_its_own() -> None:
    """In a region with a contributing confidential shelter, that shelter's reports reach
    viewers and planners only on the interval, with the latest state: when in the interval
    it reported does not change what they receive or when, and two updates are never
    closer than the interval."""
    received: dict[int, list[list[tuple[float, Any]]]] = {}
    for offset in (5, 31, 50):
        s = Scene()
        open_region(s)
        s.report("OH-conf", "OH", available=5, confidential=True)
        viewer, planner = s.watch(VIEWER), s.watch(PLANNER)
        tick = next_tick(s, viewer, planner)
        s.advance(tick + offset - s.time.now)
        s.report("OH-conf", "OH", available=4, confidential=True)
        s.advance(3)
        s.report("OH-conf", "OH", available=2, confidential=True)
        s.advance(3 * INTERVAL)
        received[offset] = [
            [(round(t - tick, 3), r) for t, r in w.updates() if t > tick] for w in (viewer, planner)
        ]
        for watcher in (viewer, planner):
            times = [t for t, _ in watcher.updates("OH")]
            assert all(b - a >= INTERVAL for a, b in pairwise(times))
    assert received[5] == received[31] == received[50]
    for updates in received[5]:
        ((after, region),) = updates  # one update, with the latest state
        assert after == INTERVAL and region["beds"]["single"] == {"total": 40, "available": 17}


def test_a_confidential_shelters_first_report_waits_for_the_interval() -> None:
    """A region published live a moment ago is not updated again when a confidential
    shelter starts contributing: its first report waits a whole interval."""
    s = Scene()
    s.register("OH-conf", "OH", confidential=True)
    open_region(s)
    viewer, planner = s.watch(VIEWER), s.watch(PLANNER)
    s.advance(1)
    published = s.time.now
    s.report("OH-0", "OH", available=6)  # published at once: no confidential shelter yet
    s.advance(1)
    s.report("OH-conf", "OH", available=7, confidential=True)
    s.advance(3 * INTERVAL)
    for watcher in (viewer, planner):
        times = [t for t, _ in watcher.updates("OH")]
        assert published in times
        later = [t for t in times if t > published]
        assert later and later[0] >= published + INTERVAL
        assert watcher.picture()["OH"]["beds"]["single"] == {"total": 40, "available": 7 + 16}


def test_registering_a_shelter_is_not_an_update() -> None:
    """Registering a confidential shelter (or a shelter in a new region) sends viewers and
    planners nothing; the next regular update does not change the totals by its capacity.
    Admins see registrations at once."""
    s = Scene()
    open_region(s)
    s.advance(1)
    viewer, planner, admin = s.watch(VIEWER), s.watch(PLANNER), s.watch(ADMIN)
    s.register("OH-conf", "OH", total=7, confidential=True)
    s.register("WV-0", "WV", total=9)
    s.advance(5 * INTERVAL)
    assert viewer.updates() == [] and planner.updates() == []
    assert {r["region"] for _, r in admin.updates()} == {"OH", "WV"}
    s.report("OH-0", "OH", available=1)
    s.advance(1)
    for watcher in (viewer, planner):
        ((_, oh),) = watcher.updates()
        assert oh["beds"]["single"] == {"total": 30, "available": 11}
        assert oh["shelters"] == 4  # the registration rode along with a regular update
        assert "WV" not in watcher.picture()


def test_a_suppressed_region_sends_no_update_per_report() -> None:
    """A region suppressed for viewers and planners (two shelters, one confidential) sends
    them nothing however often its shelters report, so their report times stay hidden;
    the change of suppression is sent once, on the interval."""
    s = Scene()
    scout = s.watch(PLANNER)  # sees the region's first publication: a tick of the interval
    s.report("WV-conf", "WV", confidential=True)
    s.report("WV-0", "WV")
    next_tick(s, scout)
    viewer, planner = s.watch(VIEWER), s.watch(PLANNER)
    for k in range(12):
        s.advance(7 + k)
        s.report("WV-conf" if k % 2 else "WV-0", "WV", available=k % 5, confidential=k % 2 == 1)
    s.advance(2 * INTERVAL)
    assert viewer.updates() == [] and planner.updates() == []
    tick = next_tick(s, scout)
    s.advance(tick + 5 - s.time.now)
    s.report("WV-1", "WV", available=3)  # five seconds into an interval
    s.advance(3 * INTERVAL)
    for watcher in (viewer, planner):
        ((t, wv),) = watcher.updates()
        assert not wv["suppressed"]
        assert round(t - tick, 3) == INTERVAL  # at the interval's end


def test_a_planner_sees_a_region_whose_only_shelter_is_confidential_suppressed() -> None:
    """Planners see a region with one, confidential, shelter as suppressed: no numbers, no
    report time, no update per report. Admins see it."""
    s = Scene()
    s.report("WV-conf", "WV", available=4, confidential=True)
    s.advance(2 * INTERVAL)
    planner, admin = s.watch(PLANNER), s.watch(ADMIN)
    for available in (3, 2):
        s.advance(13)
        s.report("WV-conf", "WV", available=available, confidential=True)
    s.advance(2 * INTERVAL)
    assert planner.pictures("WV") == [suppressed("WV")] and planner.updates() == []
    assert admin.picture()["WV"]["beds"]["single"] == {"total": 10, "available": 2}


def test_snapshots_and_resume_reveal_no_more_than_the_live_stream() -> None:
    """Between two interval updates, a fresh snapshot or a resume shows what the live stream
    shows, not the confidential shelter's newer report."""
    s = Scene()
    open_region(s)
    s.report("OH-conf", "OH", available=5, confidential=True)
    viewer, planner = s.watch(VIEWER), s.watch(PLANNER)
    tick = next_tick(s, viewer, planner)
    s.advance(tick + 5 - s.time.now)
    s.report("OH-conf", "OH", available=0, confidential=True)
    s.advance(2)
    for principal, watcher in ((VIEWER, viewer), (PLANNER, planner)):
        held = watcher.picture()["OH"]
        assert held["beds"]["single"]["available"] == 20
        assert s.watch(principal).picture()["OH"] == held
        resumed = s.watch(principal, since=watcher.seq)
        assert resumed.pictures("OH") in ([], [held])
    s.advance(INTERVAL)
    for principal, watcher in ((VIEWER, viewer), (PLANNER, planner)):
        assert watcher.picture()["OH"]["beds"]["single"]["available"] == 15
        assert s.watch(principal).picture() == watcher.picture()


def test_admins_see_every_change_at_once() -> None:
    """The rules bind every role but admin: admins get confidential reports live."""
    s = Scene()
    s.report("WV-conf", "WV", available=4, confidential=True)
    admin = s.watch(ADMIN)
    s.advance(1)
    s.report("WV-conf", "WV", available=1, confidential=True)
    s.advance(0.5)
    ((t, wv),) = admin.updates()
    assert t <= 101.5 + 0.2 and wv["beds"]["single"]["available"] == 1


# -- over the wire -----------------------------------------------------------------------


@pytest.mark.slow
async def test_a_real_server_says_no_more(conn: asyncpg.Connection[Any], serve: Any) -> None:
    """On a real server, a region of three shelters of which only a confidential one
    reports is suppressed for viewers and planners in the websocket snapshot, the API and
    the page, and the confidential shelter's reports send them nothing."""
    added = await registry.add_shelters(
        conn,
        [
            NewShelter(
                name=f"House {i}",
                region="OH",
                lat=40,
                lon=-83,
                beds={"single": 10},
                confidential=i == 0,
            )
            for i in range(3)
        ],
    )
    conf_id, conf_token = added[0]
    tokens = {role: (await dashboard_token(conn, role))[1] for role in ("viewer", "planner")}
    server = serve()
    seqs = count(1)

    async def put(occupied: int) -> None:
        body = {
            "type": "report",
            "seq": next(seqs),
            "beds": {"single": {"total": 10, "occupied": occupied, "out_of_service": 0}},
        }
        async with httpx.AsyncClient(base_url=server.url) as http:
            reply = await http.put(
                f"/api/shelters/{conf_id}/beds",
                json=body,
                headers={"Authorization": f"Bearer {conf_token}"},
            )
        assert reply.json()["status"] == "applied"

    await put(3)
    server.stop()
    server.start()  # the first load publishes every region at once
    for token in tokens.values():
        headers = {"Authorization": f"Bearer {token}"}
        async with connect(server.ws_url + "/ws/dashboard", additional_headers=headers) as ws:
            snapshot = json.loads(await ws.recv())
            assert snapshot["regions"] == [suppressed("OH")]
            await put(5)
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(ws.recv(), 1.5)
        async with httpx.AsyncClient(base_url=server.url, headers=headers) as http:
            api = (await http.get("/api/regions")).json()
            assert api["regions"] == [suppressed("OH")] and api["degraded"] is False
            await http.post("/session", data={"token": token})
            page = (await http.get("/")).text
            assert 'class="suppressed" data-region="OH"' in page and "/ 10" not in page
