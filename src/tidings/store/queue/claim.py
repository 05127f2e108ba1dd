"""Claiming: take due notifications, leased to one worker, in one transaction.

What may be taken (breaker, ordered head, room per webhook, rate slots) is decided by
core/claims.py from the rows read here; on PostgreSQL the rows are locked (``SKIP LOCKED`` for
notifications, the webhook rows in id order), so the rules hold across workers."""

from __future__ import annotations

import functools
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.core import claims
from tidings.core.health import HealthRules
from tidings.store.queue.jobs import Job
from tidings.store.sql import one_of
from tidings.store.tables import events, notifications, webhooks

# A claim reads this many times its limit of the earliest due rows to find what fits.
SCAN_FACTOR = 4
# Webhooks a claim looks for past its window, when the window is blocked (see _choose).
BEYOND_WINDOW = 16
# The earliest pending rows next_due reads before looking webhook by webhook.
NEXT_DUE_WINDOW = 256


@dataclass(frozen=True)
class Claimed:
    jobs: list[Job]
    # Webhooks of this claim that no other worker holds leases on and that may lease ahead
    # (see ``claim``'s ``ahead``).
    alone: frozenset[str] = field(default_factory=frozenset)


async def claim(
    conn: AsyncConnection,
    *,
    worker_id: str,
    now: int,
    lease_until: int,
    limit: int,
    rooms: Mapping[str, int],
    default_room: int,
    rules: HealthRules,
    ahead: Mapping[str, int] | None = None,
) -> Claimed:
    """Take up to ``limit`` due notifications, leased to ``worker_id`` until ``lease_until``.
    ``rooms`` is how many more this worker may hold for the webhooks it holds some of (others:
    ``default_room``); leases other workers hold on the same webhook are subtracted here, under
    the webhook's row lock, so the cap holds across workers.

    ``ahead`` is the part of a webhook's room beyond its concurrency cap: leases a worker takes
    in advance and sends as in-flight requests finish, so that claims are larger than the gap
    between two. It is granted only to a worker alone on a webhook that sends freely (no
    failure in a row, not ordered, not rate-limited): when other workers hold leases on it,
    all their leases count against the cap."""
    postgres = conn.dialect.name == "postgresql"
    chosen = await _choose(conn, now, limit, rooms, default_room, postgres)
    return await _lease(
        conn, chosen, worker_id, now, lease_until, rooms, default_room, rules, ahead or {}
    )


async def claim_listener(
    conn: AsyncConnection,
    *,
    webhook_id: str,
    listener_id: str,
    now: int,
    lease_until: int,
    limit: int,
    rules: HealthRules,
) -> list[Job]:
    """Take up to ``limit`` of a listener webhook's due notifications, leased to the listener
    (workers never claim a listener's: see ``_window``)."""
    n = notifications
    query = (
        sa.select(n.c.id)
        .where(
            sa.and_(
                n.c.webhook_id == webhook_id, n.c.status == "pending", n.c.next_attempt_at <= now
            )
        )
        .order_by(n.c.next_attempt_at)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    chosen = list((await conn.execute(query)).scalars())
    claimed = await _lease(conn, chosen, listener_id, now, lease_until, {}, limit, rules, {})
    return claimed.jobs


async def _lease(
    conn: AsyncConnection,
    chosen: list[str],
    worker_id: str,
    now: int,
    lease_until: int,
    rooms: Mapping[str, int],
    default_room: int,
    rules: HealthRules,
    ahead: Mapping[str, int],
) -> Claimed:
    """Lease the ``chosen`` notifications to ``worker_id``; load their events and webhooks;
    apply each webhook's limits."""
    postgres = conn.dialect.name == "postgresql"
    if not chosen:
        return Claimed([])
    claimed = (
        await conn.execute(
            notifications.update()
            .where(one_of(notifications.c.id, chosen, postgres))
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
        return Claimed([])
    event_rows = await conn.execute(
        sa.select(events.c.id, events.c.data, events.c.created_at).where(
            one_of(events.c.id, sorted({c.event_id for c in claimed}), postgres)
        )
    )
    by_event = {r.id: r for r in event_rows}
    webhook_ids = sorted({c.webhook_id for c in claimed})
    select_webhooks = webhooks.select().where(one_of(webhooks.c.id, webhook_ids, postgres))
    if postgres:
        # Concurrency and rate slots are counted per webhook: lock its row (in id order, so
        # two workers never deadlock) and the count below cannot race another worker's claim.
        select_webhooks = select_webhooks.order_by(webhooks.c.id).with_for_update()
    by_webhook = {r.id: r for r in await conn.execute(select_webhooks)}
    others = await _leased_elsewhere(conn, worker_id, webhook_ids, now, postgres)
    jobs = [
        Job.of(
            c,
            by_webhook.get(c.webhook_id),
            lease_until,
            event_created_at=by_event[c.event_id].created_at,
            data=by_event[c.event_id].data,
        )
        for c in sorted(claimed, key=lambda c: c.id)
    ]
    alone = frozenset(
        w
        for w in webhook_ids
        if not others.get(w) and w in by_webhook and claims.sends_freely(by_webhook[w])
    )
    room = {
        w: rooms.get(w, default_room) - others.get(w, 0) - (0 if w in alone else ahead.get(w, 0))
        for w in webhook_ids
    }
    return Claimed(await _apply_limits(conn, jobs, now, room, rules), alone)


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
    params: dict[str, Any] = {"now": now, "window_size": window_size}
    if postgres:
        held = sorted(rooms)
        params |= {"held": held, "rooms": [rooms[w] for w in held], "default_room": default_room}
        answer = (await conn.execute(_PG_WINDOW, params)).all()
        rows = [row for row in answer if row.id is not None]
        read = next(row.window_rows for row in answer if row.id is None)
    else:
        rows = (await conn.execute(_window(), params)).all()
        read = len(rows)
    choice = claims.choose(rows, now, limit, lambda w: rooms.get(w, default_room))
    chosen = choice.ids
    # A full window that could not fill the claim was passed over in part (on PostgreSQL the
    # rows past their webhook's room are not even returned): other webhooks' rows may lie
    # behind it.
    if read == window_size and len(chosen) < limit:
        chosen += await _beyond_window(
            conn, now, limit - len(chosen), rooms, default_room, choice.taken, postgres
        )
    return chosen


# PostgreSQL's window: the earliest due rows are read without locks, and only those within
# their webhook's room (``held``/``rooms`` for the webhooks this worker holds some of, else
# ``default_room``) are locked, one by one (``SKIP LOCKED``), and returned. Locking the whole
# window kept rows a claim could not take from the other workers and cost a write per row:
# with one webhook's backlog a claim locked four times its limit to take the handful its room
# allowed. The rows are locked in a LATERAL sub-select, after the room filter (``OFFSET 0``
# keeps the planner from merging the two): asyncpg's prepared statement gets a generic plan,
# and joined plainly that plan scanned every due row.
_PG_WINDOW = sa.text(
    "WITH due AS MATERIALIZED (SELECT id, webhook_id, next_attempt_at,"
    "  row_number() OVER (PARTITION BY webhook_id ORDER BY next_attempt_at, id) AS place"
    "  FROM (SELECT id, webhook_id, next_attempt_at FROM notifications"
    "   WHERE status = 'pending' AND next_attempt_at <= :now"
    "   ORDER BY next_attempt_at LIMIT :window_size) AS earliest)"
    " (SELECT n.id, r.webhook_id, r.breaker_open_until, r.head, NULL AS window_rows"
    " FROM (SELECT d.id, d.webhook_id, d.next_attempt_at,"
    "  w.breaker_open_until, CASE WHEN w.ordered THEN d.id END AS head"
    "  FROM due AS d JOIN webhooks AS w ON w.id = d.webhook_id"
    "  LEFT JOIN unnest(CAST(:held AS varchar[]), CAST(:rooms AS integer[]))"
    "   AS room(webhook_id, room) ON room.webhook_id = d.webhook_id"
    # An ordered webhook offers its oldest pending notification alone, wherever it is in
    # the window (a retry due later than the newer ones behind it).
    "  WHERE CASE WHEN w.ordered THEN d.id = (SELECT min(h.id) FROM notifications AS h"
    "   WHERE h.webhook_id = d.webhook_id AND h.status = 'pending')"
    "   ELSE d.place <= coalesce(room.room, :default_room) END"
    # A listener's notifications go down its own stream, not through a worker.
    "   AND w.listener_id IS NULL"
    "  OFFSET 0) AS r"
    # Checked again on the row as locked: another claim may have taken it meanwhile.
    " CROSS JOIN LATERAL (SELECT x.id FROM notifications AS x"
    "  WHERE x.id = r.id AND x.status = 'pending' AND x.next_attempt_at <= :now"
    "  FOR UPDATE SKIP LOCKED) AS n"
    " ORDER BY r.next_attempt_at)"
    # Last, a row without id saying how many rows the window read (when it read as many as
    # it could, the rows left out may hide other webhooks' behind them).
    " UNION ALL SELECT NULL, NULL, NULL, NULL, count(*) FROM due"
)


@functools.cache
def _window() -> sa.Select[Any]:
    """SQLite's window (one writer at a time: no locks): the earliest due rows with what
    decides whether each may go now; built once (it runs on every claim), ``now`` and
    ``window_size`` bound per call."""
    n, w = notifications, webhooks
    window = (
        sa.select(
            n.c.id,
            n.c.webhook_id,
            w.c.breaker_open_until,
            sa.case((w.c.ordered == sa.true(), _oldest_pending(n.c.webhook_id))).label("head"),
        )
        .select_from(n.join(w, w.c.id == n.c.webhook_id))
        .where(
            sa.and_(
                n.c.status == "pending",
                n.c.next_attempt_at <= sa.bindparam("now"),
                # A listener's notifications go down its own stream, not through a worker.
                w.c.listener_id.is_(None),
            )
        )
        .order_by(n.c.next_attempt_at)
        .limit(sa.bindparam("window_size", type_=sa.Integer))
    )
    return window


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
            w.c.listener_id.is_(None),
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
                one_of(n.c.webhook_id, webhook_ids, postgres),
                n.c.leased_by.is_not(None),
                n.c.leased_by != worker_id,
                n.c.status == "pending",
                n.c.next_attempt_at > now,
            )
        )
        .group_by(n.c.webhook_id)
    )
    return {row[0]: row[1] for row in rows}


async def _apply_limits(
    conn: AsyncConnection,
    jobs: list[Job],
    now: int,
    room: Mapping[str, int],
    rules: HealthRules,
) -> list[Job]:
    """Keep the jobs each webhook's limits allow now (core/claims.py); hand the rest back,
    due again when the limit lets them through (without spending an attempt)."""
    by_webhook: dict[str, list[Job]] = {}
    for job in jobs:
        by_webhook.setdefault(job.webhook_id, []).append(job)
    kept: list[Job] = []
    returned: list[dict[str, Any]] = []
    for webhook_id, group in by_webhook.items():
        webhook = group[0].webhook
        if webhook is None:
            kept += group  # ends failed, "webhook deleted", without an attempt
            continue
        limited = claims.limit(
            group,
            room=room[webhook_id],
            consecutive_failures=webhook.consecutive_failures,
            rate_limit=webhook.rate_limit,
            rate_next_at=webhook.rate_next_at,
            now=now,
            rules=rules,
        )
        for job, send_at in zip(limited.kept, limited.send_at, strict=True):
            job.send_at = send_at
        kept += limited.kept
        returned += [
            {"b_id": j.notification_id, "b_next": limited.again_at} for j in limited.returned
        ]
        if limited.changes:
            await conn.execute(
                webhooks.update().where(webhooks.c.id == webhook_id).values(limited.changes)
            )
    if returned:
        await conn.execute(
            notifications.update()
            .where(notifications.c.id == sa.bindparam("b_id"))
            .values(next_attempt_at=sa.bindparam("b_next"), leased_by=None),
            returned,
        )
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
