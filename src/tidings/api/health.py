"""``/healthz``: the process is up. ``/readyz``: it can do its work — the database answers,
its schema is this version's, and the worker (where this process runs one) is going round."""

from __future__ import annotations

import time
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter
from fastapi.responses import JSONResponse

from tidings import __version__
from tidings.api.deps import Ctx
from tidings.store.migrate import current_revision, head_revision

router = APIRouter(tags=["operations"])

# A worker whose loop has not turned for this long is stuck.
HEARTBEAT_STALE = 60.0


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok", "version": __version__}


@router.get(
    "/readyz",
    responses={503: {"description": "Not ready: a check failed (see checks)"}},
)
async def readyz(ctx: Ctx) -> JSONResponse:
    checks: dict[str, Any] = {}
    try:
        async with ctx.db.read() as conn:
            await conn.execute(sa.text("SELECT 1"))
            revision = await current_revision(conn)
        checks["database"] = "ok"
        expected = head_revision()
        checks["migrations"] = (
            "ok" if revision == expected else f"at {revision}, this version needs {expected}"
        )
    except Exception as exc:  # any failure to reach the database means not ready
        checks["database"] = f"unreachable: {type(exc).__name__}"
    if ctx.settings.role in ("worker", "all"):
        beat = ctx.worker_heartbeat
        age = None if beat is None else time.monotonic() - beat
        checks["worker"] = (
            "ok" if age is not None and age < HEARTBEAT_STALE else f"no heartbeat for {age}s"
        )
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ready" if ready else "not ready", "checks": checks},
        status_code=200 if ready else 503,
    )
