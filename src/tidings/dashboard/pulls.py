"""Pulls (seed 000 "Pull"): the list, create, "Run now", enable/disable, delete, and a pull's
runs. Through services/pulls.py and services/pull_runs.py, after a step-up for changes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from tidings.core.errors import DomainError
from tidings.dashboard.web import (
    PREFIX,
    DashboardRoute,
    Signed,
    View,
    checked_form,
    render,
    see_other,
    step_up,
    text,
)
from tidings.dashboard.webhooks import catalog
from tidings.services import pull_runs as run_service
from tidings.services import pulls as service

router = APIRouter(prefix=f"{PREFIX}/pulls", route_class=DashboardRoute, include_in_schema=False)


async def _page(
    request: Request, view: View, extra: dict[str, Any] | None = None, status: int = 200
) -> Response:
    rows, _ = await service.page(view.ctx, view.access, limit=250)
    return render(
        request,
        "pulls/list.html",
        view,
        {"pulls": rows, "catalog": await catalog(view), **(extra or {})},
        status_code=status,
    )


@router.get("")
async def list_page(request: Request, view: Signed) -> Response:
    return await _page(request, view)


@router.post("")
async def create(request: Request, view: Signed) -> Response:
    form = await checked_form(request, view.csrf)
    asked = await step_up(request, view, form)
    if asked:
        return asked
    password = form.get("password")
    fields: dict[str, Any] = {
        "name": text(form, "name"),
        "category": text(form, "category") or None,
        "url": text(form, "url"),
        "username": text(form, "username") or None,
        "password": password if isinstance(password, str) and password else None,
        "timezone": text(form, "timezone") or "UTC",
        "frequency": text(form, "frequency"),
        "schedule": text(form, "schedule") or None,
        "event_type": text(form, "event_type"),
        "records_pointer": text(form, "records_pointer") or None,
        "id_pointer": text(form, "id_pointer") or None,
    }
    try:
        made = await service.create(view.ctx, view.access, fields)
    except DomainError as exc:
        if exc.status not in (403, 404, 409, 422):
            raise
        return await _page(request, view, {"error": exc.message}, status=exc.status)
    return see_other(f"{PREFIX}/pulls/{made['id']}?notice=Pull+created")


@router.get("/{pull_id}")
async def detail_page(pull_id: str, request: Request, view: Signed) -> Response:
    pull = await service.get(view.ctx, view.access, pull_id)
    runs, _ = await run_service.page(view.ctx, view.access, pull_id, limit=50)
    return render(request, "pulls/detail.html", view, {"pull": pull, "runs": runs})


@router.post("/{pull_id}/run")
async def run_now(pull_id: str, request: Request, view: Signed) -> Response:
    await checked_form(request, view.csrf)
    try:
        ran = await run_service.run_now(view.ctx, view.access, pull_id)
    except DomainError as exc:
        if exc.status != 409:
            raise
        return see_other(f"{PREFIX}/pulls/{pull_id}?notice={exc.message.replace(' ', '+')}")
    return see_other(f"{PREFIX}/pulls/{pull_id}?notice=Run+{ran['status']}")


@router.post("/{pull_id}/status")
async def set_status(pull_id: str, request: Request, view: Signed) -> Response:
    await service.get(view.ctx, view.access, pull_id)
    form = await checked_form(request, view.csrf)
    asked = await step_up(request, view, form)
    if asked:
        return asked
    status = "Active" if text(form, "status") == "Active" else "Disabled"
    await service.set_status(view.ctx, view.access, pull_id, status)
    done = "enabled" if status == "Active" else "disabled"
    return see_other(f"{PREFIX}/pulls?notice=Pull+{done}")


@router.post("/{pull_id}/delete")
async def delete(pull_id: str, request: Request, view: Signed) -> Response:
    await service.get(view.ctx, view.access, pull_id)
    form = await checked_form(request, view.csrf)
    asked = await step_up(request, view, form)
    if asked:
        return asked
    await service.delete(view.ctx, view.access, pull_id)
    return see_other(f"{PREFIX}/pulls?notice=Pull+deleted")
