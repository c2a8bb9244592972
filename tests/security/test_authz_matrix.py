"""Who may call what: every route and channel of the app × every kind of caller.

The rows come from the app's own route table: a route without a row fails the suite, so
nobody adds an endpoint without deciding who may use it. Each cell is the outcome
expected: `OK` (authorised: any status but 401, 403 and 404 — a 409 for an offer already
decided still means the caller was let in), or the exact refusal status.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import asyncpg
import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from exchange.access import tokens
from exchange.app import create_app
from exchange.beds import registry
from exchange.settings import Settings
from schema.registry import NewShelter

OK = "ok"
ROLES = (
    "none",
    "bad",
    "revoked",
    "shelter",
    "other_shelter",
    "viewer",
    "viewer_elsewhere",
    "planner",
    "planner_elsewhere",
    "admin",
)
ANON = {"none": 401, "bad": 401, "revoked": 401}
DASHBOARD = {"viewer", "viewer_elsewhere", "planner", "planner_elsewhere", "admin"}


def only(*allowed: str, default: int = 403, **special: int) -> dict[str, int | str]:
    """`allowed` roles pass, anonymous callers get 401, the rest `default` (or `special`)."""
    row: dict[str, int | str] = {}
    for role in ROLES:
        if role in allowed:
            row[role] = OK
        elif role in special:
            row[role] = special[role]
        else:
            row[role] = ANON.get(role, default)
    return row


PUBLIC = dict.fromkeys(ROLES, OK)

MATRIX: dict[tuple[str, str], dict[str, int | str]] = {
    ("GET", "/livez"): PUBLIC,
    ("GET", "/readyz"): PUBLIC,
    # Scraped with HAVEN_METRICS_TOKEN only: no user token opens it.
    ("GET", "/metrics"): dict.fromkeys(ROLES, 401),
    ("GET", "/static/swagger-ui/{file_path:path}"): PUBLIC,
    ("GET", "/static/{file_path:path}"): PUBLIC,
    ("GET", "/"): PUBLIC,  # the sign-in form, or the dashboard for a session
    ("POST", "/session"): PUBLIC,  # a form post: a bad token is told on the page
    ("POST", "/session/end"): PUBLIC,
    ("POST", "/language"): PUBLIC,
    # The people's pages: anyone without the page's role is sent to sign in (303), and a
    # page's form posts act only for its own shelter or agency (tests/test_pages_*).
    ("GET", "/shelter"): PUBLIC,
    ("POST", "/shelter/beds"): PUBLIC,
    ("POST", "/shelter/still-accurate"): PUBLIC,
    ("GET", "/shelter/live"): only("shelter", "other_shelter"),
    ("GET", "/planner"): PUBLIC,
    ("POST", "/planner/requests"): PUBLIC,
    ("POST", "/planner/upload"): PUBLIC,
    ("POST", "/planner/requests/{request_id:str}/placement"): PUBLIC,
    ("POST", "/planner/requests/{request_id:str}/pickup"): PUBLIC,
    ("GET", "/planner/live"): only("planner", "planner_elsewhere"),
    ("GET", "/schema"): PUBLIC,
    ("GET", "/schema/swagger"): PUBLIC,
    # The websocket channels' description: public, like the OpenAPI document.
    ("GET", "/asyncapi.json"): PUBLIC,
    ("GET", "/asyncapi"): PUBLIC,
    ("GET", "/schema/{path:str}"): PUBLIC,
    ("GET", "/schema/openapi.json"): PUBLIC,
    ("GET", "/schema/oauth2-redirect.html"): PUBLIC,
    ("WS", "/ws/shelter"): only("shelter", "other_shelter"),
    ("PUT", "/api/shelters/{shelter_id:str}/beds"): only("shelter"),
    ("WS", "/ws/dashboard"): only(*DASHBOARD),
    ("GET", "/api/regions"): only(*DASHBOARD),
    # viewer_elsewhere is confined to PA; the history asked for is OH's.
    ("GET", "/api/regions/{region:str}/history"): only(
        "viewer", "planner", "planner_elsewhere", "admin"
    ),
    ("POST", "/api/requests"): only("planner", "planner_elsewhere"),
    ("GET", "/api/requests"): only("planner", "planner_elsewhere"),
    ("GET", "/api/requests/{request_id:str}"): only("planner", planner_elsewhere=404),
    ("GET", "/api/requests/{request_id:str}/placement"): only("planner", planner_elsewhere=404),
    ("PUT", "/api/requests/{request_id:str}/pickup"): only("planner", planner_elsewhere=404),
    ("GET", "/api/readiness"): only("planner", "planner_elsewhere"),
    ("WS", "/ws/planner"): only("planner", "planner_elsewhere"),
    ("POST", "/api/matching/runs"): only("planner", "planner_elsewhere", "admin"),
    ("GET", "/api/matching/runs/{run_id:int}"): only("admin"),
    ("GET", "/api/matching/runs/{run_id:int}/{which:str}"): only("admin"),
    ("GET", "/api/shelters/{shelter_id:str}/offers"): only("shelter"),
    ("POST", "/api/offers/{offer_id:str}/accept"): only("shelter", other_shelter=404),
    ("POST", "/api/offers/{offer_id:str}/decline"): only("shelter", other_shelter=404),
    ("POST", "/api/offers/{offer_id:str}/arrived"): only("shelter", other_shelter=404),
    # Destructive: runs after the rows above (dicts keep their order).
    ("DELETE", "/api/requests/{request_id:str}"): only("planner", planner_elsewhere=404),
    # The pages' own decisions and withdrawal, after the API's rows for the same records.
    ("POST", "/shelter/offers/{offer_id:str}/{action:str}"): PUBLIC,
    ("POST", "/planner/requests/{request_id:str}/withdraw"): PUBLIC,
}
"""Expected outcome per (method or WS, route) and caller. `planner_elsewhere` belongs to
another agency and has no region limit: she may create requests and run matching, but
never sees this agency's requests."""


def route_table() -> set[tuple[str, str]]:
    """(method, path) of every route the app serves (websockets as WS)."""
    app = create_app(Settings())
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        methods = getattr(route, "methods", None) or {"WS"}
        found |= {(m, route.path) for m in methods if m not in ("OPTIONS", "HEAD")}
    return found


def test_every_route_has_a_row() -> None:
    """A route the table does not name (or a row for a route that is gone) fails here."""
    assert route_table() == set(MATRIX)


async def callers(conn: asyncpg.Connection[Any]) -> dict[str, Any]:
    """Two shelters (A takes every single bed), tokens of every role, a request placed at
    A and accepted, another offered there, and a finished run."""
    (a, a_token), (b, b_token) = await registry.add_shelters(
        conn,
        [
            NewShelter(name="A", region="OH", lat=40, lon=-83, beds={"single": 3}),
            NewShelter(name="B", region="OH", lat=40, lon=-83.1, beds={"family": 1}),
        ],
    )
    await conn.execute("update shelters set last_report_at = now()")
    await conn.execute("update beds set reported = true")
    revoked_id, revoked = await tokens.create_token(conn, "planner", agency="DRC")
    await tokens.revoke_token(conn, token_id=revoked_id)
    made = {
        "shelter": a_token,
        "other_shelter": b_token,
        "bad": "hvn_" + "x" * 32,
        "revoked": revoked,
        "viewer": (await tokens.create_token(conn, "viewer"))[1],
        "viewer_elsewhere": (await tokens.create_token(conn, "viewer", regions=["PA"]))[1],
        "planner": (await tokens.create_token(conn, "planner", regions=["OH"], agency="DRC"))[1],
        "planner_elsewhere": (await tokens.create_token(conn, "planner", agency="ELSE"))[1],
        "admin": (await tokens.create_token(conn, "admin"))[1],
    }
    return {"tokens": made, "a": a, "b": b}


def request_body(ref: str) -> dict[str, Any]:
    return {
        "ref": ref,
        "region": "OH",
        "release_date": (dt.date.today() + dt.timedelta(days=3)).isoformat(),
        "origin": {"lat": 40, "lon": -83},
        "bed_type": "single",
        "age": 30,
        "max_km": 100,
    }


@pytest.mark.slow
async def test_the_matrix_holds_for_every_route_and_caller(
    conn: asyncpg.Connection[Any], serve: Any
) -> None:
    """Each (route, caller) cell answers as the table says; a refusal never leaks data."""
    world = await callers(conn)
    toks = world["tokens"]
    server = serve(
        env={
            "HAVEN_METRICS_TOKEN": "metrics-" + "m" * 24,
            "HAVEN_MATCH_EVERY_S": "0",
            "HAVEN_MATCH_EXECUTOR": "thread",
        }
    )

    def auth(role: str) -> dict[str, str]:
        return {} if role == "none" else {"Authorization": f"Bearer {toks[role]}"}

    async with httpx.AsyncClient(base_url=server.url, timeout=30) as http:
        planner = auth("planner")
        placed = (
            await http.post("/api/requests", headers=planner, json=request_body("P-1"))
        ).json()
        run = (
            await http.post("/api/matching/runs", headers=auth("admin"), json={"regions": ["OH"]})
        ).json()
        first = (await http.get(f"/api/requests/{placed['id']}", headers=planner)).json()["offer"]
        assert (
            await http.post(f"/api/offers/{first['id']}/accept", headers=auth("shelter"))
        ).status_code == 200
        offered = (
            await http.post("/api/requests", headers=planner, json=request_body("P-2"))
        ).json()
        await http.post("/api/matching/runs", headers=auth("admin"), json={"regions": ["OH"]})
        second = (await http.get(f"/api/requests/{offered['id']}", headers=planner)).json()["offer"]
        values = {
            "shelter_id": world["a"],
            "request_id": placed["id"],
            "run_id": str(run["id"]),
            "which": "problem",
            "offer_id": second["id"],
            "action": "accept",
            "file_path": "dashboard.css",
            "path": "swagger",
            "region": "OH",
        }

        def concrete(path: str) -> str:
            for name, value in values.items():
                for kind in ("str", "int", "path"):
                    path = path.replace(f"{{{name}:{kind}}}", value)
            if path.startswith("/static/swagger-ui/"):
                path = "/static/swagger-ui/swagger-ui.css"
            return path

        bodies: dict[str, Any] = {
            "/api/requests": request_body("M-{role}"),
            "/api/matching/runs": {"regions": ["OH"]},
            f"/api/shelters/{world['a']}/beds": {
                "seq": 1,
                "beds": {"single": {"total": 3, "occupied": 0, "out_of_service": 0}},
            },
            "/session": None,
            f"/api/requests/{placed['id']}/pickup": {
                "who": "agency",
                "at": f"{request_body('')['release_date']}T09:00:00Z",
            },
        }
        failures: list[str] = []
        for (method, template), row in MATRIX.items():
            path = concrete(template)
            for role in ROLES:
                expected = row[role]
                if method == "WS":
                    got: int | str = await ws_outcome(server.ws_url + path, auth(role))
                else:
                    body = bodies.get(path)
                    if isinstance(body, dict) and "ref" in body:
                        body = {**body, "ref": f"M-{role}"}
                    extra: dict[str, Any] = {}
                    if path == "/session":
                        extra["data"] = {"token": toks.get(role, "")}
                    elif body is not None:
                        extra["json"] = body
                    r = await http.request(method, path, headers=auth(role), **extra)
                    got = r.status_code
                    if got in (401, 403, 404):
                        for secret in ("Main St", "contacts"):
                            assert secret not in r.text
                outcome = OK if got not in (401, 403, 404) else got
                if outcome != expected:
                    failures.append(f"{method} {template} as {role}: {got}, expected {expected}")
        assert failures == []


async def ws_outcome(url: str, headers: dict[str, str]) -> int | str:
    """OK when the handshake is accepted and a first message arrives, else its status."""
    try:
        async with connect(url, additional_headers=headers, open_timeout=10) as ws:
            await ws.recv()
            return OK
    except InvalidStatus as exc:
        return exc.response.status_code
