"""Events and their notifications: written together in one transaction, read back with their
attempts. ``insert_events`` is the one statement path by which any event is stored; it is
called by services/publish.py only (through the group-committing runtime/publisher.py, or in a
transaction of the caller's for test and operational events)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.core.ids import new_id
from tidings.store import webhooks as webhook_store
from tidings.store.event_types import names_in_categories
from tidings.store.paging import fetch_page
from tidings.store.sql import within
from tidings.store.tables import attempts, events, notifications


@dataclass(frozen=True, slots=True)
class Lease:
    """Notifications written already leased to a worker of the publishing process, which sends
    them without claiming them (delivery/handoff.py): those for ``webhook_ids``."""

    worker_id: str
    until: int
    webhook_ids: frozenset[str]


@dataclass(frozen=True, slots=True)
class NewEvent:
    account_id: str
    event_type: str
    data: bytes
    webhook_ids: list[str]
    # Webhooks that deliver in order: publishing to them is serialized across processes.
    ordered_ids: list[str]
    idempotency_key: str | None = None
    request_hash: str | None = None
    log_id: str | None = None
    is_test: bool = False
    # Where it came in, when not through the API: a push to a source, or a pull's run.
    source_id: str | None = None
    pull_id: str | None = None
    lease: Lease | None = None


@dataclass(frozen=True, slots=True)
class Published:
    event_id: str
    created_at: int
    notifications: list[dict[str, Any]]


def _event_row(event_id: str, event: NewEvent, now: int) -> dict[str, Any]:
    return {
        "id": event_id,
        "account_id": event.account_id,
        "event_type": event.event_type,
        "data": event.data,
        "idempotency_key": event.idempotency_key,
        "request_hash": event.request_hash,
        "is_test": event.is_test,
        "created_at": now,
        "log_id": event.log_id,
        "source_id": event.source_id,
        "pull_id": event.pull_id,
    }


def _notification_rows(event_id: str, event: NewEvent, now: int) -> list[dict[str, Any]]:
    """One notification per webhook, due at once, or leased already (``event.lease``)."""
    lease = event.lease
    leased = lease.webhook_ids if lease is not None else frozenset()
    return [
        {
            "id": new_id("ntf"),
            "account_id": event.account_id,
            "event_id": event_id,
            "webhook_id": webhook_id,
            "event_type": event.event_type,
            "is_test": event.is_test,
            "status": "pending",
            "attempt_count": 0,
            "retry_index": 0,
            "next_attempt_at": lease.until if lease and webhook_id in leased else now,
            "leased_by": lease.worker_id if lease and webhook_id in leased else None,
            "created_at": now,
            "updated_at": now,
        }
        for webhook_id in event.webhook_ids
    ]


async def insert_events(
    conn: AsyncConnection, batch: list[NewEvent], clock: Callable[[], int]
) -> list[Published]:
    """Write each event and one due notification per webhook, in the caller's transaction.
    Ordered webhooks are locked first, and ids and times taken after the lock, so that they
    follow the commit order (a worker never sees a later event before an earlier one)."""
    await webhook_store.lock_ordered(conn, sorted({w for e in batch for w in e.ordered_ids}))
    now = clock()
    event_rows: list[dict[str, Any]] = []
    all_notifications: list[dict[str, Any]] = []
    results: list[Published] = []
    for event in batch:
        event_id = new_id("evt")
        event_rows.append(_event_row(event_id, event, now))
        rows = _notification_rows(event_id, event, now)
        all_notifications += rows
        results.append(Published(event_id, now, rows))
    await conn.execute(events.insert(), event_rows)
    if all_notifications:
        await conn.execute(notifications.insert(), all_notifications)
    return results


async def by_idempotency_key(conn: AsyncConnection, account_id: str, key: str) -> Row[Any] | None:
    query = events.select().where(
        sa.and_(events.c.account_id == account_id, events.c.idempotency_key == key)
    )
    return (await conn.execute(query)).first()


def _visible(account_id: str, categories: list[str] | None) -> list[sa.ColumnElement[bool]]:
    conditions = [events.c.account_id == account_id]
    if categories is not None:
        conditions.append(events.c.event_type.in_(names_in_categories(account_id, categories)))
    return conditions


async def get(
    conn: AsyncConnection, account_id: str, event_id: str, categories: list[str] | None = None
) -> Row[Any] | None:
    query = events.select().where(
        sa.and_(events.c.id == event_id, *_visible(account_id, categories))
    )
    return (await conn.execute(query)).first()


async def page(
    conn: AsyncConnection,
    account_id: str,
    *,
    categories: list[str] | None,
    event_type: str | None = None,
    log_id: str | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    limit: int,
    cursor: str | None,
) -> tuple[list[Row[Any]], str | None]:
    conditions = [*_visible(account_id, categories), *within(events.c.created_at, start, end)]
    if event_type is not None:
        conditions.append(events.c.event_type == event_type)
    if log_id is not None:
        conditions.append(events.c.log_id == log_id)
    query = events.select().where(sa.and_(*conditions))
    return await fetch_page(conn, query, events.c.id, limit, cursor)


async def notifications_of(conn: AsyncConnection, event_id: str) -> list[Row[Any]]:
    query = (
        notifications.select()
        .where(notifications.c.event_id == event_id)
        .order_by(notifications.c.id)
    )
    return list((await conn.execute(query)).all())


async def attempts_of(
    conn: AsyncConnection, notification_ids: list[str]
) -> dict[str, list[Row[Any]]]:
    """The attempts of each notification, oldest first."""
    if not notification_ids:
        return {}
    query = (
        attempts.select()
        .where(attempts.c.notification_id.in_(notification_ids))
        .order_by(attempts.c.attempted_at, attempts.c.id)
    )
    grouped: dict[str, list[Row[Any]]] = {}
    for row in await conn.execute(query):
        grouped.setdefault(row.notification_id, []).append(row)
    return grouped
