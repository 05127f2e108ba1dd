"""Delivery figures for the dashboard's overview: attempts per hour by outcome, latency
percentiles, and the webhooks in trouble. One account's rows only."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.store.tables import attempts, webhooks

HOUR = 3600 * 1_000_000


def _since(account_id: str, since: int) -> sa.ColumnElement[bool]:
    return sa.and_(attempts.c.account_id == account_id, attempts.c.attempted_at >= since)


async def hourly(
    conn: AsyncConnection, account_id: str, since: int, *, by_webhook: bool = False
) -> list[Row[Any]]:
    """(hour index since the epoch, outcome, count), with the webhook id first if asked."""
    bucket = sa.cast(attempts.c.attempted_at / HOUR, sa.BigInteger).label("hour")
    columns: list[Any] = [bucket, attempts.c.outcome, sa.func.count().label("n")]
    groups: list[Any] = [bucket, attempts.c.outcome]
    if by_webhook:
        columns.insert(0, attempts.c.webhook_id)
        groups.insert(0, attempts.c.webhook_id)
    query = sa.select(*columns).where(_since(account_id, since)).group_by(*groups)
    return list((await conn.execute(query)).all())


async def latency_percentile(
    conn: AsyncConnection, account_id: str, since: int, fraction: float
) -> float | None:
    """The attempt duration (ms) below which ``fraction`` of attempts since ``since`` fall."""
    count = (
        await conn.execute(sa.select(sa.func.count()).where(_since(account_id, since)))
    ).scalar_one()
    if not count:
        return None
    offset = min(count - 1, int(fraction * count))
    query = (
        sa.select(attempts.c.duration_ms)
        .where(_since(account_id, since))
        .order_by(attempts.c.duration_ms)
        .limit(1)
        .offset(offset)
    )
    value = (await conn.execute(query)).scalar()
    return float(value) if value is not None else None


async def troubled_webhooks(conn: AsyncConnection, account_id: str, now: int) -> list[Row[Any]]:
    """Webhooks disabled, with the breaker open, or failing right now."""
    columns = [
        webhooks.c.id,
        webhooks.c.url,
        webhooks.c.status,
        webhooks.c.disabled_reason,
        webhooks.c.consecutive_failures,
        webhooks.c.failing_since,
        webhooks.c.breaker_open_until,
    ]
    query = (
        sa.select(*columns)
        .where(
            sa.and_(
                webhooks.c.account_id == account_id,
                sa.or_(
                    webhooks.c.status == "Disabled",
                    webhooks.c.consecutive_failures > 0,
                    webhooks.c.breaker_open_until > now,
                ),
            )
        )
        .order_by(webhooks.c.id)
    )
    return list((await conn.execute(query)).all())
