"""Recording what deliveries did: the attempts, each notification's new state, and each
webhook's health as core/health.py judges it (failures in a row, breaker, 410, auto-disable)."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.core import health
from tidings.core.health import HealthRules
from tidings.store.queue.jobs import Disabled, Outcome
from tidings.store.sql import one_of
from tidings.store.tables import attempts, notifications, webhooks

# Only while the lease is still this worker's: an outcome that comes after the lease expired
# (and another worker took the notification), or after a resend or a deletion, changes nothing
# but the attempt history.
_record_notification = (
    notifications.update()
    .where(
        sa.and_(
            notifications.c.id == sa.bindparam("b_id"),
            notifications.c.status == "pending",
            notifications.c.leased_by == sa.bindparam("b_worker"),
            notifications.c.next_attempt_at == sa.bindparam("b_lease"),
        )
    )
    .values(
        status=sa.bindparam("b_status"),
        attempt_count=notifications.c.attempt_count + sa.bindparam("b_attempted"),
        retry_index=sa.bindparam("b_retry_index"),
        next_attempt_at=sa.bindparam("b_next"),
        leased_by=None,
        last_attempt_at=sa.bindparam("b_at"),
        last_status_code=sa.bindparam("b_code"),
        last_error=sa.bindparam("b_error"),
        updated_at=sa.bindparam("b_at"),
    )
)


def _insert_attempts(dialect: str) -> Any:
    if dialect == "postgresql":
        return postgresql.insert(attempts).on_conflict_do_nothing(index_elements=["id"])
    return sqlite.insert(attempts).on_conflict_do_nothing(index_elements=["id"])


_set_health = (
    webhooks.update()
    .where(webhooks.c.id == sa.bindparam("b_id"))
    .values(
        consecutive_failures=sa.bindparam("b_failures"),
        failing_since=sa.bindparam("b_since"),
        breaker_open_until=sa.bindparam("b_breaker"),
    )
)


async def record(
    conn: AsyncConnection, worker_id: str, outcomes: list[Outcome], now: int, rules: HealthRules
) -> list[Disabled]:
    """Write a batch of outcomes; returns the webhooks the health rules disabled."""
    attempt_rows = [
        {
            "id": o.attempt_id,
            "notification_id": o.notification_id,
            "account_id": o.account_id,
            "webhook_id": o.webhook_id,
            "attempted_at": o.attempted_at,
            "status_code": o.status_code,
            "response_body": o.response_body,
            "duration_ms": o.duration_ms,
            "error": o.error,
            "outcome": "succeeded" if o.status == "succeeded" else "failed",
        }
        for o in outcomes
        if o.attempted
    ]
    if attempt_rows:
        # A batch written again (its first commit's answer was lost) adds nothing twice.
        await conn.execute(_insert_attempts(conn.dialect.name), attempt_rows)
    await conn.execute(
        _record_notification,
        [
            {
                "b_id": o.notification_id,
                "b_worker": worker_id,
                "b_lease": o.lease_until,
                "b_status": o.status,
                "b_attempted": 1 if o.attempted else 0,
                "b_retry_index": o.retry_index,
                "b_next": o.next_attempt_at,
                "b_at": o.attempted_at,
                "b_code": o.status_code,
                "b_error": o.error,
            }
            for o in outcomes
        ],
    )
    streaks = health.streaks(
        health.Attempted(o.webhook_id, o.attempted_at, o.status == "succeeded", o.status_code)
        for o in outcomes
        if o.attempted
    )
    return await _judge(conn, streaks, now, rules) if streaks else []


async def _judge(
    conn: AsyncConnection, streaks: dict[str, health.Streak], now: int, rules: HealthRules
) -> list[Disabled]:
    """Read each webhook's health (locked on PostgreSQL, in id order, so two workers recording
    for one webhook add up rather than overwrite), judge it, write it back."""
    postgres = conn.dialect.name == "postgresql"
    query = (
        sa.select(
            webhooks.c.id,
            webhooks.c.account_id,
            webhooks.c.url,
            webhooks.c.status,
            webhooks.c.consecutive_failures,
            webhooks.c.failing_since,
            webhooks.c.breaker_open_until,
        )
        .where(one_of(webhooks.c.id, sorted(streaks), postgres))
        .order_by(webhooks.c.id)
    )
    if postgres:
        query = query.with_for_update()
    changes: list[dict[str, Any]] = []
    disabled: list[Disabled] = []
    for row in (await conn.execute(query)).all():
        before = health.Health(
            row.consecutive_failures,
            row.failing_since,
            row.breaker_open_until,
            active=row.status == "Active",
        )
        verdict = health.judge(before, streaks[row.id], rules, now)
        after = verdict.health
        if (after.consecutive_failures, after.failing_since, after.breaker_open_until) != (
            before.consecutive_failures,
            before.failing_since,
            before.breaker_open_until,
        ):
            changes.append(
                {
                    "b_id": row.id,
                    "b_failures": after.consecutive_failures,
                    "b_since": after.failing_since,
                    "b_breaker": after.breaker_open_until,
                }
            )
        if verdict.disabled:
            disabled.append(Disabled(row.id, row.account_id, row.url, verdict.disabled))
    if changes:
        await conn.execute(_set_health, changes)
    for gone in disabled:
        await conn.execute(
            webhooks.update()
            .where(webhooks.c.id == gone.webhook_id)
            .values(status="Disabled", disabled_reason=gone.reason, updated_at=now)
        )
    return disabled
