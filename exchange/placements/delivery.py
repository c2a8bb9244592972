"""Offers to the shelters connected to this process, over `/ws/shelter`.

The bed events are the outbox: every change of an offer changes a hold, and each hold
is a `hold` bed event that the fan-out reads in every process. When one concerns a
shelter connected here, its offers are read again and each connection gets what it has
not been sent: new `offer`s, and `offer_closed` for one it was sent that can no longer be
answered (expired, withdrawn) or that it accepted and that ended before she arrived
(withdrawn, no-show). After `hello` a connection gets every unanswered offer.

A shelter's own page (signed in by its session cookie) is also told `beds_changed` when
any other bed event of that shelter is read (a report from the page, another device or
its agent, in any process), so counts reported elsewhere show at once; agents, which
keep their own counts, are never sent it.

A pickup moves no bed: the planner channel's feed, which reads every change of a request
from the audit log in every process, tells `on_requests` of the requests it read again,
and a shelter connected here that was sent one of their offers is pushed again. Each
connection gets `pickup` for each accepted offer whose arrangement it has not been sent
(so after `hello`, every accepted offer's current one).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import msgspec

from exchange.beds.model import Event
from exchange.errors import DB_ERRORS
from exchange.placements import store
from exchange.placements.readiness import Facts
from schema.wire import BedsChanged, OfferClosed, Pickup, PickupChanged

log = logging.getLogger("haven.offers")

Send = Callable[[str], Awaitable[None]]

_ENCODE = msgspec.json.Encoder()


class Outlet:
    """One shelter connection: how to send to it, and which offers it was sent."""

    def __init__(self, shelter_id: str, send: Send, *, page: bool = False) -> None:
        self.shelter_id = shelter_id
        self._send = send
        self.page = page
        """The shelter's page (session cookie), which is also told `beds_changed`."""
        self.sent: set[str] = set()
        self.accepted: dict[str, Pickup | None] = {}
        """Accepted offers, with the pickup last sent for each (None: none yet)."""
        self.lock = asyncio.Lock()
        """Held while sending, so pushes never interleave with the channel's replies."""

    async def send(self, text: str) -> None:
        async with self.lock:
            await self._send(text)


class OfferFeed:
    """This process's shelter connections, and the pushes that keep them current."""

    def __init__(self, pool: asyncpg.Pool[Any]) -> None:
        self._pool = pool
        self._outlets: dict[str, set[Outlet]] = {}
        self._pending: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def attach(self, shelter_id: str, send: Send, *, page: bool = False) -> Outlet:
        outlet = Outlet(shelter_id, send, page=page)
        self._outlets.setdefault(shelter_id, set()).add(outlet)
        return outlet

    def detach(self, outlet: Outlet) -> None:
        outlets = self._outlets.get(outlet.shelter_id)
        if outlets is not None:
            outlets.discard(outlet)
            if not outlets:
                del self._outlets[outlet.shelter_id]

    def on_events(self, events: list[Event]) -> None:
        """Fan-out hook: push offers to connected shelters whose holds changed, and tell
        shelters' pages of their other bed changes."""
        beds: dict[str, int] = {}
        for e in events:
            if e.kind == "hold":
                self._schedule(e.shelter_id)
            elif e.shelter_id in self._outlets:
                beds[e.shelter_id] = max(e.seq, beds.get(e.shelter_id, 0))
        for shelter_id, seq in beds.items():
            pages = [o for o in self._outlets.get(shelter_id, ()) if o.page]
            if pages:
                self._spawn(self._tell_pages(pages, encode(BedsChanged(seq=seq))))

    def on_requests(self, facts: list[Facts]) -> None:
        """Planner-feed hook: push shelters connected here that were sent an offer of one
        of these requests now accepted (its pickup may have changed)."""
        accepted = {f.offer for f in facts if f.offer is not None and f.offer_status == "accepted"}
        if not accepted:
            return
        for shelter_id, outlets in list(self._outlets.items()):
            if any(not accepted.isdisjoint(o.sent | set(o.accepted)) for o in outlets):
                self._schedule(shelter_id)

    def _schedule(self, shelter_id: str) -> None:
        if shelter_id in self._outlets and shelter_id not in self._pending:
            self._pending.add(shelter_id)
            self._spawn(self._push_shelter(shelter_id))

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @staticmethod
    async def _tell_pages(pages: list[Outlet], text: str) -> None:
        for outlet in pages:
            try:
                await outlet.send(text)
            except Exception as exc:  # the socket closed under us: the connection is ending
                log.info("beds push stopped", extra={"error": type(exc).__name__})

    async def _push_shelter(self, shelter_id: str) -> None:
        self._pending.discard(shelter_id)
        for outlet in list(self._outlets.get(shelter_id, ())):
            await self.push(outlet)

    async def push(self, outlet: Outlet) -> None:
        """Send this connection the offers it lacks, close the ones gone, and send the
        pickups of accepted offers it lacks."""
        try:
            found = await store.shelter_offers(self._pool, outlet.shelter_id)
            offers = [o for o in found if o.status == "offered"]
            accepted = [o for o in found if o.status == "accepted"]
            live = {o.offer for o in offers}
            gone = sorted(outlet.sent - live)
            # An accepted offer ends too when her agency withdraws her or she never
            # arrives: the shelter expecting her is told, as for an unanswered one.
            ended = sorted(set(outlet.accepted) - {o.offer for o in accepted})
            asked = gone + ended
            statuses = await store.offer_statuses(self._pool, asked) if asked else {}
            for offer in offers:
                if offer.offer not in outlet.sent:
                    outlet.sent.add(offer.offer)
                    await outlet.send(encode(offer))
            for offer_id in asked:
                outlet.sent.discard(offer_id)
                status = statuses.get(offer_id)
                if status in ("expired", "withdrawn", "no_show"):
                    await outlet.send(encode(OfferClosed(offer=offer_id, status=status)))
            outlet.accepted = {o.offer: outlet.accepted.get(o.offer) for o in accepted}
            for offer in accepted:
                if offer.pickup is not None and offer.pickup != outlet.accepted[offer.offer]:
                    outlet.accepted[offer.offer] = offer.pickup
                    await outlet.send(encode(PickupChanged(offer=offer.offer, pickup=offer.pickup)))
        except DB_ERRORS as exc:
            log.warning("offer push failed", extra={"error": type(exc).__name__})
        except Exception as exc:  # the socket closed under us: the connection is ending
            log.info("offer push stopped", extra={"error": type(exc).__name__})

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def encode(message: msgspec.Struct) -> str:
    return _ENCODE.encode(message).decode()
