"""The read-mostly pages: Overview, Events (seed 002 "How to view Event"), Logs (seed 000
"Logs") and the Event types catalog."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from typing import Any

from fastapi import Request, Response

from tidings.core.errors import DomainError
from tidings.dashboard import charts
from tidings.dashboard.choices import by_category
from tidings.dashboard.forms import checked_form, text
from tidings.dashboard.web import PREFIX, Signed, View, page_router, render, see_other
from tidings.services import event_types as event_type_service
from tidings.services import events as event_service
from tidings.services import logs as log_service
from tidings.services import overview as overview_service

router = page_router()

LOG_TABS = [("all", "All"), ("succeeded", "Succeeded"), ("failed", "Failed")]


@router.get("")
async def overview(request: Request, view: Signed) -> Response:
    figures = await overview_service.overview(view.ctx, view.access)
    return render(
        request,
        "overview.html",
        view,
        {"figures": figures, "chart": charts.stacked_hours(figures["hours"])},
    )


@router.get("/events")
async def events_page(request: Request, view: Signed) -> Response:
    cursor = request.query_params.get("cursor") or None
    rows, next_cursor = await event_service.page(view.ctx, view.access, limit=50, cursor=cursor)
    return render(request, "events/list.html", view, {"events": rows, "next_cursor": next_cursor})


@router.get("/events/{event_id}")
async def event_page(event_id: str, request: Request, view: Signed) -> Response:
    event = await event_service.get(view.ctx, view.access, event_id)
    log = None
    if event.get("request"):
        try:
            log = await log_service.get(view.ctx, view.caller, event["request"]["id"])
        except DomainError:
            log = None
    return render(
        request,
        "events/detail.html",
        view,
        {
            "event": event,
            "log": log,
            "data": json.dumps(event["event_data"], indent=2, ensure_ascii=False),
        },
    )


def _moment(value: str | None, field: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise DomainError(422, f"{field}: use a date and time such as 2026-12-03T09:30") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


async def _log_rows(request: Request, view: View) -> dict[str, Any]:
    query = request.query_params
    status = query.get("status") or "all"
    if status not in ("all", "succeeded", "failed"):
        status = "all"
    log_type = query.get("type") or None
    if log_type not in (None, "normal", "sync"):
        log_type = None
    filters = {
        "status": status,
        "type": log_type or "",
        "from": query.get("from") or "",
        "to": query.get("to") or "",
        "url": query.get("url") or "",
    }
    rows, next_cursor = await log_service.page(
        view.ctx,
        view.caller,
        status=status,
        log_type=log_type,
        start=_moment(filters["from"], "From"),
        end=_moment(filters["to"], "To"),
        path=filters["url"] or None,
        limit=50,
        cursor=query.get("cursor") or None,
    )
    return {"logs": rows, "next_cursor": next_cursor, "filters": filters, "tabs": LOG_TABS}


@router.get("/logs")
async def logs_page(request: Request, view: Signed) -> Response:
    values = await _log_rows(request, view)
    opened = request.query_params.get("open")
    if opened:
        values["detail"] = await log_service.get(view.ctx, view.caller, opened)
    return render(request, "logs/list.html", view, values)


@router.get("/logs/{log_id}")
async def log_detail(log_id: str, request: Request, view: Signed) -> Response:
    detail = await log_service.get(view.ctx, view.caller, log_id)
    if request.headers.get("hx-request"):
        return render(request, "logs/_detail.html", view, {"detail": detail})
    values = await _log_rows(request, view)
    values["detail"] = detail
    return render(request, "logs/list.html", view, values)


@router.get("/event-types")
async def event_types_page(request: Request, view: Signed) -> Response:
    types, _ = await event_type_service.page(view.ctx, view.caller, limit=250)
    shown = [
        {**item, "schema_text": json.dumps(item["schema"], indent=2) if item["schema"] else None}
        for item in types
    ]
    return render(
        request,
        "event_types.html",
        view,
        {"groups": by_category(shown), "writable": view.may("event_types", "write")},
    )


@router.post("/event-types")
async def add_event_type(request: Request, view: Signed) -> Response:
    form = await checked_form(request, view.csrf)
    name = text(form, "name")
    if not re.fullmatch(event_type_service.NAME_PATTERN, name):
        raise DomainError(422, "Name: letters, digits and . _ : - only, such as invoice.paid")
    schema_text = text(form, "schema")
    try:
        schema = json.loads(schema_text) if schema_text else None
    except ValueError:
        raise DomainError(422, "Schema: not valid JSON") from None
    await event_type_service.create(
        view.ctx,
        view.caller,
        name,
        {
            "category": text(form, "category") or None,
            "description": text(form, "description") or None,
            "schema": schema,
        },
    )
    return see_other(f"{PREFIX}/event-types?notice=Event+type+added")
