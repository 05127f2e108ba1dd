"""The delivery queue is the notifications table: claim what is due, record what happened.

Per-webhook rules are applied here, in the claiming transaction, so they hold for every worker
sharing the database: an open circuit breaker keeps a webhook's notifications waiting, an
ordered webhook offers only its oldest pending notification, and a rate limit hands out send
slots from the webhook row."""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.core.clock import MICROS
from tidings.store.tables import attempts, events, notifications, webhooks

# How far ahead a rate-limited webhook's send slots are handed out.
RATE_HORIZON = MICROS


@dataclass(slots=True)
class Job:
    """A claimed notification with what is needed to send it."""

    notification_id: str
    account_id: str
    event_id: str
    event_type: str
    retry_index: int
    is_test: bool
    event_created_at: int
    data: bytes
    webhook: Row[Any] | None
    # When a rate-limited webhook's slot for this job comes (None: send at once).
    send_at: int | None = None


@dataclass(frozen=True, slots=True)
class Outcome:
    notification_id: str
    account_id: str
    webhook_id: str
    event_type: str
    event_id: str
    attempt_id: str | None
    attempted_at: int
    status: str  # pending (retry due later), succeeded or failed
    retry_index: int
    next_attempt_at: int | None
    status_code: int | None
    response_body: str | None
    duration_ms: float
    error: str | None

    @property
    def attempted(self) -> bool:
        return self.attempt_id is not None


@dataclass
class Health:
    """The deployment's rules for failing webhooks (settings)."""

    breaker_threshold: int
    probe_interval: int  # micros
    disable_after: int  # micros
    disable_min_failures: int


@dataclass
class Recorded:
    """What a batch of outcomes changed beyond the notifications themselves."""

    disabled: list[tuple[Any, str]] = field(default_factory=list)
    failed: list[Outcome] = field(default_factory=list)


def _due(now: int, limit: int, exclude: Collection[str]) -> sa.Select[tuple[str]]:
    n, w = notifications, webhooks
    head = notifications.alias("head")
    oldest_pending = (
        sa.select(sa.func.min(head.c.id))
        .where(sa.and_(head.c.webhook_id == n.c.webhook_id, head.c.status == "pending"))
        .scalar_subquery()
    )
    conditions = [
        n.c.status == "pending",
        n.c.next_attempt_at <= now,
        sa.or_(w.c.breaker_open_until.is_(None), w.c.breaker_open_until <= now),
        sa.or_(w.c.ordered == sa.false(), n.c.id == oldest_pending),
    ]
    if exclude:
        conditions.append(n.c.webhook_id.not_in(list(exclude)))
    return (
        sa.select(n.c.id)
        .select_from(n.join(w, w.c.id == n.c.webhook_id))
        .where(sa.and_(*conditions))
        .order_by(n.c.next_attempt_at)
        .limit(limit)
    )


async def claim(
    conn: AsyncConnection,
    *,
    now: int,
    lease_until: int,
    limit: int,
    room: Callable[[str], int],
    exclude: Collection[str],
    health: Health,
) -> list[Job]:
    """Take up to ``limit`` due notifications, moving them out of reach until ``lease_until``.
    ``room(webhook_id)`` is how many more this worker may hold for that webhook."""
    due = _due(now, limit, exclude)
    if conn.dialect.name == "postgresql":
        due = due.with_for_update(skip_locked=True, of=notifications)
    claimed = (
        await conn.execute(
            notifications.update()
            .where(notifications.c.id.in_(due.scalar_subquery()))
            .values(next_attempt_at=lease_until)
            .returning(
                notifications.c.id,
                notifications.c.account_id,
                notifications.c.event_id,
                notifications.c.webhook_id,
                notifications.c.event_type,
                notifications.c.retry_index,
                notifications.c.is_test,
            )
        )
    ).all()
    if not claimed:
        return []
    event_rows = await conn.execute(
        sa.select(events.c.id, events.c.data, events.c.created_at).where(
            events.c.id.in_({c.event_id for c in claimed})
        )
    )
    by_event = {r.id: r for r in event_rows}
    webhook_rows = await conn.execute(
        webhooks.select().where(webhooks.c.id.in_({c.webhook_id for c in claimed}))
    )
    by_webhook = {r.id: r for r in webhook_rows}
    limited = sorted(i for i, w in by_webhook.items() if w.rate_limit)
    if limited and conn.dialect.name == "postgresql":
        # Rate slots come from the webhook row: lock it so two workers never hand out the
        # same slot.
        locked = await conn.execute(
            webhooks.select().where(webhooks.c.id.in_(limited)).with_for_update()
        )
        by_webhook.update({r.id: r for r in locked})
    jobs = [
        Job(
            notification_id=c.id,
            account_id=c.account_id,
            event_id=c.event_id,
            event_type=c.event_type,
            retry_index=c.retry_index,
            is_test=c.is_test,
            event_created_at=by_event[c.event_id].created_at,
            data=by_event[c.event_id].data,
            webhook=by_webhook.get(c.webhook_id),
        )
        for c in sorted(claimed, key=lambda c: c.id)
    ]
    return await _apply_limits(conn, jobs, now, room, health)


async def _apply_limits(
    conn: AsyncConnection,
    jobs: list[Job],
    now: int,
    room: Callable[[str], int],
    health: Health,
) -> list[Job]:
    """Keep the jobs each webhook's limits allow now; hand the rest back, due again when the
    limit lets them through (without spending an attempt)."""
    by_webhook: dict[str, list[Job]] = {}
    for job in jobs:
        by_webhook.setdefault(job.webhook.id if job.webhook else "", []).append(job)
    kept: list[Job] = []
    released: list[dict[str, Any]] = []
    webhook_changes: list[dict[str, Any]] = []
    for webhook_id, group in by_webhook.items():
        webhook = group[0].webhook
        if webhook is None:
            kept += group
            continue
        allowed = room(webhook_id)
        again_at = now
        change: dict[str, Any] = {}
        if webhook.consecutive_failures >= health.breaker_threshold:
            # Half-open breaker: one probe; the others stay due, held back by the reopened
            # breaker until the probe's answer (a success releases them at once).
            allowed = min(allowed, 1)
            change["breaker_open_until"] = now + health.probe_interval
        take = group[: max(allowed, 0)]
        rest = group[len(take) :]
        if webhook.rate_limit:
            step = MICROS // webhook.rate_limit
            slot = max(now, webhook.rate_next_at or 0)
            within: list[Job] = []
            for job in take:
                if slot > now + RATE_HORIZON:
                    break
                job.send_at = slot if slot > now else None
                within.append(job)
                slot += step
            rest = take[len(within) :] + rest
            take = within
            change["rate_next_at"] = slot
            again_at = max(again_at, slot)
        kept += take
        released += [{"b_id": j.notification_id, "b_next": again_at} for j in rest]
        if change:
            webhook_changes.append({"b_id": webhook_id, **change})
    if released:
        await conn.execute(
            notifications.update()
            .where(notifications.c.id == sa.bindparam("b_id"))
            .values(next_attempt_at=sa.bindparam("b_next")),
            released,
        )
    for change in webhook_changes:
        values = {k: v for k, v in change.items() if k != "b_id"}
        await conn.execute(webhooks.update().where(webhooks.c.id == change["b_id"]).values(values))
    return kept


async def next_due(conn: AsyncConnection) -> int | None:
    """When the earliest pending notification falls due."""
    query = sa.select(sa.func.min(notifications.c.next_attempt_at)).where(
        notifications.c.status == "pending"
    )
    value = (await conn.execute(query)).scalar()
    return int(value) if value is not None else None


_record_notification = (
    notifications.update()
    .where(notifications.c.id == sa.bindparam("b_id"))
    .values(
        status=sa.bindparam("b_status"),
        attempt_count=notifications.c.attempt_count + sa.bindparam("b_attempted"),
        retry_index=sa.bindparam("b_retry_index"),
        next_attempt_at=sa.bindparam("b_next"),
        last_attempt_at=sa.bindparam("b_at"),
        last_status_code=sa.bindparam("b_code"),
        last_error=sa.bindparam("b_error"),
        updated_at=sa.bindparam("b_at"),
    )
)

_webhook_failed = (
    webhooks.update()
    .where(webhooks.c.id == sa.bindparam("b_id"))
    .values(
        consecutive_failures=webhooks.c.consecutive_failures + sa.bindparam("b_failures"),
        failing_since=sa.func.coalesce(webhooks.c.failing_since, sa.bindparam("b_since")),
        breaker_open_until=sa.case(
            (
                webhooks.c.consecutive_failures + sa.bindparam("b_failures")
                >= sa.bindparam("b_threshold"),
                sa.bindparam("b_open_until"),
            ),
            else_=webhooks.c.breaker_open_until,
        ),
    )
)


async def record(
    conn: AsyncConnection, outcomes: list[Outcome], now: int, health: Health
) -> Recorded:
    """Write a batch of outcomes: the attempts, each notification's new state, and each
    webhook's health (failures in a row, the breaker, auto-disable, 410 Gone)."""
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
        await conn.execute(attempts.insert(), attempt_rows)
    await conn.execute(
        _record_notification,
        [
            {
                "b_id": o.notification_id,
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
    recorded = Recorded(failed=[o for o in outcomes if o.status == "failed" and o.attempted])
    await _record_health(conn, [o for o in outcomes if o.attempted], now, health, recorded)
    return recorded


async def _record_health(
    conn: AsyncConnection,
    outcomes: list[Outcome],
    now: int,
    health: Health,
    recorded: Recorded,
) -> None:
    # Only the failures after a webhook's last success in this batch count.
    failures: dict[str, tuple[int, int]] = {}
    recovered: set[str] = set()
    gone: set[str] = set()
    for o in sorted(outcomes, key=lambda o: o.attempted_at):
        if o.status == "succeeded":
            recovered.add(o.webhook_id)
            failures.pop(o.webhook_id, None)
            continue
        count, since = failures.get(o.webhook_id, (0, o.attempted_at))
        failures[o.webhook_id] = (count + 1, since)
        if o.status_code == 410:
            gone.add(o.webhook_id)
    if recovered:
        # A success resets the count; failures after it in this batch count again below.
        await conn.execute(
            webhooks.update()
            .where(webhooks.c.id.in_(recovered))
            .values(consecutive_failures=0, failing_since=None, breaker_open_until=None)
        )
    if failures:
        await conn.execute(
            _webhook_failed,
            [
                {
                    "b_id": webhook_id,
                    "b_failures": count,
                    "b_since": since,
                    "b_threshold": health.breaker_threshold,
                    "b_open_until": now + health.probe_interval,
                }
                for webhook_id, (count, since) in failures.items()
            ],
        )
    failing = (
        webhooks.select()
        .where(
            sa.and_(
                webhooks.c.id.in_(set(failures)),
                webhooks.c.status == "Active",
                sa.or_(
                    webhooks.c.id.in_(gone),
                    sa.and_(
                        webhooks.c.failing_since <= now - health.disable_after,
                        webhooks.c.consecutive_failures >= health.disable_min_failures,
                    ),
                ),
            )
        )
        .with_only_columns(webhooks.c.id, webhooks.c.account_id, webhooks.c.url)
    )
    for row in (await conn.execute(failing)).all() if failures else []:
        reason = "gone" if row.id in gone else "failing"
        await conn.execute(
            webhooks.update()
            .where(webhooks.c.id == row.id)
            .values(status="Disabled", disabled_reason=reason, updated_at=now)
        )
        recorded.disabled.append((row, reason))
