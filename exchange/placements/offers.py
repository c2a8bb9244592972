"""What happens to an offer: accept, decline, arrived, withdraw, expire, no-show.

Each action is one transaction: lock the request, then the offer, then the shelter's
beds (the placements lock order); let `rules.step` decide; write the offer, the request,
the bed hold (with its `hold` bed event, so dashboards and the next run see it at once)
and an audit record together. NOTIFY goes out after commit (`beds.store.committing`).
"""

from __future__ import annotations

import datetime as dt

import msgspec

from exchange.audit import store as audit
from exchange.beds import store as beds
from exchange.errors import HavenError
from exchange.placements import rules, store
from exchange.placements.store import Conn, OfferRow
from schema.wire import OfferStatus


class OfferError(HavenError):
    """An offer that is not the caller's (`unknown_offer`), or cannot take this step."""


class Done(msgspec.Struct, frozen=True, kw_only=True):
    offer: str
    request: str
    shelter: str
    status: OfferStatus


async def act(
    conn: Conn,
    offer_id: str,
    action: rules.Action,
    *,
    token_id: int | None,
    shelter_id: str | None = None,
    agency: str | None = None,
    reason: str | None = None,
) -> Done:
    """Take `action` on an offer; OfferError when it is not the caller's or cannot be taken.

    `shelter_id` confines the action to that shelter's offers, `agency` to that agency's
    requests; an offer outside them is `unknown_offer`, exactly like one that does not
    exist. An offer found overdue is expired here (in its own commit), and the action is
    refused with `offer_expired`.
    """
    seen = await store.offer(conn, offer_id)
    if seen is None or (shelter_id is not None and seen.shelter_id != shelter_id):
        raise OfferError("unknown_offer", f"no offer {offer_id} for this shelter")
    expired = False
    async with beds.committing(conn) as outbox:
        requests = await store.lock_requests(conn, [seen.request_id])
        request = requests.get(seen.request_id)
        if request is None or (agency is not None and request.agency != agency):
            raise OfferError("unknown_offer", f"no offer {offer_id} for this agency")
        current = await store.lock_offer(conn, offer_id)
        assert current is not None  # offers are never deleted
        now = dt.datetime.now(dt.UTC)
        outcome = rules.step(action, current.status, expires_at=current.expires_at, now=now)
        overdue = isinstance(outcome, rules.Refused) and outcome.code == "offer_expired"
        if overdue and current.status == "offered":
            # Still `offered` past its expiry (the sweep has not come by): expire it now.
            expiry = rules.step("expire", current.status, expires_at=current.expires_at, now=now)
            assert isinstance(expiry, rules.Step)
            await _write(conn, outbox, current, expiry, token_id=token_id, kind="offer.expired")
            expired = True
        elif isinstance(outcome, rules.Refused):
            raise OfferError(outcome.code, f"offer {offer_id}: {outcome.message}")
        else:
            await _write(
                conn,
                outbox,
                current,
                outcome,
                token_id=token_id,
                kind=f"offer.{outcome.offer}",
                reason=reason,
            )
    if expired:
        raise OfferError(
            "offer_expired", f"offer {offer_id}: the offer expired; its bed is released"
        )
    assert isinstance(outcome, rules.Step)
    return Done(
        offer=offer_id, request=seen.request_id, shelter=seen.shelter_id, status=outcome.offer
    )


async def _write(
    conn: Conn,
    outbox: beds.Outbox,
    offer: OfferRow,
    step: rules.Step,
    *,
    token_id: int | None,
    kind: str,
    reason: str | None = None,
) -> None:
    await audit.lock_head(conn)  # before the beds, as every transaction (audit.lock_head)
    await store.set_offer_status(conn, offer.id, step.offer, reason)
    await store.set_request_status(conn, [offer.request_id], step.request)
    if step.held or step.occupied:
        states = await beds.lock_states(conn, [offer.shelter_id])
        changed = rules.apply_holds(
            {offer.shelter_id: states[offer.shelter_id].beds},
            [(offer.shelter_id, offer.bed_type, step.held, step.occupied)],
        )
        await beds.write_holds(conn, outbox, changed)
    detail = f"request={offer.request_id},shelter={offer.shelter_id}"
    if reason:
        detail += f",reason={reason}"
    await audit.append(conn, token_id, kind, f"offer:{offer.id}", detail)


async def withdraw(conn: Conn, request_id: str, *, agency: str, token_id: int) -> str:
    """Withdraw a request of this agency and release its hold; its new status.

    HavenError `not_found` for another agency's (or no) request, `already_ended` when it
    was already withdrawn, a no-show or arrived.
    """
    async with beds.committing(conn) as outbox:
        requests = await store.lock_requests(conn, [request_id])
        request = requests.get(request_id)
        if request is None or request.agency != agency:
            raise HavenError("not_found", f"no request {request_id} for this agency")
        if request.status not in ("open", "offered", "accepted"):
            raise HavenError(
                "already_ended", f"request {request_id} is {request.status}; nothing to withdraw"
            )
        live = await store.lock_live_offer(conn, request_id)
        if live is not None:
            outcome = rules.step(
                "withdraw", live.status, expires_at=live.expires_at, now=dt.datetime.now(dt.UTC)
            )
            assert isinstance(outcome, rules.Step)
            await _write(conn, outbox, live, outcome, token_id=token_id, kind="offer.withdrawn")
        else:
            await store.set_request_status(conn, [request_id], "withdrawn")
        await audit.append(conn, token_id, "request.withdrawn", f"request:{request_id}")
    return "withdrawn"


async def sweep(conn: Conn, *, grace_days: int, limit: int = 500) -> dict[str, int]:
    """Expire overdue offers and turn accepted ones past release + grace into no-shows.

    Safe with several processes: each offer is settled in its own transaction under the
    usual locks, and one already settled elsewhere is skipped.
    """
    now = dt.datetime.now(dt.UTC)
    done = {"expired": 0, "no_show": 0}
    for offer_id in await store.due_offers(conn, now, grace_days, limit):
        async with beds.committing(conn) as outbox:
            seen = await store.offer(conn, offer_id)
            if seen is None:
                continue
            await store.lock_requests(conn, [seen.request_id])
            current = await store.lock_offer(conn, offer_id)
            if current is None:
                continue
            if current.status == "offered":
                outcome = rules.step(
                    "expire", current.status, expires_at=current.expires_at, now=now
                )
            elif rules.no_show_due(
                current.release_date,
                grace_days=grace_days,
                today=now.date(),
                accepted_on=None if current.decided_at is None else current.decided_at.date(),
            ):
                outcome = rules.step(
                    "no_show", current.status, expires_at=current.expires_at, now=now
                )
            else:
                continue
            if isinstance(outcome, rules.Refused):
                continue  # settled by another process meanwhile
            await _write(
                conn, outbox, current, outcome, token_id=None, kind=f"offer.{outcome.offer}"
            )
            done["expired" if outcome.offer == "expired" else "no_show"] += 1
    return done
