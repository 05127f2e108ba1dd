"""Sources (seed 000 "Push"): the list, create (the ingest URL and the key or secret shown
once), roll, enable/disable and delete. Through services/sources.py, after a step-up."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from tidings.core.durations import parse_expires_in
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
from tidings.dashboard.webhooks import EXPIRIES, catalog
from tidings.services import sources as service

router = APIRouter(prefix=f"{PREFIX}/sources", route_class=DashboardRoute, include_in_schema=False)


async def _page(
    request: Request, view: View, extra: dict[str, Any] | None = None, status: int = 200
) -> Response:
    rows, _ = await service.page(view.ctx, view.access, limit=250)
    return render(
        request,
        "sources/list.html",
        view,
        {"sources": rows, "catalog": await catalog(view), "expiries": EXPIRIES, **(extra or {})},
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
    auth_type = text(form, "auth_type") or "api-key"
    fields: dict[str, Any] = {
        "name": text(form, "name"),
        "category": text(form, "category") or None,
        "event_type": text(form, "event_type"),
        "event_type_pointer": text(form, "event_type_pointer") or None,
        "status": "Active",
        "auth_type": auth_type,
    }
    if auth_type == "basic":
        fields["username"] = text(form, "username") or None
        password = form.get("password")
        fields["password"] = password if isinstance(password, str) and password else None
    if auth_type == "hmac":
        fields["signature_scheme"] = "standard"
    try:
        made = await service.create(view.ctx, view.access, fields)
    except DomainError as exc:
        if exc.status not in (403, 404, 409, 422):
            raise
        return await _page(request, view, {"error": exc.message}, status=exc.status)
    return await _page(request, view, {"created": made})


@router.post("/{source_id}/roll")
async def roll(source_id: str, request: Request, view: Signed) -> Response:
    await service.get(view.ctx, view.access, source_id)
    form = await checked_form(request, view.csrf)
    asked = await step_up(request, view, form)
    if asked:
        return asked
    try:
        seconds = parse_expires_in(text(form, "expires_in") or "24h")
    except ValueError as exc:
        raise DomainError(422, f"Expiry: {exc}") from None
    rolled = await service.roll(view.ctx, view.access, source_id, seconds)
    return await _page(request, view, {"created": rolled, "rolled": True})


@router.post("/{source_id}/status")
async def set_status(source_id: str, request: Request, view: Signed) -> Response:
    await service.get(view.ctx, view.access, source_id)
    form = await checked_form(request, view.csrf)
    asked = await step_up(request, view, form)
    if asked:
        return asked
    status = "Active" if text(form, "status") == "Active" else "Disabled"
    await service.set_status(view.ctx, view.access, source_id, status)
    return see_other(
        f"{PREFIX}/sources?notice=Source+{'enabled' if status == 'Active' else 'disabled'}"
    )


@router.post("/{source_id}/delete")
async def delete(source_id: str, request: Request, view: Signed) -> Response:
    await service.get(view.ctx, view.access, source_id)
    form = await checked_form(request, view.csrf)
    asked = await step_up(request, view, form)
    if asked:
        return asked
    await service.delete(view.ctx, view.access, source_id)
    return see_other(f"{PREFIX}/sources?notice=Source+deleted")
