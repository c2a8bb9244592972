"""Property-based fuzzing of every HTTP endpoint from the app's own OpenAPI document.

schemathesis generates valid and invalid requests per operation from /schema's document
(request bodies included: `exchange.ops.openapi.json_body`) and sends them to a real
`haven serve` with a token of the role the operation is for. No answer may be a 500, and
every answer must be one the document declares, with the declared body shape.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from exchange import db
from exchange.access import tokens
from exchange.app import create_app
from exchange.beds import registry
from exchange.serve import ServerProcess
from exchange.settings import Settings
from schema.registry import NewShelter

pytestmark = pytest.mark.slow

schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi_schema.to_schema())


class World:
    """A server on its own database, with a token per role and one shelter's id."""

    def __init__(self, server: ServerProcess, toks: dict[str, str], shelter: str) -> None:
        self.server, self.tokens, self.shelter = server, toks, shelter

    def headers(self, path: str) -> dict[str, str]:
        if path.startswith(("/api/shelters", "/api/offers")):
            role = "shelter"
        elif path.startswith("/api/matching"):
            role = "admin"
        elif path.startswith("/api/regions"):
            role = "viewer"
        else:
            role = "planner"
        return {"Authorization": f"Bearer {self.tokens[role]}"}


async def _prepare(dsn: str) -> tuple[dict[str, str], str]:
    conn = await asyncpg.connect(dsn)
    try:
        [(shelter, shelter_token)] = await registry.add_shelters(
            conn, [NewShelter(name="F", region="OH", lat=40, lon=-83, beds={"single": 5})]
        )
        await conn.execute("update shelters set last_report_at = now()")
        await conn.execute("update beds set reported = true")
        made = {"shelter": shelter_token}
        for role, kw in (
            ("planner", {"agency": "FUZZ"}),
            ("admin", {}),
            ("viewer", {}),
        ):
            made[role] = (await tokens.create_token(conn, role, **kw))[1]  # type: ignore[arg-type]
        return made, shelter
    finally:
        await conn.close()


@pytest.fixture(scope="module")
def world(
    pg_server_dsn: str, template_db: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[World]:
    name = f"haven_fuzz_{uuid.uuid4().hex[:10]}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(pg_server_dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f"create database {name} template {template_db}"))
    dsn = db.with_database(pg_server_dsn, name)
    made, shelter = asyncio.run(_prepare(dsn))
    log = Path(tmp_path_factory.mktemp("fuzz")) / "serve.log"
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    env = {"HAVEN_MATCH_EVERY_S": "0", "HAVEN_MATCH_EXECUTOR": "thread"}
    server = ServerProcess(dsn, port, env={**env, "HAVEN_MATCH_TIME_LIMIT_S": "5"}, log=log)
    server.start()
    try:
        yield World(server, made, shelter)
    finally:
        server.stop()
        asyncio.run(admin(f"drop database if exists {name} with (force)"))


@schema.parametrize()
@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_no_endpoint_fails_or_answers_off_the_document(case: Any, world: World) -> None:
    """Whatever the body, path or query: never a 500, always a documented answer."""
    if "shelter_id" in (case.path_parameters or {}) and case.path_parameters["shelter_id"] == "":
        case.path_parameters["shelter_id"] = world.shelter
    response = case.call(base_url=world.server.url, headers=world.headers(case.path), timeout=30)
    case.validate_response(
        response,
        checks=[
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ],
    )
