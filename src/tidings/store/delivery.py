"""The delivery queue is the notifications table: claim what is due, record what happened.

Per-webhook rules are applied here, in the claiming transaction, so they hold for every worker
sharing the database: an open circuit breaker keeps a webhook's notifications waiting, an
ordered webhook offers only its oldest pending notification, and a rate limit hands out send
slots from the webhook row."""

from __future__ import annotations

import functools
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.core.clock import MICROS
from tidings.store.tables import attempts, events, notifications, webhooks

# How far ahead a rate-limited webhook's send slots are handed out.
RATE_HORIZON = MICROS
# A claim reads this many times its limit of the earliest due rows to find what fits.
SCAN_FACTOR = 4
# Webhooks a claim looks for past its window, when the window is blocked (see _choose).
BEYOND_WINDOW = 16
# The earliest pending rows next_due reads before looking webhook by webhook.
NEXT_DUE_WINDOW = 256


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
    # The lease: the notification's next_attempt_at while this worker holds it.
    lease_until: int = 0
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
    # The lease the job was claimed with (see Job.lease_until).
    lease_until: int

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


async def _choose(
    conn: AsyncConnection,
    now: int,
    limit: int,
    rooms: Mapping[str, int],
    default_room: int,
    postgres: bool,
) -> list[str]:
    """The ids to claim: due, earliest first, at most each webhook's room (``rooms``, else
    ``default_room``), so a claim takes what can be sent rather than taking and handing back.

    The window read is bounded (``SCAN_FACTOR`` times the limit, by the due index), whatever the
    backlog. Rows a webhook cannot take now (full, breaker open, not the head of an ordered
    webhook) stay due and, being the oldest, pile up at the front of the index: when the window
    ends among such rows, the webhooks behind them are found by the per-webhook index instead of
    reading the pile on every claim (a hung endpoint's backlog must not slow the others)."""
    window_size = limit * SCAN_FACTOR
    params = {"now": now, "window_size": window_size}
    rows = (await conn.execute(_window(postgres), params)).all()
    taken: dict[str, list[str]] = {}
    count = 0
    passed_over = False
    for row in rows:
        held = taken.setdefault(row.webhook_id, [])
        if (
            (row.breaker_open_until is not None and row.breaker_open_until > now)
            or (row.head is not None and row.head != row.id)
            or len(held) >= rooms.get(row.webhook_id, default_room)
        ):
            passed_over = True
            continue
        held.append(row.id)
        count += 1
        if count >= limit:
            break
    chosen = [i for ids in taken.values() for i in ids]
    if passed_over and len(rows) == window_size and len(chosen) < limit:
        chosen += await _beyond_window(
            conn, now, limit - len(chosen), rooms, default_room, taken, postgres
        )
    return chosen


@functools.cache
def _window(postgres: bool) -> sa.Select[Any]:
    """The earliest due rows with what decides whether each may go now; built once (it runs on
    every claim), ``now`` and ``window_size`` bound per call."""
    n, w = notifications, webhooks
    window = (
        sa.select(
            n.c.id,
            n.c.webhook_id,
            w.c.breaker_open_until,
            sa.case((w.c.ordered == sa.true(), _oldest_pending(n.c.webhook_id))).label("head"),
        )
        .select_from(n.join(w, w.c.id == n.c.webhook_id))
        .where(sa.and_(n.c.status == "pending", n.c.next_attempt_at <= sa.bindparam("now")))
        .order_by(n.c.next_attempt_at)
        .limit(sa.bindparam("window_size", type_=sa.Integer))
    )
    return window.with_for_update(skip_locked=True, of=n) if postgres else window


def _oldest_pending(webhook_id: Any) -> Any:
    head = notifications.alias("head")
    return (
        sa.select(sa.func.min(head.c.id))
        .where(sa.and_(head.c.webhook_id == webhook_id, head.c.status == "pending"))
        .scalar_subquery()
    )


async def _beyond_window(
    conn: AsyncConnection,
    now: int,
    limit: int,
    rooms: Mapping[str, int],
    default_room: int,
    taken: Mapping[str, list[str]],
    postgres: bool,
) -> list[str]:
    """Due rows of webhooks with room whose rows lie past the window: a few webhooks at a time,
    each read from its own end of ``ix_notifications_webhook_due``."""
    n, w = notifications, webhooks
    room = {
        webhook_id: rooms.get(webhook_id, default_room) - len(taken.get(webhook_id, ()))
        for webhook_id in {*rooms, *taken}
    }
    exclude = [webhook_id for webhook_id, left in room.items() if left <= 0]
    has_due = sa.exists().where(
        sa.and_(n.c.webhook_id == w.c.id, n.c.status == "pending", n.c.next_attempt_at <= now)
    )
    found = sa.select(w.c.id, w.c.ordered).where(
        sa.and_(
            has_due,
            sa.or_(w.c.breaker_open_until.is_(None), w.c.breaker_open_until <= now),
            w.c.id.not_in(exclude) if exclude else sa.true(),
        )
    )
    chosen: list[str] = []
    for webhook_id, ordered in (await conn.execute(found.limit(BEYOND_WINDOW))).all():
        want = min(room.get(webhook_id, default_room), limit - len(chosen))
        if want <= 0:
            break
        conditions = [
            n.c.webhook_id == webhook_id,
            n.c.status == "pending",
            n.c.next_attempt_at <= now,
        ]
        if ordered:
            conditions.append(n.c.id == _oldest_pending(webhook_id))
        if taken.get(webhook_id):
            conditions.append(n.c.id.not_in(taken[webhook_id]))
        query = sa.select(n.c.id).where(sa.and_(*conditions)).order_by(n.c.next_attempt_at)
        if postgres:
            query = query.with_for_update(skip_locked=True)
        chosen += (await conn.execute(query.limit(want))).scalars()
    return chosen


async def claim(
    conn: AsyncConnection,
    *,
    worker_id: str,
    now: int,
    lease_until: int,
    limit: int,
    rooms: Mapping[str, int],
    default_room: int,
    health: Health,
) -> list[Job]:
    """Take up to ``limit`` due notifications, leased to ``worker_id`` until ``lease_until``.
    ``rooms`` is how many more this worker may hold for the webhooks it holds some of (others:
    ``default_room``); leases other workers hold on the same webhook are subtracted here, under
    the webhook's row lock, so the cap holds across workers."""
    postgres = conn.dialect.name == "postgresql"
    chosen = await _choose(conn, now, limit, rooms, default_room, postgres)
    if not chosen:
        return []
    claimed = (
        await conn.execute(
            notifications.update()
            .where(_one_of(notifications.c.id, chosen, postgres))
            .values(next_attempt_at=lease_until, leased_by=worker_id)
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
            _one_of(events.c.id, sorted({c.event_id for c in claimed}), postgres)
        )
    )
    by_event = {r.id: r for r in event_rows}
    webhook_ids = sorted({c.webhook_id for c in claimed})
    select_webhooks = webhooks.select().where(_one_of(webhooks.c.id, webhook_ids, postgres))
    if postgres:
        # Concurrency and rate slots are counted per webhook: lock its row (in id order, so
        # two workers never deadlock) and the count below cannot race another worker's claim.
        select_webhooks = select_webhooks.order_by(webhooks.c.id).with_for_update()
    by_webhook = {r.id: r for r in await conn.execute(select_webhooks)}
    others = await _leased_elsewhere(conn, worker_id, webhook_ids, now, postgres)
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
            lease_until=lease_until,
        )
        for c in sorted(claimed, key=lambda c: c.id)
    ]
    return await _apply_limits(
        conn, jobs, now, lambda w: rooms.get(w, default_room) - others.get(w, 0), health
    )


def _one_of(column: Any, values: list[str], postgres: bool) -> Any:
    """``column IN values``; on PostgreSQL as ``= ANY(array)``: one statement text whatever the
    count, so asyncpg prepares it once instead of once per list length."""
    if postgres:
        return column == sa.any_(sa.bindparam("values", values, type_=ARRAY(sa.String)))
    return column.in_(values)


async def _leased_elsewhere(
    conn: AsyncConnection, worker_id: str, webhook_ids: list[str], now: int, postgres: bool
) -> dict[str, int]:
    """Per webhook, the live leases other workers hold (a crashed worker's count until they
    expire)."""
    n = notifications
    rows = await conn.execute(
        sa.select(n.c.webhook_id, sa.func.count())
        .where(
            sa.and_(
                _one_of(n.c.webhook_id, webhook_ids, postgres),
                n.c.leased_by.is_not(None),
                n.c.leased_by != worker_id,
                n.c.status == "pending",
                n.c.next_attempt_at > now,
            )
        )
        .group_by(n.c.webhook_id)
    )
    return {row[0]: row[1] for row in rows}


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
        [{"b_id": j.notification_id, "b_lease": j.lease_until} for j in jobs],
    )
    return int(result.rowcount or 0)


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
            .values(next_attempt_at=sa.bindparam("b_next"), leased_by=None),
            released,
        )
    for change in webhook_changes:
        values = {k: v for k, v in change.items() if k != "b_id"}
        await conn.execute(webhooks.update().where(webhooks.c.id == change["b_id"]).values(values))
    return kept


async def next_due(conn: AsyncConnection, exclude: Collection[str] = ()) -> int | None:
    """When the earliest pending notification falls due (of webhooks not in ``exclude``)."""
    n = notifications
    front = (
        sa.select(n.c.next_attempt_at, n.c.webhook_id)
        .where(n.c.status == "pending")
        .order_by(n.c.next_attempt_at)
        .limit(NEXT_DUE_WINDOW)
    )
    rows = (await conn.execute(front)).all()
    for at, webhook_id in rows:
        if webhook_id not in exclude:
            return int(at)
    if len(rows) < NEXT_DUE_WINDOW:
        return None
    # Past a pile of the excluded webhooks' rows: every other webhook's earliest, one seek each.
    w = webhooks
    earliest = (
        sa.select(sa.func.min(n.c.next_attempt_at))
        .where(sa.and_(n.c.webhook_id == w.c.id, n.c.status == "pending"))
        .scalar_subquery()
    )
    query = sa.select(sa.func.min(earliest)).where(w.c.id.not_in(list(exclude)))
    value = (await conn.execute(query)).scalar()
    return int(value) if value is not None else None


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
    conn: AsyncConnection, worker_id: str, outcomes: list[Outcome], now: int, health: Health
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
    # Only the failures after a webhook's last success in this batch count: per webhook, how
    # many, when the first and the last of them were attempted.
    failures: dict[str, tuple[int, int, int]] = {}
    recovered: set[str] = set()
    gone: set[str] = set()
    for o in sorted(outcomes, key=lambda o: o.attempted_at):
        if o.status == "succeeded":
            recovered.add(o.webhook_id)
            failures.pop(o.webhook_id, None)
            continue
        count, since, _ = failures.get(o.webhook_id, (0, o.attempted_at, 0))
        failures[o.webhook_id] = (count + 1, since, o.attempted_at)
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
                for webhook_id, (count, since, _) in failures.items()
            ],
        )
    candidates = (
        webhooks.select()
        .where(
            sa.and_(
                webhooks.c.id.in_(set(failures)),
                webhooks.c.status == "Active",
                sa.or_(
                    webhooks.c.id.in_(gone),
                    webhooks.c.consecutive_failures >= health.disable_min_failures,
                ),
            )
        )
        .with_only_columns(
            webhooks.c.id, webhooks.c.account_id, webhooks.c.url, webhooks.c.failing_since
        )
    )
    for row in (await conn.execute(candidates)).all() if failures else []:
        # Failing for the whole window: from the first failed attempt to the latest one (the
        # attempts' own times, not when their outcomes happened to be written).
        latest = failures[row.id][2]
        failing_long = row.failing_since is not None and (
            row.failing_since <= latest - health.disable_after
        )
        if row.id not in gone and not failing_long:
            continue
        reason = "gone" if row.id in gone else "failing"
        await conn.execute(
            webhooks.update()
            .where(webhooks.c.id == row.id)
            .values(status="Disabled", disabled_reason=reason, updated_at=now)
        )
        recorded.disabled.append((row, reason))
