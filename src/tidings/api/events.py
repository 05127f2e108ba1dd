"""``/v1/events`` and ``/v1/test-events``: publishing, and the record of what was published.

A 202 means the event and its notifications are committed: nothing accepted is lost."""

from __future__ import annotations

import hashlib
from typing import Annotated, Any

import sqlalchemy as sa
import structlog
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from pydantic import AliasChoices, Field
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from tidings import metrics
from tidings.api.deps import Access, Ctx, allow, in_categories
from tidings.api.errors import ApiError, not_found
from tidings.api.event_types import Name
from tidings.api.logs import LogSummary, find_log
from tidings.api.model import ApiModel, ApiOut, Page
from tidings.api.notifications import (
    NotificationDetail,
    NotificationOut,
    attempt_out,
    notification_fields,
)
from tidings.api.timerange import From, To, within
from tidings.core.clock import to_iso
from tidings.core.jsonbytes import dumps, event_bytes, loads, payload_problem
from tidings.core.schemas import data_problem
from tidings.store import events as store
from tidings.store import webhooks as webhook_store
from tidings.store.paging import DEFAULT_LIMIT, MAX_LIMIT, fetch_page
from tidings.store.publisher import NewEvent
from tidings.store.tables import events

router = APIRouter(tags=["events"])
log = structlog.get_logger("tidings.events")

Read = Annotated[Access, Depends(allow("events", "read"))]
Write = Annotated[Access, Depends(allow("events", "write"))]


class EventIn(ApiModel):
    event_type: Name
    event_data: dict[str, Any] = Field(description="The event's data: a JSON object")


class TestEventIn(EventIn):
    webhook_ids: list[str] = Field(
        min_length=1,
        max_length=100,
        validation_alias=AliasChoices("webhookIds", "webHookIds"),
        description="The webhooks to reach, Active or Disabled ('webHookIds' is accepted too)",
    )


class EventOut(ApiOut):
    id: str
    event_type: str
    event_data: dict[str, Any]
    idempotency_key: str | None
    test: bool
    created_at: str
    notifications: list[NotificationOut] | None = Field(
        description="In publish answers; null in lists"
    )


class EventDetail(EventOut):
    request: LogSummary | None = Field(
        description="The API request that published it (whole record: GET /v1/logs/{id})"
    )
    notifications: list[NotificationDetail]  # type: ignore[assignment]


def _out(row: Row[Any], notifications: list[Row[Any]] | None) -> EventOut:
    return EventOut(
        id=row.id,
        event_type=row.event_type,
        event_data=loads(row.data),
        idempotency_key=row.idempotency_key,
        test=row.is_test,
        created_at=to_iso(row.created_at),
        notifications=None
        if notifications is None
        else [NotificationOut(**notification_fields(n._mapping)) for n in notifications],
    )


def _check_payload(body: EventIn, max_depth: int) -> bytes:
    """The event data as it will be stored and sent, once it is known to be carriable."""
    problem = payload_problem(body.event_data, "eventData", max_depth)
    if problem:
        path, message = problem
        raise ApiError(422, f"{path}: {message}", details=[{"field": path, "message": message}])
    return event_bytes(body.event_data)


async def _validate(ctx: Ctx, access: Access, body: EventIn) -> None:
    event_type = await ctx.routes.event_type(ctx.db, access.account_id, body.event_type)
    if event_type is None:
        raise ApiError(
            422,
            f"event type {body.event_type!r} does not exist; create it at /v1/event-types",
            field="eventType",
        )
    if event_type.archived:
        raise ApiError(422, f"event type {body.event_type!r} is archived", field="eventType")
    categories = access.caller.categories
    if categories is not None and event_type.category not in categories:
        raise ApiError(
            403,
            f"this API key may publish only event types of the categories {categories}",
            field="eventType",
        )
    if event_type.schema:
        problem = data_problem(event_type.schema, body.event_data)
        if problem:
            path, message = problem
            raise ApiError(
                422,
                f"eventData does not match the schema of {body.event_type}: {path}: {message}",
                details=[{"field": path, "message": message}],
            )


def _request_hash(body: EventIn) -> str:
    canonical = dumps({"eventType": body.event_type, "eventData": body.event_data}, sort_keys=True)
    return hashlib.sha256(canonical).hexdigest()


async def _replay(ctx: Ctx, account_id: str, key: str, request_hash: str) -> EventOut | None:
    """The first answer for an Idempotency-Key already used with this same body."""
    async with ctx.db.read() as conn:
        row = await store.by_idempotency_key(conn, account_id, key)
        if row is None:
            return None
        if row.request_hash != request_hash:
            raise ApiError(
                409,
                "this Idempotency-Key was already used with a different body",
                field="Idempotency-Key",
            )
        return _out(row, await store.notifications_of(conn, row.id))


@router.post(
    "/v1/events",
    status_code=202,
    response_model=EventOut,
    responses={409: {"description": "The Idempotency-Key was used with a different body"}},
)
async def publish_event(
    body: EventIn,
    ctx: Ctx,
    access: Write,
    request: Request,
    response: Response,
    idempotency_key: Annotated[
        str | None,
        Header(
            # An empty key is refused: it would be stored and then clash as any key does.
            min_length=1,
            max_length=255,
            description="Retry-safe publishing: the same key and body return the first event",
        ),
    ] = None,
) -> EventOut:
    account_id = access.account_id
    request_hash = _request_hash(body) if idempotency_key else None
    if idempotency_key:
        replayed = await _replay(ctx, account_id, idempotency_key, request_hash or "")
        if replayed is not None:
            response.headers["Idempotent-Replayed"] = "true"
            return replayed
    data = _check_payload(body, ctx.settings.max_json_depth)
    await _validate(ctx, access, body)
    targets = await ctx.routes.targets(ctx.db, account_id, body.event_type)
    event = NewEvent(
        account_id=account_id,
        event_type=body.event_type,
        data=data,
        webhook_ids=[t.id for t in targets],
        ordered_ids=[t.id for t in targets if t.ordered],
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        log_id=_log_id(request),
    )
    try:
        # Committed (with other requests' events) before this returns: a 202 means durable.
        published = await ctx.publisher.publish(event)
    except IntegrityError:
        # A concurrent request with the same Idempotency-Key committed first.
        if idempotency_key:
            replayed = await _replay(ctx, account_id, idempotency_key, request_hash or "")
            if replayed is not None:
                response.headers["Idempotent-Replayed"] = "true"
                return replayed
        raise
    event_id, notifications = published.event_id, published.notifications
    request.state.event_ids = [event_id]
    metrics.EVENTS_PUBLISHED.inc()
    _log_published(account_id, event_id, body.event_type, notifications)
    if notifications:
        ctx.wake_worker()
    return _published(
        event_id, body, idempotency_key, published.created_at, notifications, is_test=False
    )


# A fan-out to many webhooks is logged with its counts; the ids are in the API.
_LOGGED_IDS = 20


def _log_published(
    account_id: str, event_id: str, event_type: str, notifications: list[dict[str, Any]]
) -> None:
    few = len(notifications) <= _LOGGED_IDS
    log.info(
        "event published",
        account_id=account_id,
        event_id=event_id,
        event_type=event_type,
        notifications=len(notifications),
        notification_ids=[n["id"] for n in notifications] if few else None,
        webhook_ids=[n["webhook_id"] for n in notifications] if few else None,
    )


def _log_id(request: Request) -> str | None:
    """The id the API log gives this request (set by api/request_log.py)."""
    return getattr(request.state, "request_id", None)


def _published(
    event_id: str,
    body: EventIn,
    idempotency_key: str | None,
    now: int,
    notifications: list[dict[str, Any]],
    *,
    is_test: bool,
) -> EventOut:
    return EventOut(
        id=event_id,
        event_type=body.event_type,
        event_data=body.event_data,
        idempotency_key=idempotency_key,
        test=is_test,
        created_at=to_iso(now),
        notifications=[NotificationOut(**notification_fields(n)) for n in notifications],
    )


@router.post(
    "/v1/test-events",
    status_code=202,
    response_model=EventOut,
    responses={404: {"description": "A named webhook does not exist"}},
)
async def publish_test_event(
    body: TestEventIn, ctx: Ctx, access: Write, request: Request
) -> EventOut:
    """Send an event to the named webhooks only, whether Active or Disabled and whatever
    their event-type filter: create a webhook Disabled, test it, then enable it."""
    account_id = access.account_id
    data = _check_payload(body, ctx.settings.max_json_depth)
    now = ctx.clock.now()
    webhook_ids = list(dict.fromkeys(body.webhook_ids))
    await _validate(ctx, access, body)
    async with ctx.db.write() as conn:
        for index, webhook_id in enumerate(webhook_ids):
            if await webhook_store.get(conn, account_id, webhook_id) is None:
                raise ApiError(
                    404, f"webhook {webhook_id!r} not found", field=f"webhookIds[{index}]"
                )
        event_id, notifications = await store.insert_event(
            conn,
            account_id=account_id,
            event_type=body.event_type,
            data=data,
            webhook_ids=webhook_ids,
            now=now,
            is_test=True,
            log_id=_log_id(request),
        )
    request.state.event_ids = [event_id]
    _log_published(account_id, event_id, body.event_type, notifications)
    ctx.wake_worker()
    return _published(event_id, body, None, now, notifications, is_test=True)


@router.get("/v1/events", response_model=Page[EventOut])
async def list_events(
    ctx: Ctx,
    access: Read,
    event_type: Annotated[str | None, Query(alias="eventType")] = None,
    log_id: Annotated[
        str | None, Query(alias="logId", description="The publishing request")
    ] = None,
    start: From = None,
    end: To = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[EventOut]:
    conditions = [
        events.c.account_id == access.account_id,
        *within(events.c.created_at, start, end),
        *in_categories(access, events.c.event_type),
    ]
    if event_type is not None:
        conditions.append(events.c.event_type == event_type)
    if log_id is not None:
        conditions.append(events.c.log_id == log_id)
    query = events.select().where(sa.and_(*conditions))
    async with ctx.db.read() as conn:
        rows, next_cursor = await fetch_page(conn, query, events.c.id, limit, cursor)
    return Page(data=[_out(r, None) for r in rows], next_cursor=next_cursor)


@router.get("/v1/events/{event_id}", response_model=EventDetail)
async def get_event(event_id: str, ctx: Ctx, access: Read) -> EventDetail:
    """The event, the API request that published it, and every notification with its
    attempts: the whole story of one event in one answer."""
    query = events.select().where(
        sa.and_(
            events.c.id == event_id,
            events.c.account_id == access.account_id,
            *in_categories(access, events.c.event_type),
        )
    )
    async with ctx.db.read() as conn:
        row = (await conn.execute(query)).first()
        if row is None:
            raise not_found("event", event_id)
        notifications = await store.notifications_of(conn, event_id)
        attempts = await store.attempts_of(conn, [n.id for n in notifications])
        log = await find_log(conn, row.log_id) if row.log_id else None
    summary = _out(row, None)
    return EventDetail(
        **summary.model_dump(exclude={"notifications"}),
        request=log,
        notifications=[
            NotificationDetail(
                **notification_fields(n._mapping),
                attempts=[attempt_out(a) for a in attempts.get(n.id, [])],
            )
            for n in notifications
        ],
    )
