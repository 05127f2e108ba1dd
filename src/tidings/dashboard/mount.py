"""Mounting the dashboard on the application at ``/dashboard``."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from tidings.dashboard import auth, keys, pages, pulls, sources, webhooks
from tidings.dashboard.web import HERE, PREFIX


def install(app: FastAPI) -> None:
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="dashboard-static")
    for module in (auth, pages, webhooks, keys, sources, pulls):
        app.include_router(module.router)
