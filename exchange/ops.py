"""Operations endpoints: liveness, readiness (database reachable, migrations current)."""

from __future__ import annotations

import asyncio
from typing import Any

from litestar import Request, get
from litestar.response import Response

from exchange import db


@get("/livez", include_in_schema=False, sync_to_thread=False)
def livez() -> dict[str, str]:
    return {"status": "ok"}


@get("/readyz", include_in_schema=False)
async def readyz(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    pool = request.app.state.pool
    try:
        async with asyncio.timeout(2):
            async with pool.acquire() as conn:
                todo = await db.pending(conn)
    except Exception as exc:  # any failure to reach the database means not ready
        return Response({"status": "unready", "reason": f"database: {type(exc).__name__}"}, status_code=503)
    if todo:
        return Response({"status": "unready", "reason": f"migrations pending: {todo}"}, status_code=503)
    return Response({"status": "ready"}, status_code=200)


ROUTES = [livez, readyz]
