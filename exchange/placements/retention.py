"""What Haven forgets, and how a stored run forgets a woman, without a database.

A request that ended — arrived, withdrawn or a no-show — is purged `days` after it ended:
the request (ref, origin, home, needs, contacts), its offers, pickup and alert, and every
trace of it in the stored files of matching runs. The audit log keeps its id and kinds,
and the regions' daily figures keep their counts; nothing else names her.

A woman who arrived is not done with when her request ends: she lives at the shelter,
and placements.md makes her a resident there, whose contact tokens keep other women
away (rule 6: two women groomed by the same contact never share a shelter). Haven is not
told when she leaves, so her request is kept while she may still be there — `stay_days`
after her arrival (the longest stay shelters allow), or `days` if that is longer. Purging
her sooner would drop her from the residents, and a woman groomed by the same contact
could be offered a bed beside her.

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


def cutoffs(now: dt.datetime, days: int, stay_days: int) -> tuple[dt.datetime, dt.datetime]:
    """The latest end of a request purged now, and the latest arrival of one that arrived."""
    ended = now - dt.timedelta(days=days)
    return ended, min(ended, now - dt.timedelta(days=stay_days))


def due(status: str, ended_at: dt.datetime, now: dt.datetime, days: int, stay_days: int) -> bool:
    """Whether a request in `status` since `ended_at` is purged now."""
    ended, arrived = cutoffs(now, days, stay_days)
    return status in ENDED and ended_at <= (arrived if status == "arrived" else ended)


ALIAS = "purged-"
"""A purged resident's id in a stored run: `purged-1`, `purged-2`, … within that run."""


def scrub_run(
    problem: dict[str, Any], plan: dict[str, Any], ids: Collection[str]
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The run's files without these requests, or None when they name none of them.

    The files still pass `haven match --check`:

    - a purged request leaves the problem and the plan; when she was placed, the plan's
      objective drops by her weight and km and its status becomes `feasible` (the bound
      stays: removing a woman never raises the best placed weight, but the plan left is
      no longer proven best; `bound.total_km` goes, as it bounds only the old weight);
    - a purged resident stays, nameless (`purged-N`), with only what the rules read of
      her against the requests left — her shelter, the contact tokens one of them also
      has, and her `exclude_with` relations with them — so every other woman's rules,
      unplaced reasons and alternatives are what they were; a resident left with none of
      these goes. Residents named so by an earlier purge are trimmed the same way.
    """
    gone = set(ids)
    requests, residents = problem.get("requests", []), problem.get("residents", [])
    linked = any(set(e.get("exclude_with", ())) & gone for e in [*requests, *residents])
    if not (_names(requests, gone) or _names(residents, gone) or linked):
        return None
    kept_requests = [e for e in requests if e.get("id") not in gone]
    request_ids = {e["id"] for e in kept_requests}
    request_tokens = {t for e in kept_requests for t in e.get("contacts", ())}
    aliases: dict[str, str] = {}
    earlier = {e["id"] for e in residents if str(e.get("id", "")).startswith(ALIAS)}
    used = set(earlier)
    kept_residents = []
    for e in residents:
        if e.get("id") not in gone and e.get("id") not in earlier:
            kept_residents.append(_without(e, gone))
            continue
        contacts = [t for t in e.get("contacts", ()) if t in request_tokens]
        apart = [x for x in e.get("exclude_with", ()) if x in request_ids]
        named = any(e["id"] in r.get("exclude_with", ()) for r in kept_requests)
        if not (contacts or apart or named):
            continue
        alias = e["id"] if e["id"] in earlier else _alias(used)
        aliases[e["id"]] = alias
        kept_residents.append(
            {"id": alias, "shelter": e["shelter"], "contacts": contacts, "exclude_with": apart}
        )
    dropped = (gone | earlier) - set(aliases)
    kept_requests = [
        {**e, "exclude_with": [aliases.get(x, x) for x in e["exclude_with"] if x not in dropped]}
        if "exclude_with" in e
        else e
        for e in kept_requests
    ]
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
    return out, _plan_without(plan, gone, {e["id"]: e.get("weight", 1) for e in requests})


def _names(entries: Any, gone: set[str]) -> bool:
    return any(e.get("id") in gone for e in entries or ())


def _without(entry: dict[str, Any], gone: set[str]) -> dict[str, Any]:
    if "exclude_with" not in entry:
        return entry
    return {**entry, "exclude_with": [x for x in entry["exclude_with"] if x not in gone]}


def _alias(used: set[str]) -> str:
    n = 1
    while f"{ALIAS}{n}" in used:
        n += 1
    used.add(f"{ALIAS}{n}")
    return f"{ALIAS}{n}"


def _plan_without(plan: dict[str, Any], gone: set[str], weights: dict[str, int]) -> dict[str, Any]:
    kept: dict[str, Any] = dict(plan)
    for key in ("assignments", "unplaced"):
        if key in plan:
            kept[key] = [x for x in plan[key] if x.get("request") not in gone]
    removed = [a for a in plan.get("assignments", ()) if a.get("request") in gone]
    if removed and "objective" in plan:
        objective = dict(plan["objective"])
        objective["placed_weight"] -= sum(weights.get(a["request"], 1) for a in removed)
        objective["total_km"] -= sum(a.get("km", 0) for a in removed)
        kept["objective"] = objective
        kept["status"] = "feasible"
        if "bound" in plan:
            kept["bound"] = {k: v for k, v in plan["bound"].items() if k != "total_km"}
    return kept
