"""Reads of many requests at once in the audit log: one chained record per read.

A readiness board shows an agency dozens of women (refs included), and each is a read to
audit. Each audit record locks the chain's head until its transaction commits, so one
record per woman made concurrent boards queue behind each other. A board read is instead
one record, kind `readiness.read`, whose detail is `read=N,requests=K,sha256=D`: the
read's number, how many requests it showed, and the sha256 of their ids (sorted, joined by
commas). The ids themselves are rows of `audit_reads` (migration 011), written first, so
the head is held for one record. `verify` recomputes every read's digest from its rows,
so a row added or removed there breaks the audit as an edited record breaks the chain.

Who read request r…: `select a.* from audit_reads r join audit_log a on a.kind =
'readiness.read' and a.detail like 'read=' || r.read_id || ',%' where r.request_id = $1`.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence

from exchange.audit import store as audit
from exchange.placements import store

KIND = "readiness.read"
"""Ends in `.read`: the planner channel, which follows changes, passes over it."""

_DETAIL = re.compile(r"^read=([0-9]+),requests=([0-9]+),sha256=([0-9a-f]{64})(?:,|$)")


def digest(request_ids: Sequence[str]) -> str:
    """The sha256 (hex) of these ids, sorted and joined by commas."""
    return hashlib.sha256(",".join(sorted(request_ids)).encode()).hexdigest()


async def record(
    conn: audit.Conn, token_id: int | None, subject: str, request_ids: Sequence[str], note: str
) -> int:
    """Record one read of these requests: their rows, then one chained record (`note` ends
    its detail); the read's number.

    In the caller's transaction when there is one. Outside one, each statement commits on
    its own, so the chain's head is held for one statement, never across a round trip to
    the client (the board's way); rows whose record then failed are named by no record,
    and the read was never answered."""
    ids = sorted(set(request_ids))
    read_id = await store.insert_read(conn, ids)
    detail = f"read={read_id},requests={len(ids)},sha256={digest(ids)}"
    await audit.append(conn, token_id, KIND, subject, f"{detail},{note}" if note else detail)
    return read_id


async def verify(conn: audit.Conn, *, batch: int = 10_000) -> audit.Verified:
    """Every read's rows against the count and digest its chained record names; `rows`
    counts the reads checked. Run it after `audit.verify`, which vouches for the records."""
    after, checked = 0, 0
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        while True:
            chunk = await store.read_records(conn, KIND, after, batch)
            for r in chunk:
                found = _DETAIL.match(r.detail)
                if found is None:
                    problem = "a readiness.read record that names no read"
                elif (int(found.group(2)), found.group(3)) != (r.requests, r.digest):
                    problem = (
                        f"read {found.group(1)}: its requests in audit_reads are not the "
                        f"{found.group(2)} its record names"
                    )
                else:
                    after, checked = r.id, checked + 1
                    continue
                broken = audit.Broken(id=r.id, problem=problem)
                return audit.Verified(ok=False, rows=checked, broken=broken)
            if len(chunk) < batch:
                return audit.Verified(ok=True, rows=checked)
