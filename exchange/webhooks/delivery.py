"""Sending webhook deliveries: signed, retried with backoff, never in anyone's way.

Each process runs one sender. It claims due deliveries (a lease in the database, so each
is sent by one process), POSTs them concurrently with a short timeout, and marks each
delivered (any 2xx), or due again after a backoff, or given up after `attempts`. Nothing
on the request path waits for it: alerts are queued in the sweep's transaction, and a
receiver that is down, slow or refusing only delays its own deliveries.

Each POST carries:

    Content-Type: application/json
    X-Haven-Delivery: 42
    X-Haven-Timestamp: 1796990400
    X-Haven-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>" under the secret>

A receiver recomputes the HMAC with the secret `haven agency webhook` printed, compares
in constant time, and refuses timestamps more than a few minutes old (replays).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import logging
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
import httpx

from exchange.errors import DB_ERRORS
from exchange.webhooks import store
from exchange.webhooks.store import Due

log = logging.getLogger("haven.webhooks")

BATCH = 20
"""Deliveries claimed (and sent concurrently) at a time."""

BACKOFF_BASE_S = 5.0
BACKOFF_MAX_S = 3600.0


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The `X-Haven-Signature` value of a body sent at `timestamp` (Unix seconds)."""
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def verify(secret: str, timestamp: int, body: bytes, signature: str) -> bool:
    """What a receiver does: recompute and compare in constant time."""
    return hmac.compare_digest(sign(secret, timestamp, body), signature)


def backoff(attempts: int) -> float:
    """Seconds before the next attempt after `attempts` failed ones: 5 s, 10 s, 20 s, …,
    at most an hour."""
    return float(min(BACKOFF_MAX_S, BACKOFF_BASE_S * 2 ** max(0, attempts - 1)))


class Sender:
    """This process's webhook sender."""

    def __init__(
        self,
        pool: asyncpg.Pool[Any],
        *,
        timeout_s: float,
        attempts: int,
        poll_s: float = 1.0,
        client: httpx.AsyncClient | None = None,
        clock: Any = time.time,
    ) -> None:
        self._pool = pool
        self._timeout_s = timeout_s
        self._attempts = attempts
        self._poll_s = poll_s
        self._client = client
        self._clock = clock
        self.sent = 0
        self.failed = 0

    async def send_due(self) -> int:
        """Send what is due now; how many were claimed."""
        due = await store.claim(self._pool, BATCH, lease_s=self._timeout_s * 2 + 5)
        if due:
            await asyncio.gather(*(self._send(d) for d in due))
        return len(due)

    async def _send(self, d: Due) -> None:
        body = d.body.encode()
        stamp = int(self._clock())
        headers = {
            "content-type": "application/json",
            "user-agent": "haven-webhooks/1",
            "x-haven-delivery": str(d.id),
            "x-haven-timestamp": str(stamp),
            "x-haven-signature": sign(d.secret, stamp, body),
        }
        assert self._client is not None
        try:
            r = await self._client.post(d.url, content=body, headers=headers)
            error = None if 200 <= r.status_code < 300 else f"http {r.status_code}"
        except httpx.HTTPError as exc:
            error = type(exc).__name__
        try:
            if error is None:
                await store.delivered(self._pool, d.id)
                self.sent += 1
            elif d.attempts >= self._attempts:
                await store.give_up(self._pool, d.id, error)
                self.failed += 1
                log.warning(
                    "webhook given up",
                    extra={"delivery": d.id, "agency": d.agency, "error": error},
                )
            else:
                await store.retry(self._pool, d.id, backoff(d.attempts), error)
                log.info(
                    "webhook failed; will retry",
                    extra={"delivery": d.id, "attempts": d.attempts, "error": error},
                )
        except DB_ERRORS as exc:
            # The lease runs out and the delivery is sent again: at least once.
            log.warning("webhook outcome not saved", extra={"error": type(exc).__name__})

    async def _loop(self) -> None:
        while True:
            try:
                while await self.send_due() == BATCH:
                    pass
            except DB_ERRORS as exc:
                log.warning("webhook claim failed", extra={"error": type(exc).__name__})
            except Exception:
                log.exception("webhook sender failed; continuing")
            await asyncio.sleep(self._poll_s)

    @asynccontextmanager
    async def running(self) -> AsyncIterator[Sender]:
        """Send in the background while the context is open."""
        async with contextlib.AsyncExitStack() as stack:
            if self._client is None:
                self._client = await stack.enter_async_context(
                    httpx.AsyncClient(timeout=self._timeout_s, follow_redirects=False)
                )
            task = asyncio.create_task(self._loop(), name="webhook-sender")
            try:
                yield self
            finally:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
