"""``/healthz``: the process is up and answering."""

from __future__ import annotations

from fastapi import APIRouter

from tidings import __version__

router = APIRouter(tags=["operations"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    return {"status": "ok", "version": __version__}
