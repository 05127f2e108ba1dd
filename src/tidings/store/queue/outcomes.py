"""Recording what deliveries did: the attempts, each notification's new state, and each
webhook's health as core/health.py judges it (failures in a row, breaker, 410, auto-disable)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.core import health
from tidings.core.health import HealthRules
from tidings.store.queue.jobs import Disabled, Outcome
from tidings.store.queue.transitions import lock_in_order
from tidings.store.sql import one_of
from tidings.store.tables import notifications, webhooks

# The hot path, run through the driver: one statement text each, compiled once. Only while
# the lease is still this worker's: an outcome that comes after the lease expired (and another
# worker took the notification), or after a resend or a deletion, changes nothing but the
# attempt history. A batch written again (its first commit's answer was lost) adds no attempt
# twice.
_SQLITE_ATTEMPTS = (
    "INSERT INTO attempts (id, notification_id, account_id, webhook_id, attempted_at,"
    " status_code, response_body, duration_ms, error, outcome)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"
)
_SQLITE_NOTIFICATIONS = (
    "UPDATE notifications SET status = ?, attempt_count = attempt_count + ?, retry_index = ?,"
    " next_attempt_at = ?, leased_by = NULL, last_attempt_at = ?, last_status_code = ?,"
    " last_error = ?, updated_at = ?"
    " WHERE id = ? AND status = 'pending' AND leased_by = ? AND next_attempt_at = ?"
)
# PostgreSQL: a whole batch as one statement of arrays (one round trip, one plan).
_PG_ATTEMPTS = sa.text(
    "INSERT INTO attempts (id, notification_id, account_id, webhook_id, attempted_at,"
    " status_code, response_body, duration_ms, error, outcome)"
    " SELECT * FROM unnest(CAST(:ids AS varchar[]), CAST(:nids AS varchar[]),"
    " CAST(:accounts AS varchar[]), CAST(:webhooks AS varchar[]), CAST(:ats AS bigint[]),"
    " CAST(:codes AS integer[]), CAST(:bodies AS text[]), CAST(:durations AS float8[]),"
    " CAST(:errors AS text[]), CAST(:outcomes AS varchar[]))"
    " ON CONFLICT (id) DO NOTHING"
)
_PG_NOTIFICATIONS = sa.text(
    "UPDATE notifications AS n SET status = u.status,"
    " attempt_count = n.attempt_count + u.attempted, retry_index = u.retry_index,"
    " next_attempt_at = u.next_at, leased_by = NULL, last_attempt_at = u.at,"
    " last_status_code = u.code, last_error = u.error, updated_at = u.at"
    " FROM unnest(CAST(:ids AS varchar[]), CAST(:leases AS bigint[]),"
    " CAST(:statuses AS varchar[]), CAST(:attempted AS integer[]),"
    " CAST(:retries AS integer[]), CAST(:nexts AS bigint[]), CAST(:ats AS bigint[]),"
    " CAST(:codes AS integer[]), CAST(:errors AS text[]))"
    " AS u(id, lease, status, attempted, retry_index, next_at, at, code, error)"
    " WHERE n.id = u.id AND n.status = 'pending' AND n.leased_by = :worker"
    " AND n.next_attempt_at = u.lease"
)


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
    tried = [o for o in outcomes if o.attempted]
    if conn.dialect.name == "postgresql":
        await _write_postgres(conn, worker_id, outcomes, tried)
    else:
        await _write_sqlite(conn, worker_id, outcomes, tried)
    streaks = health.streaks(
        health.Attempted(o.webhook_id, o.attempted_at, o.status == "succeeded", o.status_code)
        for o in outcomes
        if o.attempted
    )
    return await _judge(conn, streaks, now, rules) if streaks else []


def _outcome(o: Outcome) -> str:
    return "succeeded" if o.status == "succeeded" else "failed"


async def _write_sqlite(
    conn: AsyncConnection, worker_id: str, outcomes: list[Outcome], tried: list[Outcome]
) -> None:
    if tried:
        await conn.exec_driver_sql(
            _SQLITE_ATTEMPTS,
            [
                (
                    o.attempt_id,
                    o.notification_id,
                    o.account_id,
                    o.webhook_id,
                    o.attempted_at,
                    o.status_code,
                    o.response_body,
                    o.duration_ms,
                    o.error,
                    _outcome(o),
                )
                for o in tried
            ],
        )
    await conn.exec_driver_sql(
        _SQLITE_NOTIFICATIONS,
        [
            (
                o.status,
                1 if o.attempted else 0,
                o.retry_index,
                o.next_attempt_at,
                o.attempted_at,
                o.status_code,
                o.error,
                o.attempted_at,
                o.notification_id,
                worker_id,
                o.lease_until,
            )
            for o in outcomes
        ],
    )


async def _write_postgres(
    conn: AsyncConnection, worker_id: str, outcomes: list[Outcome], tried: list[Outcome]
) -> None:
    # The batch's rows locked in id order first, as every other writer of many notifications
    # does, so that one cannot deadlock with, say, a webhook's deletion ending the same rows;
    # the webhook rows (_judge) come after.
    await lock_in_order(
        conn, one_of(notifications.c.id, [o.notification_id for o in outcomes], True)
    )
    if tried:
        await conn.execute(
            _PG_ATTEMPTS,
            {
                "ids": [o.attempt_id for o in tried],
                "nids": [o.notification_id for o in tried],
                "accounts": [o.account_id for o in tried],
                "webhooks": [o.webhook_id for o in tried],
                "ats": [o.attempted_at for o in tried],
                "codes": [o.status_code for o in tried],
                "bodies": [o.response_body for o in tried],
                "durations": [o.duration_ms for o in tried],
                "errors": [o.error for o in tried],
                "outcomes": [_outcome(o) for o in tried],
            },
        )
    await conn.execute(
        _PG_NOTIFICATIONS,
        {
            "ids": [o.notification_id for o in outcomes],
            "leases": [o.lease_until for o in outcomes],
            "statuses": [o.status for o in outcomes],
            "attempted": [1 if o.attempted else 0 for o in outcomes],
            "retries": [o.retry_index for o in outcomes],
            "nexts": [o.next_attempt_at for o in outcomes],
            "ats": [o.attempted_at for o in outcomes],
            "codes": [o.status_code for o in outcomes],
            "errors": [o.error for o in outcomes],
            "worker": worker_id,
        },
    )


async def _judge(
    conn: AsyncConnection, streaks: dict[str, health.Streak], now: int, rules: HealthRules
) -> list[Disabled]:
    """Read each webhook's health, judge it, write it back. On PostgreSQL the rows to change
    are read again locked (in id order), so two workers recording for one webhook add up
    rather than overwrite. A batch that changes nothing (successes on a healthy webhook, the
    usual case) takes no lock: it orders as if it had run before any concurrent writer, and
    the claims that lock the webhook row do not wait for it."""
    postgres = conn.dialect.name == "postgresql"
    rows = await _health(conn, sorted(streaks), postgres, lock=False)
    changes, disabled = _verdicts(rows, streaks, now, rules)
    if postgres and (changes or disabled):
        rows = await _health(conn, sorted({*changes, *disabled}), postgres, lock=True)
        changes, disabled = _verdicts(rows, streaks, now, rules)
    if changes:
        await conn.execute(_set_health, list(changes.values()))
    for gone in disabled.values():
        await conn.execute(
            webhooks.update()
            .where(webhooks.c.id == gone.webhook_id)
            .values(status="Disabled", disabled_reason=gone.reason, updated_at=now)
        )
    return list(disabled.values())


async def _health(
    conn: AsyncConnection, webhook_ids: list[str], postgres: bool, *, lock: bool
) -> Sequence[Any]:
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
        .where(one_of(webhooks.c.id, webhook_ids, postgres))
        .order_by(webhooks.c.id)
    )
    return (await conn.execute(query.with_for_update() if lock else query)).all()


def _verdicts(
    rows: Sequence[Any], streaks: dict[str, health.Streak], now: int, rules: HealthRules
) -> tuple[dict[str, dict[str, Any]], dict[str, Disabled]]:
    """Per webhook whose health the streaks change: its new health (as ``_set_health``'s
    parameters), and those the rules disable."""
    changes: dict[str, dict[str, Any]] = {}
    disabled: dict[str, Disabled] = {}
    for row in rows:
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
            changes[row.id] = {
                "b_id": row.id,
                "b_failures": after.consecutive_failures,
                "b_since": after.failing_since,
                "b_breaker": after.breaker_open_until,
            }
        if verdict.disabled:
            disabled[row.id] = Disabled(row.id, row.account_id, row.url, verdict.disabled)
    return changes, disabled
