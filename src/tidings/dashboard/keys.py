"""API keys (seed 000 "API Keys", seed 002 "How to add API Key"): create a standard or
restricted key, see it once, roll it, revoke it. Through services/keys.py, after a step-up."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response

from tidings.core import permissions
from tidings.core.errors import DomainError
from tidings.dashboard import lists
from tidings.dashboard.choices import EXPIRIES
from tidings.dashboard.forms import change_form, expiry, refusal, text
from tidings.dashboard.web import PREFIX, Signed, View, page_router, see_other
from tidings.services import keys as service

router = page_router("/api-keys")

LABELS = {
    "webhooks": "Webhooks",
    "events": "Events",
    "event_types": "Event types",
    "notifications": "Notifications",
    "logs": "Logs",
    "api_keys": "API keys",
    "sources": "Sources",
    "pulls": "Pulls",
    "users": "Users",
}


async def _values(view: View) -> dict[str, Any]:
    rows, _ = await service.page(view.ctx, view.caller, limit=250)
    return {
        "keys": rows,
        "resources": [(r, LABELS.get(r, r)) for r in permissions.RESOURCES],
        "levels": permissions.LEVELS,
        "expiries": EXPIRIES,
    }


_page = lists.add_list_page(router, "keys/list.html", _values)


@router.post("")
async def create(request: Request, view: Signed) -> Response:
    form = await change_form(request, view)
    key_type = "restricted" if text(form, "type") == "restricted" else "secret"
    wanted = None
    categories = None
    if key_type == "restricted":
        wanted = {r: text(form, f"perm_{r}") or "none" for r in permissions.RESOURCES}
        listed = [c.strip() for c in text(form, "categories").split(",") if c.strip()]
        categories = listed or None
    try:
        shown, plaintext = await service.create(
            view.ctx,
            view.caller,
            name=text(form, "name")[:200],
            key_type=key_type,
            wanted=wanted,
            categories=categories,
        )
    except DomainError as exc:
        return await _page(request, view, **refusal(exc, 403, 422))
    return await _page(request, view, created=shown, plaintext=plaintext)


@router.post("/{key_id}/roll")
async def roll(key_id: str, request: Request, view: Signed) -> Response:
    form = await change_form(request, view, service.get(view.ctx, view.caller, key_id))
    shown, plaintext = await service.roll(view.ctx, view.caller, key_id, expiry(form))
    return await _page(request, view, created=shown, plaintext=plaintext, rolled=True)


@router.post("/{key_id}/revoke")
async def revoke(key_id: str, request: Request, view: Signed) -> Response:
    await change_form(request, view, service.get(view.ctx, view.caller, key_id))
    await service.revoke(view.ctx, view.caller, key_id)
    return see_other(f"{PREFIX}/api-keys?notice=Key+revoked")
