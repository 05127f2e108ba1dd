"""The Webhooks pages (seed 000 "Setting Up an Endpoint", seed 002 "Add Webhook"): the list,
"Add webhook", and a webhook's page with its details, status, secret, test event and
notifications. Every change goes through services/webhooks.py after a step-up."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.datastructures import FormData

from tidings.core.durations import parse_expires_in
from tidings.core.errors import DomainError
from tidings.dashboard import charts
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
from tidings.services import event_types as event_type_service
from tidings.services import notifications as notification_service
from tidings.services import overview as overview_service
from tidings.services import publish
from tidings.services import webhooks as service

router = APIRouter(prefix=f"{PREFIX}/webhooks", route_class=DashboardRoute, include_in_schema=False)

EXPIRIES = [("now", "Now"), ("1h", "1 hour"), ("2h", "2 hours"), ("24h", "24 hours")]


async def catalog(view: View) -> list[tuple[str, list[dict[str, Any]]]]:
    """The account's event types grouped by category (uncategorised last)."""
    types, _ = await event_type_service.page(view.ctx, view.caller, limit=250)
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for item in types:
        groups[item["category"] or ""].append(item)
    return sorted(groups.items(), key=lambda g: (g[0] == "", g[0].lower()))


def _fields(form: FormData) -> dict[str, Any]:
    return {
        "url": text(form, "url"),
        "description": text(form, "description") or None,
        "category": text(form, "category") or None,
        "event_types": [v for v in form.getlist("events") if isinstance(v, str) and v],
    }


@router.get("")
async def list_page(request: Request, view: Signed) -> Response:
    rows, _ = await service.page(view.ctx, view.access, limit=250)
    rates = await overview_service.success_by_webhook(view.ctx, view.access)
    sparks = {w["id"]: charts.sparkline(rates.get(w["id"], [])) for w in rows}
    return render(request, "webhooks/list.html", view, {"webhooks": rows, "sparks": sparks})


@router.get("/new")
async def new_page(request: Request, view: Signed) -> Response:
    return render(
        request,
        "webhooks/new.html",
        view,
        {"catalog": await catalog(view), "values": {"event_types": []}},
    )


@router.post("")
async def create(request: Request, view: Signed) -> Response:
    form = await checked_form(request, view.csrf)
    asked = await step_up(request, view, form)
    if asked:
        return asked
    fields = _fields(form)
    try:
        made = await service.create(view.ctx, view.access, fields)
    except DomainError as exc:
        if exc.status not in (409, 422):
            raise
        return render(
            request,
            "webhooks/new.html",
            view,
            {"catalog": await catalog(view), "values": fields, "error": exc.message},
            status_code=exc.status,
        )
    return see_other(f"{PREFIX}/webhooks/{made['id']}?notice=Webhook+added")


async def _detail(
    request: Request, view: View, webhook_id: str, extra: dict[str, Any] | None = None
) -> Response:
    webhook = await service.get(view.ctx, view.access, webhook_id)
    listed, _ = await notification_service.page(
        view.ctx, view.access, webhook_id=webhook_id, limit=20
    )
    notifications = [await notification_service.get(view.ctx, view.access, n["id"]) for n in listed]
    values = {
        "webhook": webhook,
        "catalog": await catalog(view),
        "notifications": notifications,
        "expiries": EXPIRIES,
        **(extra or {}),
    }
    status = 200
    if extra and extra.get("error_status"):
        status = int(extra["error_status"])
    return render(request, "webhooks/detail.html", view, values, status_code=status)


@router.get("/{webhook_id}")
async def detail_page(webhook_id: str, request: Request, view: Signed) -> Response:
    return await _detail(request, view, webhook_id)


@router.post("/{webhook_id}")
async def update(webhook_id: str, request: Request, view: Signed) -> Response:
    await service.get(view.ctx, view.access, webhook_id)  # 404 before asking for a code
    form = await checked_form(request, view.csrf)
    asked = await step_up(request, view, form)
    if asked:
        return asked
    try:
        await service.update(view.ctx, view.access, webhook_id, _fields(form))
    except DomainError as exc:
        if exc.status not in (409, 422):
            raise
        return await _detail(
            request, view, webhook_id, {"error": exc.message, "error_status": exc.status}
        )
    return see_other(f"{PREFIX}/webhooks/{webhook_id}?notice=Details+updated")


@router.post("/{webhook_id}/status")
async def set_status(webhook_id: str, request: Request, view: Signed) -> Response:
    await service.get(view.ctx, view.access, webhook_id)
    form = await checked_form(request, view.csrf)
    asked = await step_up(request, view, form)
    if asked:
        return asked
    status = "Active" if text(form, "status") == "Active" else "Disabled"
    await service.set_status(view.ctx, view.access, webhook_id, status)
    notice = "Webhook+activated" if status == "Active" else "Webhook+disabled"
    return see_other(f"{PREFIX}/webhooks/{webhook_id}?notice={notice}")


@router.get("/{webhook_id}/delete")
async def delete_page(webhook_id: str, request: Request, view: Signed) -> Response:
    webhook = await service.get(view.ctx, view.access, webhook_id)
    return render(request, "webhooks/delete.html", view, {"webhook": webhook})


@router.post("/{webhook_id}/delete")
async def delete(webhook_id: str, request: Request, view: Signed) -> Response:
    await service.get(view.ctx, view.access, webhook_id)
    form = await checked_form(request, view.csrf)
    asked = await step_up(request, view, form)
    if asked:
        return asked
    await service.delete(view.ctx, view.access, webhook_id)
    return see_other(f"{PREFIX}/webhooks?notice=Webhook+deleted")


@router.post("/{webhook_id}/secret")
async def reveal_secret(webhook_id: str, request: Request, view: Signed) -> Response:
    await service.get(view.ctx, view.access, webhook_id)
    form = await checked_form(request, view.csrf)
    asked = await step_up(request, view, form)
    if asked:
        return asked
    secret = await service.secret(view.ctx, view.access, webhook_id)
    return await _detail(request, view, webhook_id, {"secret": secret})


@router.post("/{webhook_id}/secret/roll")
async def roll_secret(webhook_id: str, request: Request, view: Signed) -> Response:
    await service.get(view.ctx, view.access, webhook_id)
    form = await checked_form(request, view.csrf)
    asked = await step_up(request, view, form)
    if asked:
        return asked
    try:
        seconds = parse_expires_in(text(form, "expires_in") or "24h")
    except ValueError as exc:
        raise DomainError(422, f"Expiry: {exc}") from None
    secret, expires_at = await service.roll_secret(view.ctx, view.access, webhook_id, seconds)
    return await _detail(
        request, view, webhook_id, {"secret": secret, "rolled": True, "old_expires": expires_at}
    )


@router.post("/{webhook_id}/test")
async def send_test(webhook_id: str, request: Request, view: Signed) -> Response:
    await service.get(view.ctx, view.access, webhook_id)
    form = await checked_form(request, view.csrf)
    event_type = text(form, "event_type")
    try:
        publication = await publish.publish_test(
            view.ctx,
            view.access,
            [webhook_id],
            event_type,
            {"test": True, "message": "A test event sent from the dashboard"},
            log_id=getattr(request.state, "request_id", None),
        )
    except DomainError as exc:
        if exc.status not in (404, 422):
            raise
        return await _detail(
            request, view, webhook_id, {"error": exc.message, "error_status": exc.status}
        )
    event_id = publication.event["id"]
    return see_other(f"{PREFIX}/webhooks/{webhook_id}?notice=Test+event+{event_id}+sent")


@router.post("/{webhook_id}/notifications/{notification_id}/resend")
async def resend(webhook_id: str, notification_id: str, request: Request, view: Signed) -> Response:
    await checked_form(request, view.csrf)
    await notification_service.resend(view.ctx, view.access, notification_id)
    return see_other(f"{PREFIX}/webhooks/{webhook_id}?notice=Notification+sent+again")
