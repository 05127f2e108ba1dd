"""A notification's state changes outside the claim and its outcome: handing leases back, due
again now (resend, replay), or ended without an attempt (its webhook or account deleted).
With claim.py and outcomes.py, the only code that writes a notification's status.

On PostgreSQL every statement here that may wait for notification rows takes their locks in id
order (``lock_in_order``), as the outcome writer does, and before any webhook row: two
transactions on the same rows then queue rather than deadlock (a webhook deleted while its
worker records outcomes, a replay beside a delivery)."""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.store.queue.jobs import Job
from tidings.store.sql import within
from tidings.store.tables import notifications

_pending = notifications.c.status == "pending"


async def lock_in_order(conn: AsyncConnection, condition: sa.ColumnElement[bool]) -> None:
    """On PostgreSQL, lock the notifications matching ``condition`` in id order (see above);
    SQLite has one writer at a time and needs nothing."""
    if conn.dialect.name == "postgresql":
        await conn.execute(
            sa.select(notifications.c.id)
            .where(condition)
            .order_by(notifications.c.id)
            .with_for_update()
        )


async def release(conn: AsyncConnection, worker_id: str, jobs: Collection[Job], now: int) -> int:
    """Give back leases without an attempt (shutdown): due again at once, for any worker."""
    if not jobs:
        return 0
    result = await conn.execute(
        notifications.update()
        .where(
            sa.and_(
                notifications.c.id == sa.bindparam("b_id"),
                notifications.c.leased_by == worker_id,
                notifications.c.next_attempt_at == sa.bindparam("b_lease"),
            )
        )
        .values(next_attempt_at=now, leased_by=None),
        # One row after the other in id order: see lock_in_order.
        [
            {"b_id": j.notification_id, "b_lease": j.lease_until}
            for j in sorted(jobs, key=lambda j: j.notification_id)
        ],
    )
    return int(result.rowcount or 0)


def _due_again(now: int) -> dict[str, object]:
    """Pending and due now with a fresh retry schedule; the same notification (same id)."""
    return {
        "status": "pending",
        "retry_index": 0,
        "next_attempt_at": now,
        "leased_by": None,
        "updated_at": now,
    }


async def requeue(conn: AsyncConnection, notification_id: str, now: int) -> None:
    """Deliver one notification again now (resend)."""
    await conn.execute(
        notifications.update().where(notifications.c.id == notification_id).values(_due_again(now))
    )


async def requeue_window(
    conn: AsyncConnection,
    webhook_id: str,
    statuses: Collection[str],
    since: datetime,
    until: datetime | None,
    now: int,
) -> int:
    """Deliver again a webhook's notifications made in [since, until) with these statuses
    (replay); returns how many."""
    chosen = sa.and_(
        notifications.c.webhook_id == webhook_id,
        notifications.c.status.in_(list(statuses)),
        *within(notifications.c.created_at, since, until),
    )
    await lock_in_order(conn, chosen)
    result = await conn.execute(notifications.update().where(chosen).values(_due_again(now)))
    return int(result.rowcount or 0)


async def end_pending(
    conn: AsyncConnection,
    *,
    reason: str,
    now: int,
    webhook_id: str | None = None,
    account_id: str | None = None,
) -> int:
    """End the pending notifications of a webhook or an account as failed, without an attempt,
    ``last_error`` saying why (the webhook or the account was deleted). Call it before changing
    the webhook rows (deleting, disabling): notification rows are locked before webhook rows
    everywhere (see above)."""
    if (webhook_id is None) == (account_id is None):
        raise ValueError("give a webhook or an account")
    whose = (
        notifications.c.webhook_id == webhook_id
        if webhook_id is not None
        else notifications.c.account_id == account_id
    )
    ended = sa.and_(whose, _pending)
    await lock_in_order(conn, ended)
    result = await conn.execute(
        notifications.update()
        .where(ended)
        .values(
            status="failed",
            next_attempt_at=None,
            leased_by=None,
            last_error=reason,
            updated_at=now,
        )
    )
    return int(result.rowcount or 0)
