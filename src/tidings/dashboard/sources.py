"""Sources (seed 000 "Push"): the list, create (the ingest URL and the key or secret shown
once), roll, enable/disable and delete. Through services/sources.py, after a step-up."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from tidings.core.errors import DomainError
from tidings.dashboard import lists
from tidings.dashboard.choices import EXPIRIES, catalog
from tidings.dashboard.forms import change_form, expiry, refusal, text, typed
from tidings.dashboard.web import Signed, View, page_router
from tidings.services import sources as service

router = page_router("/sources")


async def _values(view: View) -> dict[str, Any]:
    rows, _ = await service.page(view.ctx, view.access, limit=250)
    return {"sources": rows, "catalog": await catalog(view), "expiries": EXPIRIES}


_page = lists.add_list_page(router, "sources/list.html", _values)


@router.post("")
async def create(request: Request, view: Signed) -> Response:
    form = await change_form(request, view)
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
        fields["password"] = typed(form, "password")
    if auth_type == "hmac":
        fields["signature_scheme"] = "standard"
    try:
        made = await service.create(view.ctx, view.access, fields)
    except DomainError as exc:
        return await _page(request, view, **refusal(exc, 403, 404, 409, 422))
    return await _page(request, view, created=made)


@router.post("/{source_id}/roll")
async def roll(source_id: str, request: Request, view: Signed) -> Response:
    form = await change_form(request, view, service.get(view.ctx, view.access, source_id))
    rolled = await service.roll(view.ctx, view.access, source_id, expiry(form))
    return await _page(request, view, created=rolled, rolled=True)


lists.add_status_and_delete(router, service, "Source")
