"""The demo's release planner: asks for beds over the placements API, as a planner would.

Speaks only HTTP (the standard library's client, run in a thread): withdraw what an
earlier demo left open, create today's requests, and run matching for the demo states.
"""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import Any

import msgspec

from schema.placements import NewRequest, RunResult


class PlannerError(RuntimeError):
    """The exchange refused a planner's call; the message says which and why."""


def _call(base: str, token: str, method: str, path: str, body: object = None) -> Any:
    data = None if body is None else msgspec.json.encode(body)
    request = urllib.request.Request(
        base + path,
        data=data,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=120) as answer:
            return json.loads(answer.read() or b"null")
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:300]
        raise PlannerError(f"{method} {path}: HTTP {exc.code} {detail}") from None


def _plan(
    base: str, planner: str, admin: str, requests: Sequence[NewRequest], regions: list[str]
) -> tuple[int, int, RunResult]:
    live = _call(base, planner, "GET", "/api/requests")
    withdrawn = 0
    for r in live:
        if r["status"] in ("open", "offered", "accepted"):
            _call(base, planner, "DELETE", f"/api/requests/{r['id']}")
            withdrawn += 1
    for r in requests:
        _call(base, planner, "POST", "/api/requests", r)
    run = _call(base, admin, "POST", "/api/matching/runs", {"regions": regions})
    return withdrawn, len(requests), msgspec.convert(run, RunResult)


async def plan(
    base: str, planner: str, admin: str, requests: Sequence[NewRequest], regions: list[str]
) -> tuple[int, int, RunResult]:
    """Withdraw the agency's live requests, create these, run matching: (withdrawn,
    created, the run)."""
    return await asyncio.to_thread(_plan, base, planner, admin, requests, regions)
