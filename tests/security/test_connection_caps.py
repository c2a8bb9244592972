"""Connection caps (finding 5): one shelter token, or one address, cannot hold thousands of
websockets; the one over the cap is refused on the handshake with 429."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable
from typing import Any

import asyncpg
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from exchange.access import tokens as auth
from exchange.access.revocation import Connections
from exchange.beds import registry
from exchange.errors import HavenError
from schema.registry import NewShelter


async def _nothing() -> None:
    return None


def test_admit_refuses_a_token_at_its_cap_and_frees_a_place_on_remove() -> None:
    """The cap+1st connection of a token is refused (too_many_connections, 429); removing
    one makes room; other tokens are unaffected."""
    conns = Connections(per_token=2)
    handles = [conns.admit(7, _nothing) for _ in range(2)]
    with pytest.raises(HavenError) as refused:
        conns.admit(7, _nothing)
    assert (refused.value.code, refused.value.status) == ("too_many_connections", 429)
    assert "limit" in refused.value.message and len(conns) == 2
    conns.admit(8, _nothing)
    conns.remove(7, handles[0])
    conns.admit(7, _nothing)


def test_enter_counts_addresses_and_leave_releases_them() -> None:
    """An address at its cap is refused; leaving frees a place; counts never go negative."""
    conns = Connections(per_address=3)
    for _ in range(3):
        conns.enter("10.0.0.1")
    with pytest.raises(HavenError, match="too many open websockets"):
        conns.enter("10.0.0.1")
    conns.enter("10.0.0.2")
    conns.leave("10.0.0.1")
    conns.enter("10.0.0.1")
    for _ in range(3):
        conns.leave("10.0.0.1")
    assert conns.from_address("10.0.0.1") == 0


def test_no_caps_means_no_refusal() -> None:
    """Without caps (the default of the class), nothing is refused."""
    conns = Connections()
    for _ in range(100):
        conns.admit(1, _nothing)
        conns.enter("a")


async def add_shelter(conn: asyncpg.Connection[Any]) -> str:
    shelter = NewShelter(name="Cap House", region="OH", lat=40.0, lon=-83.0, beds={"single": 4})
    return (await registry.add_shelter(conn, shelter))[1]


def shelter_ws(server: Any, token: str) -> Any:
    return connect(
        server.ws_url + "/ws/shelter", additional_headers={"Authorization": f"Bearer {token}"}
    )


@pytest.mark.slow
async def test_a_shelter_token_over_its_cap_is_refused_with_429(
    conn: asyncpg.Connection[Any], serve: Callable[..., Any]
) -> None:
    """With HAVEN_MAX_CONNECTIONS_PER_TOKEN=3 the 4th connection of one token gets HTTP 429
    `too_many_connections`; the 3 stay usable, and closing one lets a new one in."""
    token = await add_shelter(conn)
    other = await add_shelter(conn)
    server = serve(env={"HAVEN_MAX_CONNECTIONS_PER_TOKEN": "3"})
    async with contextlib.AsyncExitStack() as stack:
        held = [await stack.enter_async_context(shelter_ws(server, token)) for _ in range(3)]
        for ws in held:
            await ws.recv()  # hello
        with pytest.raises(InvalidStatus) as refused:
            async with shelter_ws(server, token):
                pass
        assert refused.value.response.status_code == 429
        assert json.loads(refused.value.response.body)["code"] == "too_many_connections"
        async with shelter_ws(server, other) as ws:  # another shelter is not affected
            assert json.loads(await ws.recv())["type"] == "hello"
        await held[0].close()
        await asyncio.sleep(0.2)
        async with shelter_ws(server, token) as ws:
            assert json.loads(await ws.recv())["type"] == "hello"


@pytest.mark.slow
async def test_an_address_over_its_cap_is_refused_with_429_on_either_channel(
    conn: asyncpg.Connection[Any], serve: Callable[..., Any]
) -> None:
    """With HAVEN_MAX_CONNECTIONS_PER_ADDRESS=4, a 5th websocket from 127.0.0.1 — shelter or
    dashboard, any token — is refused with 429 before its token is looked at."""
    tokens = [await add_shelter(conn) for _ in range(3)]
    _, viewer = await auth.create_token(conn, "viewer")
    server = serve(env={"HAVEN_MAX_CONNECTIONS_PER_ADDRESS": "4"})
    dashboard = server.ws_url + "/ws/dashboard"
    viewer_headers = {"Authorization": f"Bearer {viewer}"}
    async with contextlib.AsyncExitStack() as stack:
        for token in tokens:
            ws = await stack.enter_async_context(shelter_ws(server, token))
            await ws.recv()
        board = await stack.enter_async_context(
            connect(dashboard, additional_headers=viewer_headers)
        )
        await board.recv()  # snapshot
        for attempt in (
            shelter_ws(server, tokens[0]),
            connect(dashboard, additional_headers=viewer_headers),
            connect(dashboard),  # no token at all: refused for the address first
        ):
            with pytest.raises(InvalidStatus) as refused:
                async with attempt:
                    pass
            assert refused.value.response.status_code == 429
            assert json.loads(refused.value.response.body)["code"] == "too_many_connections"
    await asyncio.sleep(0.2)
    async with shelter_ws(server, tokens[0]) as ws:  # all closed: places are free again
        assert json.loads(await ws.recv())["type"] == "hello"
