"""The dashboard's overview: the last 24 hours of deliveries of one account (attempts per
hour by outcome, success rate, latency percentiles) and its webhooks in trouble."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from tidings.core.access import Access
from tidings.core.clock import to_iso
from tidings.runtime.context import Context
from tidings.store import delivery_stats as store

HOURS = 24


def _window(now: int) -> tuple[int, int]:
    """The first hour index of the window, and the micros it starts at."""
    first = now // store.HOUR - (HOURS - 1)
    return first, first * store.HOUR


async def overview(ctx: Context, access: Access) -> dict[str, Any]:
    access.caller.require("notifications", "read")
    now = ctx.clock.now()
    first, since = _window(now)
    async with ctx.db.read() as conn:
        rows = await store.hourly(conn, access.account_id, since)
        p50 = await store.latency_percentile(conn, access.account_id, since, 0.5)
        p95 = await store.latency_percentile(conn, access.account_id, since, 0.95)
        troubled = await store.troubled_webhooks(conn, access.account_id, now)
    hours: list[dict[str, Any]] = [
        {"hour": first + i, "succeeded": 0, "failed": 0, "start": to_iso((first + i) * store.HOUR)}
        for i in range(HOURS)
    ]
    for row in rows:
        index = int(row.hour) - first
        if 0 <= index < HOURS:
            hours[index]["succeeded" if row.outcome == "succeeded" else "failed"] += int(row.n)
    succeeded = sum(h["succeeded"] for h in hours)
    total = succeeded + sum(h["failed"] for h in hours)
    return {
        "hours": hours,
        "attempts": total,
        "success_rate": succeeded / total if total else None,
        "p50_ms": p50,
        "p95_ms": p95,
        "failing": [
            {
                "id": w.id,
                "url": w.url,
                "status": w.status,
                "state": _state(w, now),
                "consecutive_failures": w.consecutive_failures,
                "failing_since": to_iso(w.failing_since),
            }
            for w in troubled
        ],
    }


def _state(row: Any, now: int) -> str:
    if row.status == "Disabled":
        return f"disabled ({row.disabled_reason or 'manual'})"
    if row.breaker_open_until and row.breaker_open_until > now:
        return "breaker open"
    return f"failing ({row.consecutive_failures} in a row)"


async def success_by_webhook(ctx: Context, access: Access) -> dict[str, list[float | None]]:
    """Each webhook's success rate per hour over the last 24 h (None: no attempt that hour)."""
    first, since = _window(ctx.clock.now())
    async with ctx.db.read() as conn:
        rows = await store.hourly(conn, access.account_id, since, by_webhook=True)
    counts: dict[str, list[list[int]]] = defaultdict(lambda: [[0, 0] for _ in range(HOURS)])
    for row in rows:
        index = int(row.hour) - first
        if 0 <= index < HOURS:
            counts[row.webhook_id][index][0 if row.outcome == "succeeded" else 1] += int(row.n)
    return {
        webhook_id: [(ok / (ok + bad)) if ok + bad else None for ok, bad in series]
        for webhook_id, series in counts.items()
    }
