"""The Webhooks pages (seed 000 "Setting Up an Endpoint", seed 002 "Add Webhook"): the list,
"Add webhook", and a webhook's page with its details, status, secret, test event and
notifications. Every change goes through services/webhooks.py after a step-up."""

from __future__ import annotations

from typing import Any

from fastapi import Request, Response
from starlette.datastructures import FormData

from tidings.core.errors import DomainError
from tidings.dashboard import charts, lists
from tidings.dashboard.choices import EXPIRIES, catalog
from tidings.dashboard.forms import change_form, checked_form, expiry, refusal, text
from tidings.dashboard.web import PREFIX, Signed, View, page_router, render, see_other
from tidings.services import notifications as notification_service
from tidings.services import overview as overview_service
from tidings.services import publish
from tidings.services import webhooks as service

router = page_router("/webhooks")


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


async def _new(request: Request, view: View, values: dict[str, Any], **extra: Any) -> Response:
    """The "Add webhook" form, filled with ``values``."""
    shown = {"catalog": await catalog(view), "values": values, **extra}
    return render(request, "webhooks/new.html", view, shown)


@router.get("/new")
async def new_page(request: Request, view: Signed) -> Response:
    return await _new(request, view, {"event_types": []})


@router.post("")
async def create(request: Request, view: Signed) -> Response:
    form = await change_form(request, view)
    fields = _fields(form)
    try:
        made = await service.create(view.ctx, view.access, fields)
    except DomainError as exc:
        return await _new(request, view, fields, **refusal(exc, 409, 422))
    return see_other(f"{PREFIX}/webhooks/{made['id']}?notice=Webhook+added")


async def _detail(request: Request, view: View, webhook_id: str, **extra: Any) -> Response:
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
        **extra,
    }
    return render(request, "webhooks/detail.html", view, values)


@router.get("/{webhook_id}")
async def detail_page(webhook_id: str, request: Request, view: Signed) -> Response:
    return await _detail(request, view, webhook_id)


@router.post("/{webhook_id}")
async def update(webhook_id: str, request: Request, view: Signed) -> Response:
    form = await change_form(request, view, service.get(view.ctx, view.access, webhook_id))
    try:
        await service.update(view.ctx, view.access, webhook_id, _fields(form))
    except DomainError as exc:
        return await _detail(request, view, webhook_id, **refusal(exc, 409, 422))
    return see_other(f"{PREFIX}/webhooks/{webhook_id}?notice=Details+updated")


@router.post("/{webhook_id}/status")
async def set_status(webhook_id: str, request: Request, view: Signed) -> Response:
    active = await lists.switch(request, view, service, webhook_id)
    notice = "Webhook+activated" if active else "Webhook+disabled"
    return see_other(f"{PREFIX}/webhooks/{webhook_id}?notice={notice}")


@router.get("/{webhook_id}/delete")
async def delete_page(webhook_id: str, request: Request, view: Signed) -> Response:
    webhook = await service.get(view.ctx, view.access, webhook_id)
    return render(request, "webhooks/delete.html", view, {"webhook": webhook})


@router.post("/{webhook_id}/delete")
async def delete(webhook_id: str, request: Request, view: Signed) -> Response:
    await lists.remove(request, view, service, webhook_id)
    return see_other(f"{PREFIX}/webhooks?notice=Webhook+deleted")


@router.post("/{webhook_id}/secret")
async def reveal_secret(webhook_id: str, request: Request, view: Signed) -> Response:
    await change_form(request, view, service.get(view.ctx, view.access, webhook_id))
    secret = await service.secret(view.ctx, view.access, webhook_id)
    return await _detail(request, view, webhook_id, secret=secret)


@router.post("/{webhook_id}/secret/roll")
async def roll_secret(webhook_id: str, request: Request, view: Signed) -> Response:
    form = await change_form(request, view, service.get(view.ctx, view.access, webhook_id))
    secret, expires_at = await service.roll_secret(view.ctx, view.access, webhook_id, expiry(form))
    rolled = {"secret": secret, "rolled": True, "old_expires": expires_at}
    return await _detail(request, view, webhook_id, **rolled)


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
        return await _detail(request, view, webhook_id, **refusal(exc, 404, 422))
    event_id = publication.event["id"]
    return see_other(f"{PREFIX}/webhooks/{webhook_id}?notice=Test+event+{event_id}+sent")


@router.post("/{webhook_id}/notifications/{notification_id}/resend")
async def resend(webhook_id: str, notification_id: str, request: Request, view: Signed) -> Response:
    await checked_form(request, view.csrf)
    await notification_service.resend(view.ctx, view.access, notification_id)
    return see_other(f"{PREFIX}/webhooks/{webhook_id}?notice=Notification+sent+again")
