"""Pulls (seed 000 "Pull"): the list, create, "Run now", enable/disable, delete, and a pull's
runs. Through services/pulls.py and services/pull_runs.py, after a step-up for changes."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from tidings.core.errors import DomainError
from tidings.dashboard import lists
from tidings.dashboard.choices import catalog
from tidings.dashboard.forms import change_form, checked_form, refusal, text, typed
from tidings.dashboard.web import PREFIX, Signed, View, page_router, render, see_other
from tidings.services import pull_runs as run_service
from tidings.services import pulls as service

router = page_router("/pulls")


async def _values(view: View) -> dict[str, Any]:
    rows, _ = await service.page(view.ctx, view.access, limit=250)
    return {"pulls": rows, "catalog": await catalog(view)}


_page = lists.add_list_page(router, "pulls/list.html", _values)


@router.post("")
async def create(request: Request, view: Signed) -> Response:
    form = await change_form(request, view)
    fields: dict[str, Any] = {
        "name": text(form, "name"),
        "category": text(form, "category") or None,
        "url": text(form, "url"),
        "username": text(form, "username") or None,
        "password": typed(form, "password"),
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
        return await _page(request, view, **refusal(exc, 403, 404, 409, 422))
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


lists.add_status_and_delete(router, service, "Pull")
