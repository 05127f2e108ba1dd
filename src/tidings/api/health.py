"""Operations: ``/healthz`` (the process is up), ``/readyz`` (it can work: the database answers,
its schema is this version's, the worker where it runs one is going round) and ``/metrics``."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST

from tidings import __version__
from tidings.api.deps import Ctx
from tidings.runtime.metrics import render
from tidings.store.migrate import readiness

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
        migrations = await readiness(ctx.db)
        checks["database"] = "ok"
        checks["migrations"] = migrations
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


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {CONTENT_TYPE_LATEST: {}}, "description": "Prometheus text"}},
)
async def metrics(ctx: Ctx) -> Response:
    """Prometheus metrics: events published, notifications by outcome, attempt durations,
    the due queue and its oldest entry, open circuit breakers, the worker heartbeat."""
    return Response(await render(ctx), media_type=CONTENT_TYPE_LATEST)
