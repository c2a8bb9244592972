"""What Haven forgets, and how a stored run forgets a woman, without a database.

A request that ended — arrived, withdrawn or a no-show — is purged `days` after it ended:
the request (ref, origin, home, needs, contacts), its offers, pickup and alert, and every
trace of it in the stored files of matching runs. The audit log keeps its id and kinds,
and the regions' daily figures keep their counts; nothing else names her.

`scrub_run` takes a run's problem and plan as JSON objects (any fields the format grows
are kept) and removes the purged requests: as requests and residents, from every
`exclude_with`, from assignments and unplaced, and each contact token (and its location)
that no one left in the problem has.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from typing import Any

ENDED = ("arrived", "withdrawn", "no_show")


def due(status: str, ended_at: dt.datetime, now: dt.datetime, days: int) -> bool:
    """Whether a request in `status` since `ended_at` is purged now."""
    return status in ENDED and now - ended_at >= dt.timedelta(days=days)


def scrub_run(
    problem: dict[str, Any], plan: dict[str, Any], ids: Collection[str]
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The run's files without these requests, or None when they name none of them."""
    gone = set(ids)

    def names(entries: Any) -> bool:
        return any(e.get("id") in gone for e in entries or ())

    def drop(entries: Any) -> list[dict[str, Any]]:
        return [
            {**e, "exclude_with": [x for x in e.get("exclude_with", []) if x not in gone]}
            if "exclude_with" in e
            else e
            for e in entries or ()
            if e.get("id") not in gone
        ]

    requests, residents = problem.get("requests", []), problem.get("residents", [])
    linked = any(set(e.get("exclude_with", ())) & gone for e in [*requests, *residents])
    if not (names(requests) or names(residents) or linked):
        return None
    kept_requests, kept_residents = drop(requests), drop(residents)
    tokens = {t for e in [*kept_requests, *kept_residents] for t in e.get("contacts", ())}
    out = {**problem, "requests": kept_requests, "residents": kept_residents}
    if "contacts" in problem:
        out["contacts"] = [c for c in problem["contacts"] if c.get("id") in tokens]
    if "shelters" in problem:
        out["shelters"] = [
            {**s, "flagged_contacts": [t for t in s["flagged_contacts"] if t in tokens]}
            if "flagged_contacts" in s
            else s
            for s in problem["shelters"]
        ]
    kept_plan: dict[str, Any] = dict(plan)
    for key in ("assignments", "unplaced"):
        if key in plan:
            kept_plan[key] = [x for x in plan[key] if x.get("request") not in gone]
    return out, kept_plan
