"""The queue as /metrics shows it: due depth, oldest due, leases held, open breakers."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.store.tables import notifications, webhooks


@dataclass(frozen=True)
class QueueStats:
    due: int
    oldest_due_at: int | None
    leased: int
    open_breakers: int


async def leases_held(conn: AsyncConnection, now: int) -> int:
    """Live leases across every worker (what is being delivered right now)."""
    n = notifications
    query = (
        sa.select(sa.func.count())
        .select_from(n)
        .where(
            sa.and_(n.c.leased_by.is_not(None), n.c.status == "pending", n.c.next_attempt_at > now)
        )
    )
    return int((await conn.execute(query)).scalar_one())


async def queue_stats(conn: AsyncConnection, now: int) -> QueueStats:
    due = sa.and_(notifications.c.status == "pending", notifications.c.next_attempt_at <= now)
    count, oldest = (
        await conn.execute(
            sa.select(sa.func.count(), sa.func.min(notifications.c.next_attempt_at)).where(due)
        )
    ).one()
    breakers = (
        await conn.execute(
            sa.select(sa.func.count())
            .select_from(webhooks)
            .where(webhooks.c.breaker_open_until > now)
        )
    ).scalar_one()
    return QueueStats(
        due=int(count),
        oldest_due_at=oldest,
        leased=await leases_held(conn, now),
        open_breakers=int(breakers),
    )
