"""Deleting what has outlived its retention, one batch per transaction: each batch holds the
write lock briefly, so publishing and delivering go on while old rows go."""

from __future__ import annotations

import sqlalchemy as sa

from tidings.store.db import Database
from tidings.store.tables import attempts, events, logs, notifications

BATCH = 1000


async def delete_logs(db: Database, before: int, batch: int = BATCH) -> int:
    return await _drain(
        db, logs, sa.select(logs.c.id).where(logs.c.created_at < before).limit(batch), batch
    )


async def delete_attempts(db: Database, before: int, batch: int = BATCH) -> int:
    old = sa.select(attempts.c.id).where(attempts.c.attempted_at < before).limit(batch)
    return await _drain(db, attempts, old, batch)


async def delete_events(db: Database, before: int, batch: int = BATCH) -> tuple[int, int]:
    """Events older than ``before`` with their notifications and attempts, except an event
    that still has a pending notification: it is still being delivered. Returns the numbers
    of events and notifications deleted."""
    pending = sa.exists().where(
        sa.and_(notifications.c.event_id == events.c.id, notifications.c.status == "pending")
    )
    old = sa.select(events.c.id).where(sa.and_(events.c.created_at < before, ~pending))
    deleted_events = deleted_notifications = 0
    while True:
        async with db.write() as conn:
            ids = list((await conn.execute(old.limit(batch))).scalars())
            if not ids:
                break
            # The pending check again in the delete itself: a resend since the select keeps it.
            removed = await conn.execute(
                events.delete().where(sa.and_(events.c.id.in_(ids), ~pending))
            )
            orphans = sa.and_(
                notifications.c.event_id.in_(ids),
                ~sa.exists().where(events.c.id == notifications.c.event_id),
            )
            of_orphans = sa.select(notifications.c.id).where(orphans)
            await conn.execute(attempts.delete().where(attempts.c.notification_id.in_(of_orphans)))
            gone = await conn.execute(notifications.delete().where(orphans))
        deleted_events += removed.rowcount
        deleted_notifications += gone.rowcount
        if len(ids) < batch:
            break
    return deleted_events, deleted_notifications


async def _drain(db: Database, table: sa.Table, old_ids: sa.Select[tuple[str]], batch: int) -> int:
    deleted = 0
    while True:
        async with db.write() as conn:
            ids = list((await conn.execute(old_ids)).scalars())
            if ids:
                await conn.execute(table.delete().where(table.c.id.in_(ids)))
        deleted += len(ids)
        if len(ids) < batch:
            return deleted
