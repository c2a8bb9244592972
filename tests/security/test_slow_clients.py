"""Slow clients (finding 5): a request must be read within HAVEN_HEADER_TIMEOUT_S.

The fast tests run Haven's uvicorn configuration (`exchange.serve.config`) in this process
around a trivial app; the slow ones run a real `haven serve`.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from timing import within
from websockets.asyncio.client import connect

from exchange import serve
from exchange.settings import Settings

pytestmark = pytest.mark.slow  # each waits out a real deadline of the server

TIMEOUT = 0.5


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def trivial_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Lifespan; `200 ok` to any HTTP request (after reading its body); a websocket echo."""
    if scope["type"] == "lifespan":
        while (message := await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
    elif scope["type"] == "http":
        while (await receive()).get("more_body"):
            pass
        headers = [(b"content-length", b"2")]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": b"ok"})
    else:
        await receive()
        await send({"type": "websocket.accept"})
        while (message := await receive())["type"] == "websocket.receive":
            await send({"type": "websocket.send", "text": message.get("text")})


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def running(timeout: float = TIMEOUT) -> AsyncIterator[int]:
    """Haven's uvicorn configuration serving `trivial_app`; yields the port."""
    port = free_port()
    server = _Server(serve.config(Settings(header_timeout_s=timeout), trivial_app, port=port))
    task = asyncio.create_task(server.serve())
    while not server.started:
        assert not task.done(), task
        await asyncio.sleep(0.01)
    try:
        yield port
    finally:
        server.should_exit = True
        await task


async def closed_after(reader: asyncio.StreamReader, limit: float) -> tuple[bytes, float]:
    """What the server sent until it closed the connection, and how long that took."""
    started = time.monotonic()
    data = b""
    with contextlib.suppress(ConnectionResetError):
        async with asyncio.timeout(limit):
            while chunk := await reader.read(4096):
                data += chunk
    return data, time.monotonic() - started


async def answers_twice(port: int, idle_s: float) -> None:
    """Two whole requests on one kept-alive connection, idle `idle_s` between them: both
    answered 200."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    for n in range(2):
        if n:
            await asyncio.sleep(idle_s)
        writer.write(b"GET /livez HTTP/1.1\r\nHost: x\r\n\r\n")
        head = await asyncio.wait_for(reader.readuntil(b"ok"), 5)
        assert head.startswith(b"HTTP/1.1 200 ")
    writer.close()


async def test_a_silent_connection_gets_408_at_the_deadline() -> None:
    """A client that connects and sends nothing is answered 408 and closed at the deadline."""
    async with running() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        data, took = await closed_after(reader, 5)
        writer.close()
    assert data.startswith(b"HTTP/1.1 408 ")
    assert TIMEOUT * 0.9 <= took <= TIMEOUT + within(1)


async def test_a_handshake_dribbling_headers_is_cut_off() -> None:
    """A websocket handshake sending one header line every 0.1 s is closed at the deadline."""
    async with running() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        started = time.monotonic()
        writer.write(b"GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")

        async def dribble() -> None:
            with contextlib.suppress(OSError):
                for n in range(100):
                    await asyncio.sleep(0.1)
                    writer.write(b"X-Dribble-%d: y\r\n" % n)
                    await writer.drain()

        dribbler = asyncio.create_task(dribble())
        data, _ = await closed_after(reader, 5)
        took = time.monotonic() - started
        dribbler.cancel()
        writer.close()
    assert data.startswith(b"HTTP/1.1 408 ")
    assert took <= TIMEOUT + within(1)


async def test_a_dribbled_body_is_cut_off() -> None:
    """A PUT whose body arrives a byte at a time is closed at the deadline."""
    async with running() as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        started = time.monotonic()
        writer.write(b"PUT /x HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n")

        async def dribble() -> None:
            with contextlib.suppress(OSError):
                for _ in range(100):
                    await asyncio.sleep(0.1)
                    writer.write(b"{")
                    await writer.drain()

        dribbler = asyncio.create_task(dribble())
        _, _ = await closed_after(reader, 5)
        took = time.monotonic() - started
        dribbler.cancel()
        writer.close()
    assert took <= TIMEOUT + within(1)


async def test_two_hundred_half_open_requests_are_all_closed() -> None:
    """200 connections that each sent half a request line are all closed at the deadline."""
    async with running() as port:
        conns = [await asyncio.open_connection("127.0.0.1", port) for _ in range(200)]
        for _, writer in conns:
            writer.write(b"GET /livez HT")
        started = time.monotonic()
        results = await asyncio.gather(*(closed_after(r, 5) for r, _ in conns))
        took = time.monotonic() - started
        for _, writer in conns:
            writer.close()
    assert all(data.startswith(b"HTTP/1.1 408 ") for data, _ in results)
    assert took <= TIMEOUT + within(2)


async def test_a_connection_idle_past_a_clients_keep_alive_is_still_open() -> None:
    """A kept-alive connection idle for longer than httpx keeps its own (5 s) still takes
    the next request: the client closes first, so no request meets a closing socket."""
    expiry = httpx.Limits().keepalive_expiry
    assert expiry is not None and expiry < serve.KEEP_ALIVE_S
    async with running() as port:
        await answers_twice(port, idle_s=expiry + 0.5)


async def test_prompt_requests_and_open_websockets_are_untouched() -> None:
    """Whole requests are answered on a kept-alive connection; an upgraded websocket
    outlives the deadline twice over."""
    async with running() as port:
        await answers_twice(port, idle_s=TIMEOUT * 0.6)  # under uvicorn's keep-alive
        async with connect(f"ws://127.0.0.1:{port}/ws") as ws:
            await asyncio.sleep(TIMEOUT * 2.5)
            await ws.send("still here")
            assert await asyncio.wait_for(ws.recv(), 5) == "still here"


@pytest.mark.slow
async def test_haven_serve_closes_half_open_and_dribbling_handshakes(
    serve: Callable[..., Any],
) -> None:
    """Against `haven serve` (timeout 1 s): 100 silent connections and 100 websocket
    handshakes dribbling a header every 0.3 s are all closed within the timeout."""
    server = serve(env={"HAVEN_HEADER_TIMEOUT_S": "1"})
    silent = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(100)]
    dribbling = [await asyncio.open_connection("127.0.0.1", server.port) for _ in range(100)]
    started = time.monotonic()

    async def dribble(writer: asyncio.StreamWriter) -> None:
        writer.write(b"GET /ws/shelter HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n")
        with contextlib.suppress(OSError):
            for n in range(30):
                await asyncio.sleep(0.3)
                writer.write(b"X-Dribble-%d: y\r\n" % n)
                await writer.drain()

    dribblers = [asyncio.create_task(dribble(w)) for _, w in dribbling]
    results = await asyncio.gather(*(closed_after(r, 10) for r, _ in silent + dribbling))
    took = time.monotonic() - started
    for task in dribblers:
        task.cancel()
    for _, writer in silent + dribbling:
        writer.close()
    assert all(data.startswith(b"HTTP/1.1 408 ") for data, _ in results)
    assert took <= 1 + within(2)
