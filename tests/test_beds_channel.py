"""The shelter channel end to end: websockets client and httpx against a real `haven serve`."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from typing import Any

import asyncpg
import httpx
import pytest
from timing import within
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from exchange.access import sessions
from exchange.access import tokens as auth
from exchange.beds import registry
from schema.registry import NewShelter

pytestmark = pytest.mark.slow


async def add_shelter(conn: asyncpg.Connection[Any], **beds: int) -> tuple[str, str]:
    shelter = NewShelter(name="Harbor House", region="OH", lat=39.96, lon=-83.0, beds=beds)
    return await registry.add_shelter(conn, shelter)


async def snapshot(conn: asyncpg.Connection[Any]) -> list[list[tuple[Any, ...]]]:
    """Everything a report could change."""
    return [
        [tuple(r) for r in await conn.fetch(q)]
        for q in (
            "select * from shelters order by id",
            "select * from beds order by shelter_id, bed_type",
            "select * from bed_events order by seq",
            "select * from event_clock",
        )
    ]


def report(seq: Any, **beds: tuple[int, int, int]) -> str:
    return json.dumps(
        {
            "type": "report",
            "seq": seq,
            "beds": {
                t: {"total": a, "occupied": b, "out_of_service": c} for t, (a, b, c) in beds.items()
            },
        }
    )


def shelter_ws(server: Any, token: str | None, **kw: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return connect(server.ws_url + "/ws/shelter", additional_headers=headers, **kw)


async def ask(ws: ClientConnection, frame: str | bytes) -> dict[str, Any]:
    await ws.send(frame)
    return dict(json.loads(await asyncio.wait_for(ws.recv(), 10)))


async def hello(ws: ClientConnection) -> dict[str, Any]:
    return dict(json.loads(await asyncio.wait_for(ws.recv(), 10)))


async def test_report_is_applied_after_commit_and_hello_resumes(
    conn: asyncpg.Connection[Any], serve: Callable[..., Any]
) -> None:
    """Hello carries last_seq; an applied report is in beds, shelters and bed_events."""
    sid, token = await add_shelter(conn, single=12, family=3)
    server = serve()
    async with shelter_ws(server, token) as ws:
        assert await hello(ws) == {
            "type": "hello",
            "shelter": sid,
            "last_seq": 0,
            "heartbeat_s": 20,
        }
        ack = await ask(ws, report(17, single=(12, 9, 1), family=(3, 3, 0)))
        assert ack == {"type": "ack", "seq": 17, "status": "applied"}
        row = await conn.fetchrow(
            "select last_seq, last_report_at from shelters where id = $1", sid
        )
        assert row["last_seq"] == 17 and row["last_report_at"] is not None
        beds = {
            r["bed_type"]: tuple(r)[2:]
            for r in await conn.fetch("select * from beds where shelter_id = $1", sid)
        }
        # total, occupied, out of service, held, and reported (a report names its types)
        assert beds == {"single": (12, 9, 1, 0, True), "family": (3, 3, 0, 0, True)}
        event = await conn.fetchrow("select * from bed_events order by seq desc limit 1")
        assert (event["kind"], event["report_seq"], event["shelter_id"]) == ("report", 17, sid)
        assert json.loads(event["beds"])["single"] == {
            "total": 12,
            "occupied": 9,
            "out_of_service": 1,
            "held": 0,
        }
        # Types not named keep their last state.
        assert (await ask(ws, report(18, family=(3, 2, 0))))["status"] == "applied"
        assert (
            await conn.fetchval(
                "select occupied from beds where shelter_id = $1 and bed_type = 'single'", sid
            )
            == 9
        )
        before = await snapshot(conn)
        assert await ask(ws, report(18, family=(3, 0, 0))) == {
            "type": "ack",
            "seq": 18,
            "status": "duplicate",
        }
        assert await ask(ws, report(5, family=(3, 0, 0))) == {
            "type": "ack",
            "seq": 5,
            "status": "stale",
        }
        assert await snapshot(conn) == before
    async with shelter_ws(server, token) as ws:
        assert (await hello(ws))["last_seq"] == 18


BAD_FRAMES: list[tuple[str | bytes, str, int | None]] = [
    ("this is not json", "invalid_json", None),
    # Binary frames are not read (the contract's frames are text), and every message
    # on the websocket names its type.
    (b"\xff\xfe", "invalid_message", None),
    ("[1, 2]", "invalid_message", None),
    ('"report"', "invalid_message", None),
    ('{"seq": 40}', "invalid_message", 40),
    ('{"type": "subscribe", "seq": 40}', "unknown_type", 40),
    ('{"type": "hello"}', "unknown_type", None),
    ('{"type": "report", "beds": {}}', "invalid_report", None),
    (report(0, single=(1, 0, 0)), "invalid_report", 0),
    (report(-3, single=(1, 0, 0)), "invalid_report", -3),
    (report(4.5, single=(1, 0, 0)), "invalid_report", None),
    (report("41", single=(1, 0, 0)), "invalid_report", None),
    (report(True, single=(1, 0, 0)), "invalid_report", None),
    (report(41, single=(12, -1, 0)), "invalid_report", 41),
    (report(41, single=(12, 1.5, 0)), "invalid_report", 41),  # type: ignore[arg-type]
    (report(41, single=(10_001, 0, 0)), "invalid_report", 41),
    (report(41, single=(12, 10, 3)), "invalid_report", 41),
    (report(41, suite=(2, 0, 0)), "unknown_bed_type", 41),
    (report(41, Single=(2, 0, 0)), "unknown_bed_type", 41),
    ('{"type": "report", "seq": 41, "beds": {"single": {"total": 1}}}', "invalid_report", 41),
    ('{"type": "report", "seq": 41, "beds": {}, "note": "x"}', "invalid_report", 41),
    (
        '{"type": "report", "seq": 41, "beds": {"single": '
        '{"total": 1, "occupied": 0, "out_of_service": 0, "held": 1}}}',
        "invalid_report",
        41,
    ),
    ('{"type": "report", "seq": 41, "beds": {}}', "invalid_report", 41),
]


async def test_bad_frames_get_specific_errors_and_change_nothing(
    conn: asyncpg.Connection[Any], serve: Callable[..., Any]
) -> None:
    """Each unusable frame gets its own error code, echoes a readable seq, and writes nothing."""
    _, token = await add_shelter(conn, single=12, family=3)
    server = serve()
    async with shelter_ws(server, token) as ws:
        await hello(ws)
        assert (await ask(ws, report(40, single=(12, 2, 0))))["status"] == "applied"
        before = await snapshot(conn)
        for frame, code, seq in BAD_FRAMES:
            reply = await ask(ws, frame)
            assert (reply["type"], reply["code"], reply["seq"]) == ("error", code, seq), (
                frame,
                reply,
            )
            assert reply["message"][:1].islower()
        assert await snapshot(conn) == before
        # The connection is still open and usable.
        assert (await ask(ws, report(41, single=(12, 3, 0))))["status"] == "applied"


async def test_error_messages_name_the_bed_type_and_field(
    conn: asyncpg.Connection[Any], serve: Callable[..., Any]
) -> None:
    """Error messages quote the bed type, the field and the offending value."""
    _, token = await add_shelter(conn, single=12)
    server = serve()
    async with shelter_ws(server, token) as ws:
        await hello(ws)
        reply = await ask(ws, report(3, single=(12, -1, 0)))
        assert reply["message"] == "beds.single.occupied: must be >= 0, got -1"
        reply = await ask(ws, report(3, single=(12, 10, 3)))
        assert reply["message"] == "beds.single: occupied + out_of_service (10 + 3) > total (12)"
        reply = await ask(ws, report(3, family=(1, 0, 0)))
        assert reply["message"].startswith("beds.family: this shelter has no such bed type")


async def test_oversize_frame_closes_with_1009(
    conn: asyncpg.Connection[Any], serve: Callable[..., Any]
) -> None:
    """A frame over HAVEN_MAX_FRAME_BYTES closes the connection with code 1009; nothing changes."""
    _, token = await add_shelter(conn, single=12)
    server = serve(env={"HAVEN_MAX_FRAME_BYTES": "4096"})
    before = await snapshot(conn)
    async with shelter_ws(server, token, max_size=None) as ws:
        await hello(ws)
        big = '{"type": "report", "seq": 1, "beds": {}, "pad": "' + "x" * 5000 + '"}'
        await ws.send(big)
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
    assert await snapshot(conn) == before


async def test_handshake_refused_without_a_valid_shelter_token(
    conn: asyncpg.Connection[Any], serve: Callable[..., Any]
) -> None:
    """No, bad, revoked, viewer, planner and admin tokens are refused with 401/403 before accept."""
    _, _token = await add_shelter(conn, single=12)
    _, revoked = await add_shelter(conn, single=4)
    assert await auth.revoke_token(conn, token=revoked)
    others = {
        role: (await auth.create_token(conn, role, agency="DRC" if role == "planner" else None))[1]
        for role in ("viewer", "planner", "admin")
    }
    server = serve()
    before = await snapshot(conn)
    cases = [
        (None, 401, "missing_token"),
        ("hvn_not-a-real-token", 401, "bad_token"),
        (revoked, 401, "revoked_token"),
        (others["viewer"], 403, "forbidden_role"),
        (others["planner"], 403, "forbidden_role"),
        (others["admin"], 403, "forbidden_role"),
    ]
    for bad, status, code in cases:
        with pytest.raises(InvalidStatus) as refused:
            async with shelter_ws(server, bad):
                pass
        response = refused.value.response
        assert response.status_code == status, code
        assert json.loads(response.body)["code"] == code
    assert await snapshot(conn) == before


async def test_token_speaks_for_its_own_shelter_only(
    conn: asyncpg.Connection[Any], serve: Callable[..., Any]
) -> None:
    """Shelter A's token reports for A on the websocket and is refused on B's URL (403)."""
    a, token_a = await add_shelter(conn, single=12)
    b, _token_b = await add_shelter(conn, single=12)
    server = serve()
    async with shelter_ws(server, token_a) as ws:
        assert (await hello(ws))["shelter"] == a
    before = await snapshot(conn)
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.put(
            f"/api/shelters/{b}/beds",
            content=report(1, single=(12, 1, 0)),
            headers={"Authorization": f"Bearer {token_a}"},
        )
    assert r.status_code == 403
    assert r.json()["code"] == "wrong_shelter"
    assert await snapshot(conn) == before


async def test_put_beds_answers_with_ack_or_error(
    conn: asyncpg.Connection[Any], serve: Callable[..., Any]
) -> None:
    """PUT /api/shelters/{id}/beds takes the same body; the response body is the ack or error."""
    sid, token = await add_shelter(conn, single=12)
    _, viewer = await auth.create_token(conn, "viewer")
    server = serve()
    url = f"/api/shelters/{sid}/beds"
    auth_header = {"Authorization": f"Bearer {token}"}
    async with httpx.AsyncClient(base_url=server.url) as http:
        r = await http.put(url, content=report(7, single=(12, 4, 0)), headers=auth_header)
        assert (r.status_code, r.json()) == (200, {"type": "ack", "seq": 7, "status": "applied"})
        r = await http.put(url, content=report(7, single=(12, 4, 0)), headers=auth_header)
        assert r.json()["status"] == "duplicate"
        body = json.dumps(
            {"seq": 8, "beds": {"single": {"total": 12, "occupied": 5, "out_of_service": 0}}}
        )
        r = await http.put(url, content=body, headers=auth_header)
        assert r.json() == {"type": "ack", "seq": 8, "status": "applied"}
        before = await snapshot(conn)
        r = await http.put(url, content="{nope", headers=auth_header)
        assert (r.status_code, r.json()["code"]) == (400, "invalid_json")
        r = await http.put(url, content=report(9, single=(12, 13, 0)), headers=auth_header)
        assert (r.status_code, r.json()["code"], r.json()["seq"]) == (422, "invalid_report", 9)
        r = await http.put(url, content=report(9, single=(12, 1, 0)))
        assert (r.status_code, r.json()["code"]) == (401, "missing_token")
        r = await http.put(
            url, content=report(9, single=(12, 1, 0)), headers={"Authorization": f"Bearer {viewer}"}
        )
        assert (r.status_code, r.json()["code"]) == (403, "forbidden_role")
        r = await http.put(url, content=b" " * 70_000, headers=auth_header)
        assert (r.status_code, r.json()["code"]) == (413, "frame_too_large")
        assert await snapshot(conn) == before


async def test_revoked_token_connection_closes_within_seconds(
    conn: asyncpg.Connection[Any], serve: Callable[..., Any]
) -> None:
    """Revoking a shelter token closes its open connection (code 4401) within a few seconds."""
    _, token = await add_shelter(conn, single=12)
    server = serve()
    async with shelter_ws(server, token) as ws:
        await hello(ws)
        assert await auth.revoke_token(conn, token=token)
        started = time.monotonic()
        with pytest.raises(ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 5)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
        assert time.monotonic() - started < within(5)


async def test_two_connections_of_one_shelter_agree(
    conn: asyncpg.Connection[Any], serve: Callable[..., Any]
) -> None:
    """Two agents of one shelter: the seq check is made in the database, so one seq applies once."""
    _, token = await add_shelter(conn, single=12)
    server = serve()
    async with shelter_ws(server, token) as a, shelter_ws(server, token) as b:
        await hello(a)
        await hello(b)
        replies = await asyncio.gather(
            *(ask(ws, report(1, single=(12, n, 0))) for n, ws in enumerate((a, b)))
        )
        assert sorted(r["status"] for r in replies) == ["applied", "duplicate"]
    assert await conn.fetchval("select count(*) from bed_events where kind = 'report'") == 1


async def test_an_operators_signed_in_browser_listens_on_the_channel(
    conn: asyncpg.Connection[Any], serve: Callable[..., Any]
) -> None:
    """The operator's page opens the channel with its session cookie (no bearer token):
    from the same site it gets its shelter's hello; from another site, or with a planner's
    session, the handshake is refused before accept."""
    shelter_id, token = await add_shelter(conn, single=12)
    _, planner = await auth.create_token(conn, "planner", agency="DRC")
    server = serve()

    async def session(of: str) -> str:
        async with httpx.AsyncClient(base_url=server.url) as http:
            signed = await http.post("/session", data={"token": of})
            return str(signed.cookies["haven_session"])

    own, other = await session(token), await session(planner)
    here = server.url

    def browser(cookie: str, origin: str) -> Any:
        headers = {"Cookie": f"haven_session={cookie}", "Origin": origin}
        return connect(server.ws_url + "/ws/shelter", additional_headers=headers)

    async with browser(own, here) as ws:
        first = await hello(ws)
        assert first["type"] == "hello" and first["shelter"] == shelter_id
    for cookie, origin, code in (
        (own, "https://evil.example", "forbidden_origin"),
        (other, here, "forbidden_role"),
    ):
        with pytest.raises(InvalidStatus) as refused:
            async with browser(cookie, origin):
                pass
        assert refused.value.response.status_code == 403
        assert json.loads(refused.value.response.body)["code"] == code


async def test_a_shelters_page_hears_of_counts_reported_from_another_device(
    conn: asyncpg.Connection[Any], serve: Callable[..., Any]
) -> None:
    """A shelter's page (signed in by the session cookie) is told `beds_changed` when its
    agent reports through another process; the agent's own connection, and the page of
    another shelter, are not."""
    a, token_a = await add_shelter(conn, single=12)
    _b, token_b = await add_shelter(conn, single=12)
    page_a = {"Cookie": f"{sessions.COOKIE}={await sessions.create(conn, token_a)}"}
    page_b = {"Cookie": f"{sessions.COOKIE}={await sessions.create(conn, token_b)}"}
    first, second = serve(), serve()
    url = first.ws_url + "/ws/shelter"
    async with (
        connect(url, additional_headers=page_a) as page,
        connect(url, additional_headers=page_b) as other_page,
        shelter_ws(first, token_a) as agent,
    ):
        for ws in (page, other_page, agent):
            assert (await hello(ws))["type"] == "hello"
        async with httpx.AsyncClient(base_url=second.url) as http:
            r = await http.put(
                f"/api/shelters/{a}/beds",
                content=report(1, single=(12, 5, 0)),
                headers={"Authorization": f"Bearer {token_a}"},
            )
            assert r.json()["status"] == "applied"
        told = json.loads(await asyncio.wait_for(page.recv(), 10))
        seq = await conn.fetchval("select max(seq) from bed_events where shelter_id = $1", a)
        assert told == {"type": "beds_changed", "seq": seq}
        for quiet in (other_page, agent):
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(quiet.recv(), 1.0)
