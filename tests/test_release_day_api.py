"""Release day through a real `haven serve`: the pickup, the readiness board and the
planner channel over HTTP and websockets, agencies kept apart, resume after a reconnect."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import asyncpg
import httpx
from test_placements_api import ENV, bearer, body, setup
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus

from exchange.access import tokens


async def recv(ws: ClientConnection, timeout: float = 5.0) -> dict[str, Any]:
    return dict(json.loads(await asyncio.wait_for(ws.recv(), timeout)))


async def quiet(ws: ClientConnection, seconds: float = 1.5) -> bool:
    """Whether nothing arrives for `seconds`."""
    try:
        await asyncio.wait_for(ws.recv(), seconds)
    except TimeoutError:
        return True
    return False


async def test_pickup_readiness_and_the_planner_channel_end_to_end(
    conn: asyncpg.Connection[Any], serve: Any
) -> None:
    """DRC's planner sees her snapshot, then her request change as the shelter accepts and
    she arranges the pickup; ELSE's planner, connected all along, receives nothing of it.
    The shelter reads the pickup on its accepted offer; the board lists her; a reconnect
    with the last seq brings exactly what was missed."""
    t = await setup(conn)
    _, else_token = await tokens.create_token(conn, "planner", regions=["OH"], agency="ELSE")
    server = serve(env=ENV)
    planner, other = bearer(t["planner"]), bearer(else_token)
    ws_url = server.ws_url + "/ws/planner"
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        made = (await http.post("/api/requests", headers=planner, json=body())).json()
        rid = made["id"]
        admin = bearer(t["admin"])
        for _ in range(50):  # the feed counts her within about a second
            [oh] = (await http.get("/api/regions", headers=admin)).json()["regions"]
            if oh.get("demand"):
                break
            await asyncio.sleep(0.1)
        assert oh["demand"] == {"open": 1, "offered": 0, "accepted": 0, "unplaced": 1}
        viewer = bearer(t["viewer"])
        [seen] = (await http.get("/api/regions", headers=viewer)).json()["regions"]
        assert "demand" not in seen  # two shelters: suppressed for viewers
        r = await http.get("/api/regions/OH/history?days=30", headers=viewer)
        assert r.status_code == 200 and r.json()["region"] == "OH"
        for bad in ("0", "367", "x", "1" * 30):
            r = await http.get(f"/api/regions/OH/history?days={bad}", headers=viewer)
            assert r.status_code == 400 and r.json()["code"] == "invalid_request", bad
        async with (
            connect(ws_url, additional_headers=planner) as mine,
            connect(ws_url, additional_headers=other) as theirs,
        ):
            snap = await recv(mine)
            assert snap["type"] == "snapshot"
            assert [r["request"] for r in snap["requests"]] == [rid]
            assert snap["requests"][0]["at_risk"] == ["no_bed"]
            assert (await recv(theirs))["requests"] == []
            run = await http.post("/api/matching/runs", headers=planner, json={"regions": ["OH"]})
            assert run.status_code == 201
            offered = await recv(mine)
            assert offered["type"] == "request"
            assert offered["request"]["status"] == "offered"
            offer = offered["request"]["offer"]["id"]
            at = await conn.fetchval("select shelter_id from offers where id = $1", offer)
            shelter = bearer(next(tok for sid, tok in t["shelters"] if sid == at))
            assert (await http.post(f"/api/offers/{offer}/accept", headers=shelter)).is_success
            accepted = await recv(mine)
            assert accepted["request"]["status"] == "accepted"
            release = body()["release_date"]
            r = await http.put(
                f"/api/requests/{rid}/pickup",
                headers=planner,
                json={"who": "verified_family", "at": f"{release}T09:00:00-05:00"},
            )
            assert r.status_code == 200, r.text
            assert r.json() == {
                "request": rid,
                "pickup": {
                    "who": "verified_family",
                    "at": f"{release}T14:00:00Z",
                    "flagged": True,
                },
            }
            arranged = await recv(mine)
            assert arranged["request"]["at_risk"] == ["pickup_flagged"]
            last = arranged["seq"]
            assert await quiet(theirs)
        offers = (await http.get(f"/api/shelters/{at}/offers", headers=shelter)).json()
        assert offers[0]["pickup"]["who"] == "verified_family"
        placed = (await http.get(f"/api/requests/{rid}/placement", headers=planner)).json()
        assert placed["pickup"]["flagged"] is True
        r = await http.put(
            f"/api/requests/{rid}/pickup",
            headers=other,
            json={"who": "agency", "at": f"{release}T09:00:00Z"},
        )
        assert r.status_code == 404 and r.json()["code"] == "not_found"
        board = (await http.get("/api/readiness?days=14", headers=planner)).json()
        assert [(x["request"], x["ref"], x["at_risk"]) for x in board["requests"]] == [
            (rid, body()["ref"], ["pickup_flagged"])
        ]
        assert (await http.get("/api/readiness?days=0", headers=planner)).json()["field"] == "days"
        assert (await http.get("/api/readiness", headers=other)).json()["requests"] == []
        # Missed while away: the pickup changes hands; resume brings just that.
        r = await http.put(
            f"/api/requests/{rid}/pickup",
            headers=planner,
            json={"who": "shelter", "at": f"{release}T09:00:00Z"},
        )
        assert r.status_code == 200
        async with connect(f"{ws_url}?since={last}", additional_headers=planner) as back:
            first = await recv(back)
            while first["type"] == "request" and first["seq"] == last:
                first = await recv(back)  # the change at `since` itself may come again
            assert first["type"] == "request" and first["request"]["pickup"]["who"] == "shelter"
            assert first["request"]["at_risk"] == []


async def test_the_planner_channel_refuses_other_roles_and_bad_since(
    conn: asyncpg.Connection[Any], serve: Any
) -> None:
    """A viewer or admin token is refused (403) before any message; `since=x` is 400."""
    t = await setup(conn)
    server = serve(env=ENV)
    url = server.ws_url + "/ws/planner"
    for who, status in ((t["viewer"], 403), (t["admin"], 403)):
        try:
            async with connect(url, additional_headers=bearer(who)):
                raise AssertionError("accepted")
        except InvalidStatus as exc:
            assert exc.response.status_code == status
    try:
        async with connect(url + "?since=x", additional_headers=bearer(t["planner"])):
            raise AssertionError("accepted")
    except InvalidStatus as exc:
        assert exc.response.status_code == 400
