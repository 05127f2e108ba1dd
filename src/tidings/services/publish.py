"""The one path by which any event is written: API publishes, test events, and Tidings' own
operational events (and the pushes and pull results that come in). Every one of them goes
through ``store.events.insert_events``, which takes the ordered-delivery lock, so ordering,
idempotency and fan-out hold whichever way an event arrives.

A publish answers only after the event and its notifications are committed: nothing accepted
is lost."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import structlog

from tidings.core import routing
from tidings.core.access import Access
from tidings.core.clock import to_iso
from tidings.core.errors import DomainError
from tidings.core.jsonbytes import dumps, event_bytes, payload_problem
from tidings.core.schemas import data_problem
from tidings.runtime import metrics
from tidings.runtime.context import Context
from tidings.services.events import event_view, shown_key, source_key
from tidings.services.notifications import notification_view
from tidings.store import events as store
from tidings.store import webhooks as webhook_store
from tidings.store.db import Connection, is_conflict
from tidings.store.events import NewEvent, Published

log = structlog.get_logger("tidings.events")

# Tidings' own events, published to webhooks that subscribed to them by name.
OPERATIONAL = ("webhook.disabled", "notification.failed", "pull.disabled")
# A fan-out to many webhooks is logged with its counts; the ids are in the API.
_LOGGED_IDS = 20


@dataclass(frozen=True)
class Publication:
    """A publish's answer: the event as stored, and whether it was an Idempotency-Key replay
    of an earlier publish (nothing new was written)."""

    event: dict[str, Any]
    replayed: bool = False


def _checked_bytes(data: dict[str, Any], max_depth: int) -> bytes:
    """The event data as it will be stored and sent, once it is known to be carriable."""
    problem = payload_problem(data, "eventData", max_depth)
    if problem:
        path, message = problem
        raise DomainError(422, f"{path}: {message}", details=[{"field": path, "message": message}])
    return event_bytes(data)


async def _check_type(ctx: Context, access: Access, event_type: str, data: dict[str, Any]) -> Any:
    """The type, once it exists for this account, is not archived, is within a
    category-limited key's categories, and ``data`` matches its schema."""
    found = await ctx.routes.event_type(ctx.db, access.account_id, event_type)
    if found is None:
        raise DomainError(
            422,
            f"event type {event_type!r} does not exist; create it at /v1/event-types",
            field="eventType",
        )
    if found.archived:
        raise DomainError(422, f"event type {event_type!r} is archived", field="eventType")
    categories = access.categories
    if categories is not None and found.category not in categories:
        raise DomainError(
            403,
            f"this API key may publish only event types of the categories {categories}",
            field="eventType",
        )
    if found.schema:
        problem = data_problem(found.schema, data)
        if problem:
            path, message = problem
            raise DomainError(
                422,
                f"eventData does not match the schema of {event_type}: {path}: {message}",
                details=[{"field": path, "message": message}],
            )
    return found


def _request_hash(event_type: str, data: dict[str, Any]) -> str:
    canonical = dumps({"eventType": event_type, "eventData": data}, sort_keys=True)
    return hashlib.sha256(canonical).hexdigest()


async def _replay(
    ctx: Context, account_id: str, key: str, request_hash: str | None
) -> Publication | None:
    """The first answer for an Idempotency-Key already used (with this same body, unless
    ``request_hash`` is None: a source's retried push returns its first event whatever)."""
    async with ctx.db.read() as conn:
        row = await store.by_idempotency_key(conn, account_id, key)
        if row is None:
            return None
        if request_hash is not None and row.request_hash != request_hash:
            raise DomainError(
                409,
                "this Idempotency-Key was already used with a different body",
                field="Idempotency-Key",
            )
        notifications = await store.notifications_of(conn, row.id)
    return Publication(event_view(row, [n._mapping for n in notifications]), replayed=True)


async def publish(
    ctx: Context,
    access: Access,
    event_type: str,
    data: dict[str, Any],
    *,
    idempotency_key: str | None = None,
    log_id: str | None = None,
    source_id: str | None = None,
) -> Publication:
    """Publish an event of the account to every Active webhook that takes its type. A push
    to a source (``source_id``) keeps its idempotency keys apart from the account's."""
    account_id = access.account_id
    request_hash = _request_hash(event_type, data) if idempotency_key else None
    if idempotency_key and source_id:
        idempotency_key = source_key(source_id, idempotency_key)
    # A source's retry returns its first event whatever its body; the API's, the same body.
    compared = None if source_id else request_hash
    if idempotency_key:
        replayed = await _replay(ctx, account_id, idempotency_key, compared)
        if replayed is not None:
            return replayed
    stored = _checked_bytes(data, ctx.settings.max_json_depth)
    found = await _check_type(ctx, access, event_type, data)
    targets = await ctx.routes.targets(ctx.db, account_id, event_type, found.category)
    webhook_ids = [t.id for t in targets]
    # Room with this process's worker: those notifications are written leased to it.
    reservation = ctx.handoff.reserve(webhook_ids) if ctx.handoff and webhook_ids else None
    event = NewEvent(
        account_id=account_id,
        event_type=event_type,
        data=stored,
        webhook_ids=webhook_ids,
        ordered_ids=[t.id for t in targets if t.ordered],
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        log_id=log_id,
        source_id=source_id,
        lease=reservation.lease if reservation else None,
    )
    try:
        # Committed (with other requests' events) before this returns: a 202 means durable.
        published = await ctx.publisher.publish(event)
    except BaseException as exc:
        # Failed, or the request went away (the write may still commit: its lease then
        # expires and a claim sends it). Either way the worker gets its room back.
        if reservation:
            reservation.cancel()
        if not isinstance(exc, Exception) or not is_conflict(exc):
            raise
        # A concurrent request with the same Idempotency-Key committed first.
        if idempotency_key:
            replayed = await _replay(ctx, account_id, idempotency_key, compared)
            if replayed is not None:
                return replayed
        raise
    if reservation:
        reservation.hand(event, published)
    return Publication(_committed(ctx, event, published, data, idempotency_key))


async def publish_test(
    ctx: Context,
    access: Access,
    webhook_ids: list[str],
    event_type: str,
    data: dict[str, Any],
    *,
    log_id: str | None = None,
) -> Publication:
    """Send an event to the named webhooks only, whether Active or Disabled and whatever
    their event-type filter: create a webhook Disabled, test it, then enable it."""
    account_id = access.account_id
    stored = _checked_bytes(data, ctx.settings.max_json_depth)
    webhook_ids = list(dict.fromkeys(webhook_ids))
    await _check_type(ctx, access, event_type, data)
    async with ctx.db.write() as conn:
        ordered = []
        for index, webhook_id in enumerate(webhook_ids):
            row = await webhook_store.get(conn, account_id, webhook_id)
            if row is None or not access.sees(row.category):
                raise DomainError(
                    404, f"webhook {webhook_id!r} not found", field=f"webhookIds[{index}]"
                )
            if row.ordered:
                ordered.append(webhook_id)
        event = NewEvent(
            account_id=account_id,
            event_type=event_type,
            data=stored,
            webhook_ids=webhook_ids,
            ordered_ids=ordered,
            log_id=log_id,
            is_test=True,
        )
        (published,) = await store.insert_events(conn, [event], ctx.clock.now)
    return Publication(_committed(ctx, event, published, data, None))


def _committed(
    ctx: Context,
    event: NewEvent,
    published: Published,
    data: dict[str, Any],
    idempotency_key: str | None,
) -> dict[str, Any]:
    """After the commit: count, log, wake the workers (unless every notification was handed
    to this process's worker); the event's view, each notification due from its creation."""
    if not event.is_test:
        metrics.EVENTS_PUBLISHED.inc()
    _log_published(event.account_id, published.event_id, event.event_type, published.notifications)
    handed = event.lease.webhook_ids if event.lease else frozenset()
    if len(handed) < len(published.notifications):
        ctx.wake_worker()
    due = published.created_at
    return {
        "id": published.event_id,
        "event_type": event.event_type,
        "event_data": data,
        "idempotency_key": shown_key(idempotency_key, event.source_id),
        "test": event.is_test,
        "source_id": event.source_id,
        "pull_id": event.pull_id,
        "created_at": to_iso(published.created_at),
        "notifications": [
            notification_view({**n, "next_attempt_at": due}) for n in published.notifications
        ],
    }


async def publish_operational(
    conn: Connection, ctx: Context, account_id: str, event_type: str, data: dict[str, object]
) -> int:
    """Publish one of Tidings' own events, in the caller's transaction (the one recording the
    outcome that caused it), to the account's Active webhooks that subscribed to it by name.
    An empty subscription, meaning "everything", does not include these, so that a failing
    webhook is never told about its own failures. Returns the notifications made."""
    rows = await webhook_store.active_rows(conn, account_id)
    targets = [r for r in rows if routing.named(r.event_types, event_type)]
    event = NewEvent(
        account_id=account_id,
        event_type=event_type,
        data=event_bytes(data),
        webhook_ids=[r.id for r in targets],
        ordered_ids=[r.id for r in targets if r.ordered],
    )
    (published,) = await store.insert_events(conn, [event], ctx.clock.now)
    return len(published.notifications)


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


async def publish_records(
    conn: Connection,
    ctx: Context,
    access: Access,
    event_type: str,
    records: list[dict[str, Any]],
    *,
    pull_id: str,
    log_id: str | None = None,
) -> tuple[list[str], list[tuple[int, str]]]:
    """Publish each record as an event of ``event_type``, in the caller's transaction (the one
    that also marks the records seen, so a crash neither loses nor repeats one). Returns the
    event ids, and per record refused (its data does not fit the type), its index and why.
    ``log_id``: the run's sync log record, which each event names as where it came from."""
    problems: list[tuple[int, str]] = []
    accepted: list[tuple[dict[str, Any], bytes]] = []
    found = None
    for index, data in enumerate(records):
        try:
            stored = _checked_bytes(data, ctx.settings.max_json_depth)
            found = await _check_type(ctx, access, event_type, data)
        except DomainError as exc:
            problems.append((index, exc.message))
            continue
        accepted.append((data, stored))
    if not accepted or found is None:
        return [], problems
    targets = await ctx.routes.targets(ctx.db, access.account_id, event_type, found.category)
    batch = [
        NewEvent(
            account_id=access.account_id,
            event_type=event_type,
            data=stored,
            webhook_ids=[t.id for t in targets],
            ordered_ids=[t.id for t in targets if t.ordered],
            pull_id=pull_id,
            log_id=log_id,
        )
        for _data, stored in accepted
    ]
    published = await store.insert_events(conn, batch, ctx.clock.now)
    for event, result in zip(batch, published, strict=True):
        metrics.EVENTS_PUBLISHED.inc()
        _log_published(event.account_id, result.event_id, event_type, result.notifications)
    return [p.event_id for p in published], problems
