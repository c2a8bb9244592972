"""Running the exchange: the one uvicorn configuration, and a `haven serve` process.

`options` is what production runs (`haven serve`), what the demo runs in-process, and what
tests and benchmarks get through `ServerProcess`; nobody else builds a uvicorn config.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from exchange.errors import CliError
from exchange.settings import Settings

ROOT = Path(__file__).resolve().parent.parent

log = logging.getLogger("haven.serve")

_LATE = b"request not received in time; retry"
_TIMEOUT_408 = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: %d\r\nconnection: close\r\n\r\n%s" % (len(_LATE), _LATE)
)


class DeadlineProtocol(HttpToolsProtocol):
    """uvicorn's HTTP protocol with a deadline for reading each request.

    uvicorn closes idle keep-alive connections, but nothing bounds a request being read:
    a client that connects and sends nothing, or sends a header every few seconds
    (slowloris), holds its socket and its memory forever. Here a request must be read
    whole — head and body; for a websocket, its handshake — within `read_timeout`
    seconds of the connection opening or of the request's first byte, else the client
    gets 408 and the connection closes. After a websocket upgrade, websockets' pings
    watch the connection instead.
    """

    def __init__(self, *args: Any, read_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_timeout = read_timeout
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._deadline is None:  # else the connection's own deadline still runs
            self._arm()

    def on_message_complete(self) -> None:
        self._disarm()
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        self._disarm()
        super().handle_websocket_upgrade()

    def _arm(self) -> None:
        self._deadline = self.loop.call_later(self._read_timeout, self._expired)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        # Debug only: a client opening many such connections must not flood the log.
        log.debug(
            "request not read in time; connection closed", extra={"timeout_s": self._read_timeout}
        )
        if self.cycle is None or self.cycle.response_complete:
            self.transport.write(_TIMEOUT_408)
        self.transport.close()


KEEP_ALIVE_S = 20
"""How long an idle kept-alive HTTP connection stays open: longer than a client keeps its
own (httpx's default expiry is 5 s), so the client, which knows when it will send next,
closes first. At uvicorn's default, 5 s on both sides, a
request sent as the server closed the connection was lost ("Server disconnected without
sending a response"), seen in a CI run on a loaded machine. A silent or slow request is
still cut at `header_timeout_s` (`DeadlineProtocol`)."""


def options(settings: Settings, *, port: int | None = None) -> dict[str, Any]:
    """uvicorn's options for Haven: for `uvicorn.run` (workers) and `uvicorn.Config`."""
    return {
        "host": settings.host,
        "port": settings.port if port is None else port,
        "ws_max_size": settings.max_frame_bytes,
        "ws_ping_interval": settings.heartbeat_s,
        # Frames are small JSON: compressing them costs CPU and a zlib state per connection.
        "ws_per_message_deflate": False,
        "http": functools.partial(DeadlineProtocol, read_timeout=settings.header_timeout_s),
        "timeout_keep_alive": KEEP_ALIVE_S,
        "log_config": None,
        "lifespan": "on",
    }


def check_port(host: str, port: int) -> None:
    """CliError, before anything starts, when `host:port` cannot be listened on.

    uvicorn binds only after the app's startup has run (and logged), then fails with a
    traceback; checking first turns a busy port into one line and exit 2.
    """
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            raise CliError(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}"
                " (another haven serve or demo there? choose another --port)"
            ) from None


def config(settings: Settings, app: Any, *, port: int | None = None) -> uvicorn.Config:
    """The uvicorn config to serve an app object in-process (the demo)."""
    return uvicorn.Config(app, **options(settings, port=port))


def wait_ready(
    url: str, proc: subprocess.Popen[bytes] | None = None, timeout: float = 60.0
) -> None:
    """Poll `url` until it answers 200; RuntimeError if `proc` exits or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} not ready after {timeout:g} s")


class ServerProcess:
    """A real `haven serve` in a child process, started and waited on until ready."""

    def __init__(
        self,
        dsn: str,
        port: int,
        *,
        env: dict[str, str] | None = None,
        args: list[str] | None = None,
        log: Path | None = None,
    ) -> None:
        self.dsn, self.port = dsn, port
        self.env, self.args, self.log = env or {}, args or [], log
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> ServerProcess:
        env = {**os.environ, **self.env, "DATABASE_URL": self.dsn}
        command = [sys.executable, "-m", "exchange.cli", "serve", "--port", str(self.port)]
        out: IO[bytes] | int = subprocess.DEVNULL
        if self.log is not None:
            out = self.log.open("ab")
        try:
            self.proc = subprocess.Popen(
                [*command, *self.args], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
            )
        finally:
            if not isinstance(out, int):
                out.close()
        try:
            wait_ready(self.url + "/readyz", self.proc, timeout)
        except RuntimeError as exc:
            tail = self.log.read_text()[-3000:] if self.log is not None else ""
            raise RuntimeError(f"haven serve: {exc}\n{tail}") from None
        return self

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
