"""The alert sweep: announce each request's at-risk reasons when they change.

One process at a time (an advisory lock shared with the retention purge) reads every live
request and no-show, computes its reasons now (`readiness.transitions`) and, for those
that differ from the last announcement, in one transaction: records the new reasons,
appends an `alert.changed` audit record per request (which the planner channel of every
process reads as a change of that request), and queues one webhook delivery per agency
that has a webhook. It then wakes the planner channels.

Time-driven reasons (a release coming near, an offer about to expire) reach planners this
way within `HAVEN_ALERT_EVERY_S`; reasons a change brings or clears reach the channel at
once with the change itself, and the webhook at the next sweep.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import asyncpg
import msgspec

from exchange.audit import store as audit
from exchange.placements import readiness, store
from exchange.placements.readiness import Transition
from exchange.webhooks import store as webhooks

LOCK = "haven.release-sweeps"
"""Advisory lock of the alert sweep and the purge: one of them, in one process, at a time."""


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    request: str
    at_risk: list[str]
    raised: list[str]
    cleared: list[str]


class Delivery(msgspec.Struct, frozen=True, kw_only=True):
    """A webhook body: an agency's changed alerts. Request ids and reasons only — never a
    ref, a contact token, a name or a place."""

    agency: str
    at: str
    alerts: list[Alert]


_ENCODE = msgspec.json.Encoder()


def bodies(
    changed: Sequence[Transition], at: dt.datetime, agencies: set[str]
) -> list[tuple[str, str]]:
    """One (agency, JSON body) per agency with a webhook and a changed alert."""
    by_agency: dict[str, list[Alert]] = {}
    for t in changed:
        if t.agency in agencies:
            by_agency.setdefault(t.agency, []).append(
                Alert(
                    request=t.request,
                    at_risk=list(t.at_risk),
                    raised=list(t.raised),
                    cleared=list(t.cleared),
                )
            )
    return [
        (
            agency,
            _ENCODE.encode(Delivery(agency=agency, at=readiness.iso(at), alerts=alerts)).decode(),
        )
        for agency, alerts in sorted(by_agency.items())
    ]


def _detail(t: Transition) -> str:
    return (
        f"at_risk={'.'.join(t.at_risk)},raised={'.'.join(t.raised)},cleared={'.'.join(t.cleared)}"
    )


async def sweep(
    pool: asyncpg.Pool[Any], policy: readiness.Policy, *, now: dt.datetime | None = None
) -> list[Transition] | None:
    """Announce the reasons that changed; None when another process is sweeping."""
    now = now or dt.datetime.now(dt.UTC)
    async with pool.acquire() as conn, store.advisory(conn, LOCK) as taken:
        if not taken:
            return None
        async with conn.transaction():
            facts = await store.live_facts(conn)
            changed = readiness.transitions(facts, await store.announced(conn), now, policy)
            if changed:
                await store.announce(conn, changed)
                await audit.append_many(
                    conn,
                    None,
                    "alert.changed",
                    [f"request:{t.request}" for t in changed],
                    [_detail(t) for t in changed],
                )
                hooks = await webhooks.subscribed(conn, {t.agency for t in changed})
                await webhooks.enqueue(conn, bodies(changed, now, hooks))
        if changed:
            await store.notify(conn)
    return changed
