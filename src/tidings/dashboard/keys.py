"""API keys (seed 000 "API Keys", seed 002 "How to add API Key"): create a standard or
restricted key, see it once, roll it, revoke it. Through services/keys.py, after a step-up."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from tidings.core import permissions
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
from tidings.dashboard.webhooks import EXPIRIES
from tidings.services import keys as service

router = APIRouter(prefix=f"{PREFIX}/api-keys", route_class=DashboardRoute, include_in_schema=False)

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


async def _page(
    request: Request, view: View, extra: dict[str, object] | None = None, status: int = 200
) -> Response:
    rows, _ = await service.page(view.ctx, view.caller, limit=250)
    return render(
        request,
        "keys/list.html",
        view,
        {
            "keys": rows,
            "resources": [(r, LABELS.get(r, r)) for r in permissions.RESOURCES],
            "levels": permissions.LEVELS,
            "expiries": EXPIRIES,
            **(extra or {}),
        },
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
    kind = text(form, "type")
    key_type = "restricted" if kind == "restricted" else "secret"
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
        if exc.status not in (403, 422):
            raise
        return await _page(request, view, {"error": exc.message}, status=exc.status)
    return await _page(request, view, {"created": shown, "plaintext": plaintext})


@router.post("/{key_id}/roll")
async def roll(key_id: str, request: Request, view: Signed) -> Response:
    await service.get(view.ctx, view.caller, key_id)
    form = await checked_form(request, view.csrf)
    asked = await step_up(request, view, form)
    if asked:
        return asked
    try:
        seconds = parse_expires_in(text(form, "expires_in") or "24h")
    except ValueError as exc:
        raise DomainError(422, f"Expiry: {exc}") from None
    shown, plaintext = await service.roll(view.ctx, view.caller, key_id, seconds)
    return await _page(request, view, {"created": shown, "plaintext": plaintext, "rolled": True})


@router.post("/{key_id}/revoke")
async def revoke(key_id: str, request: Request, view: Signed) -> Response:
    await service.get(view.ctx, view.caller, key_id)
    form = await checked_form(request, view.csrf)
    asked = await step_up(request, view, form)
    if asked:
        return asked
    await service.revoke(view.ctx, view.caller, key_id)
    return see_other(f"{PREFIX}/api-keys?notice=Key+revoked")
