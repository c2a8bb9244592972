"""The placements contract through a real `haven serve`: every endpoint and message, every
refusal, and no ref, contact token or address in any log line or in /metrics."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from websockets.asyncio.client import connect

from exchange.access import tokens
from exchange.beds import registry
from schema.registry import NewShelter

REF = "ZZREF-Planted-7731"
CONTACT = "ZZcontact_Planted_0042x"
ADDRESS = "77 Planted Lane"
PHONE = "+1 614 555 0177"
ENV = {"HAVEN_MATCH_EVERY_S": "0", "HAVEN_MATCH_EXECUTOR": "thread", "HAVEN_LOG_LEVEL": "DEBUG"}


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def body(**kw: Any) -> dict[str, Any]:
    return {
        "ref": REF,
        "region": "OH",
        "release_date": (dt.date.today() + dt.timedelta(days=5)).isoformat(),
        "origin": {"lat": 40.0, "lon": -83.0},
        "home": None,
        "bed_type": "single",
        "children": 0,
        "age": 34,
        "mat": False,
        "offenses": [],
        "language": None,
        "needs": [],
        "max_km": 150,
        "urgency": 3,
        "contacts": [CONTACT],
        "contact_locations": [{"contact": CONTACT, "lat": 45.0, "lon": -90.0}],
        "avoid_km": 10,
        "exclude_with": [],
        **kw,
    }


async def setup(conn: asyncpg.Connection[Any]) -> dict[str, Any]:
    added = await registry.add_shelters(
        conn,
        [
            NewShelter(
                name=f"S{i}",
                region="OH",
                lat=40.0,
                lon=-83.0 + 0.1 * i,
                beds={"single": 1},
                address=ADDRESS,
                intake_phone=PHONE,
            )
            for i in range(2)
        ],
    )
    await conn.execute("update shelters set last_report_at = now()")
    await conn.execute("update beds set reported = true")
    return {
        "shelters": added,
        "planner": (await tokens.create_token(conn, "planner", regions=["OH"], agency="DRC"))[1],
        "other": (await tokens.create_token(conn, "planner", agency="ELSEWHERE"))[1],
        "pa": (await tokens.create_token(conn, "planner", regions=["PA"], agency="DRC"))[1],
        "admin": (await tokens.create_token(conn, "admin"))[1],
        "viewer": (await tokens.create_token(conn, "viewer"))[1],
    }


async def test_the_placements_contract_end_to_end(
    conn: asyncpg.Connection[Any], serve: Any, tmp_path: Path
) -> None:
    """A planner's request becomes an offer at a shelter (over the websocket after hello),
    the shelter accepts, the planner reads the address; each refusal has its code."""
    t = await setup(conn)
    server = serve(env=ENV)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        planner, admin = bearer(t["planner"]), bearer(t["admin"])
        # -- refusals of a request: nothing stored ----------------------------------------
        for bad, field in [
            (body(children=-1), "children"),
            (body(origin={"lat": 40}), "origin.lon"),
            (body(contacts=["short"]), "contacts[0]"),
            (body(name="Jane Doe"), "name"),
            (body(exclude_with=["r999999"]), "exclude_with[0]"),
            (body(release_date="2020-01-01"), "release_date"),
        ]:
            r = await http.post("/api/requests", headers=planner, json=bad)
            assert r.status_code == 400, r.text
            assert r.json()["code"] == "invalid_request" and r.json()["field"] == field
            assert CONTACT not in r.text and "Jane" not in r.text
        r = await http.post("/api/requests", headers=planner, content=b"{not json")
        assert r.status_code == 400 and r.json()["code"] == "invalid_request"
        assert await conn.fetchval("select count(*) from requests") == 0
        assert (await http.post("/api/requests", json=body())).status_code == 401
        r = await http.post("/api/requests", headers=bearer(t["viewer"]), json=body())
        assert r.status_code == 403 and r.json()["code"] == "forbidden_role"
        r = await http.post("/api/requests", headers=bearer(t["pa"]), json=body())
        assert r.status_code == 403 and r.json()["code"] == "forbidden_region"
        # -- a request, read back by its agency only --------------------------------------
        r = await http.post("/api/requests", headers=planner, json=body())
        assert r.status_code == 201, r.text
        made = r.json()
        rid = made["id"]
        assert made["status"] == "open" and made["offer"] is None and made["contacts"] == 1
        assert CONTACT not in r.text
        dup = await http.post("/api/requests", headers=planner, json=body())
        assert dup.status_code == 409 and dup.json()["code"] == "duplicate_ref"
        assert (await http.get(f"/api/requests/{rid}", headers=planner)).json()["id"] == rid
        for who in (bearer(t["other"]),):
            assert (await http.get(f"/api/requests/{rid}", headers=who)).status_code == 404
            assert (await http.delete(f"/api/requests/{rid}", headers=who)).status_code == 404
            assert (await http.get("/api/requests", headers=who)).json() == []
        assert (await http.get(f"/api/requests/{rid}", headers=admin)).status_code == 403
        # -- a run, by the planner for her region; the admin's export checks --------------
        r = await http.post("/api/matching/runs", headers=bearer(t["pa"]), json={"regions": ["OH"]})
        assert r.status_code == 403
        r = await http.post("/api/matching/runs", headers=planner, json={"regions": ["OH"]})
        assert r.status_code == 201, r.text
        run = r.json()
        assert (run["status"], run["placed"], run["offers"], run["unplaced"]) == (
            "optimal",
            1,
            1,
            {},
        )
        assert {"id", "solve_seconds"} <= set(run)
        view = (await http.get(f"/api/requests/{rid}", headers=planner)).json()
        offer = view["offer"]
        assert view["status"] == "offered" and offer["status"] == "offered"
        assert set(offer) == {"id", "status", "expires_at", "region", "km"}
        files = {}
        for which in ("problem", "plan"):
            assert (
                await http.get(f"/api/matching/runs/{run['id']}/{which}", headers=planner)
            ).status_code == 403
            got = await http.get(f"/api/matching/runs/{run['id']}/{which}", headers=admin)
            assert got.status_code == 200
            files[which] = tmp_path / f"{which}.json"
            files[which].write_bytes(got.content)
        checked = subprocess.run(
            [sys.executable, "-m", "exchange.cli", "match", "--check", *map(str, files.values())],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert checked.returncode == 0, checked.stdout + checked.stderr
        assert json.loads(checked.stdout)["ok"] is True
        # -- the shelter: the offer after hello, decide over the websocket ----------------
        at = await conn.fetchval("select shelter_id from offers where id = $1", offer["id"])
        mine = next(tok for sid, tok in t["shelters"] if sid == at)
        theirs = next(tok for sid, tok in t["shelters"] if sid != at)
        other_sid = next(sid for sid, _ in t["shelters"] if sid != at)
        r = await http.post(f"/api/offers/{offer['id']}/accept", headers=bearer(theirs))
        assert r.status_code == 404 and r.json()["code"] == "unknown_offer"
        r = await http.get(f"/api/shelters/{at}/offers", headers=bearer(theirs))
        assert r.status_code == 403
        assert (
            await http.get(f"/api/shelters/{other_sid}/offers", headers=bearer(theirs))
        ).json() == []
        async with connect(server.ws_url + "/ws/shelter", additional_headers=bearer(mine)) as ws:
            assert json.loads(await ws.recv())["type"] == "hello"
            pushed = json.loads(await asyncio.wait_for(ws.recv(), 5))
            assert pushed["type"] == "offer" and pushed["offer"] == offer["id"]
            assert set(pushed) == {
                "type",
                "offer",
                "status",
                "bed_type",
                "children",
                "mat",
                "language",
                "needs",
                "age",
                "release_date",
                "expires_at",
            }
            r = await http.get(f"/api/requests/{rid}/placement", headers=planner)
            assert r.status_code == 404 and r.json()["code"] == "no_placement"
            await ws.send(json.dumps({"type": "decide", "offer": "o999999", "decision": "accept"}))
            assert json.loads(await ws.recv())["code"] == "unknown_offer"
            await ws.send(
                json.dumps({"type": "decide", "offer": offer["id"], "decision": "accept"})
            )
            assert json.loads(await ws.recv()) == {
                "type": "decided",
                "offer": offer["id"],
                "status": "accepted",
            }
            await ws.send(
                json.dumps({"type": "decide", "offer": offer["id"], "decision": "decline"})
            )
            assert json.loads(await ws.recv())["code"] == "already_decided"
        r = await http.post(f"/api/offers/{offer['id']}/decline", headers=bearer(mine))
        assert r.status_code == 409 and r.json()["code"] == "already_decided"
        who = await conn.fetchval(
            "select token_id from audit_log where kind = 'offer.accepted' and subject = $1",
            f"offer:{offer['id']}",
        )
        assert who is not None  # a websocket decision is audited with its token, as over HTTP
        # -- the placement: address and phone to the owning agency, audited ---------------
        r = await http.get(f"/api/requests/{rid}/placement", headers=planner)
        assert r.status_code == 200, r.text
        placed = r.json()
        assert (placed["address"], placed["intake_phone"], placed["shelter"]) == (
            ADDRESS,
            PHONE,
            at,
        )
        for who in (bearer(t["other"]), admin, bearer(mine), bearer(t["viewer"])):
            r = await http.get(f"/api/requests/{rid}/placement", headers=who)
            assert r.status_code in (403, 404) and ADDRESS not in r.text
        reads = await conn.fetchval(
            "select count(*) from audit_log where kind = 'placement.read' and subject = $1",
            f"request:{rid}",
        )
        assert reads == 1
        assert ADDRESS not in (await http.get("/api/regions", headers=admin)).text
        r = await http.post(f"/api/offers/{offer['id']}/arrived", headers=bearer(mine))
        assert r.status_code == 200 and r.json()["status"] == "arrived"
        assert (await http.get(f"/api/requests/{rid}", headers=planner)).json()[
            "status"
        ] == "arrived"
        r = await http.delete(f"/api/requests/{rid}", headers=planner)
        assert r.status_code == 409 and r.json()["code"] == "already_ended"
        # -- a second woman: decline, then withdraw ---------------------------------------
        second = (await http.post("/api/requests", headers=planner, json=body(ref="B-2"))).json()
        await http.post("/api/matching/runs", headers=admin, json={"regions": ["OH"]})
        o2 = (await http.get(f"/api/requests/{second['id']}", headers=planner)).json()["offer"]
        at2 = await conn.fetchval("select shelter_id from offers where id = $1", o2["id"])
        tok2 = next(tok for sid, tok in t["shelters"] if sid == at2)
        r = await http.post(
            f"/api/offers/{o2['id']}/decline", headers=bearer(tok2), json={"reason": "full"}
        )
        assert r.status_code == 200 and r.json()["status"] == "declined"
        assert (await http.get(f"/api/requests/{second['id']}", headers=planner)).json()[
            "status"
        ] == "open"
        r = await http.delete(f"/api/requests/{second['id']}", headers=planner)
        assert r.status_code == 200 and r.json()["status"] == "withdrawn"
        metrics = (await http.get("/metrics")).text
    server.stop()
    logged = server.log.read_text()
    assert "request created" in logged  # the server did log this path
    for secret in (REF, CONTACT, ADDRESS, PHONE, t["planner"], t["admin"]):
        assert secret not in logged, f"{secret[:8]}… leaked into the log"
        assert secret not in metrics
    audit_text = await conn.fetchval("select string_agg(subject || detail, ' ') from audit_log")
    assert REF not in audit_text and CONTACT not in audit_text
    verify = subprocess.run(
        [sys.executable, "-m", "exchange.cli", "audit", "verify"],
        capture_output=True,
        text=True,
        env={"DATABASE_URL": server.dsn, "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert verify.returncode == 0 and json.loads(verify.stdout)["ok"] is True


async def one_offer(
    http: httpx.AsyncClient, conn: asyncpg.Connection[Any], t: dict[str, Any]
) -> tuple[str, str, str, str]:
    """A request, a run that offers her a bed: (request, offer, shelter, shelter token)."""
    rid = (await http.post("/api/requests", headers=bearer(t["planner"]), json=body())).json()["id"]
    run = await http.post(
        "/api/matching/runs", headers=bearer(t["admin"]), json={"regions": ["OH"]}
    )
    assert run.json()["offers"] == 1
    row = await conn.fetchrow("select id, shelter_id from offers")
    assert row is not None
    oid, at = row["id"], row["shelter_id"]
    tok = next(tok for sid, tok in t["shelters"] if sid == at)
    return rid, oid, at, tok


async def test_a_shelter_that_accepted_is_told_when_her_agency_withdraws_her(
    conn: asyncpg.Connection[Any], serve: Any
) -> None:
    """An accepted offer is no longer unanswered, but the shelter expecting her must know
    she is not coming: withdrawing the request closes it on the shelter's channel."""
    t = await setup(conn)
    server = serve(env=ENV)
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        rid, oid, at, tok = await one_offer(http, conn, t)
        async with connect(server.ws_url + "/ws/shelter", additional_headers=bearer(tok)) as ws:
            await ws.recv()  # hello
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "offer"
            await ws.send(json.dumps({"type": "decide", "offer": oid, "decision": "accept"}))
            decided = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert decided == {"type": "decided", "offer": oid, "status": "accepted"}
            gone = await http.delete(f"/api/requests/{rid}", headers=bearer(t["planner"]))
            assert gone.status_code == 200
            closed = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert closed == {"type": "offer_closed", "offer": oid, "status": "withdrawn"}
        assert await conn.fetchval("select held from beds where shelter_id = $1", at) == 0


async def test_offers_expire_and_the_sweeper_releases_the_bed(
    conn: asyncpg.Connection[Any], serve: Any
) -> None:
    """With a 1 s offer lifetime, an unanswered offer expires within a sweep; the shelter's
    open connection is told, and a late accept answers offer_expired."""
    t = await setup(conn)
    server = serve(env={**ENV, "HAVEN_OFFER_LIFETIME_S": "1", "HAVEN_SWEEP_EVERY_S": "0.5"})
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        rid, oid, _, tok = await one_offer(http, conn, t)
        async with connect(server.ws_url + "/ws/shelter", additional_headers=bearer(tok)) as ws:
            await ws.recv()  # hello
            seen = [json.loads(await asyncio.wait_for(ws.recv(), 10)) for _ in range(2)]
        assert [m["type"] for m in seen] == ["offer", "offer_closed"]
        assert seen[1] == {"type": "offer_closed", "offer": oid, "status": "expired"}
        r = await http.post(f"/api/offers/{oid}/accept", headers=bearer(tok))
        assert r.status_code == 409 and r.json()["code"] == "offer_expired"
        view = (await http.get(f"/api/requests/{rid}", headers=bearer(t["planner"]))).json()
        assert view["status"] == "open" and view["offer"] is None
        assert await conn.fetchval("select sum(held) from beds") == 0
