"""Prometheus metrics. Counters and histograms are this process's; the queue gauges are read
from the database at scrape time, so they are the same whichever process is scraped."""

from __future__ import annotations

import time

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    ProcessCollector,
    generate_latest,
)

from tidings.runtime.context import Context
from tidings.store.queue.stats import queue_stats

REGISTRY = CollectorRegistry()
# The process's memory, CPU and file descriptors, and the garbage collector's work
# (python_gc_collections_total by generation: see runtime/gc_tuning.py).
ProcessCollector(registry=REGISTRY)
GCCollector(registry=REGISTRY)

EVENTS_PUBLISHED = Counter(
    "tidings_events_published_total", "Events accepted and committed", registry=REGISTRY
)
NOTIFICATIONS_DONE = Counter(
    "tidings_notifications_total",
    "Notifications that reached an outcome",
    ["outcome"],
    registry=REGISTRY,
)
ATTEMPTS = Counter("tidings_attempts_total", "Delivery attempts", ["outcome"], registry=REGISTRY)
ATTEMPT_SECONDS = Histogram(
    "tidings_attempt_duration_seconds",
    "Time from sending a delivery to its answer",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15, 30),
    registry=REGISTRY,
)
SCHEDULER_LEADER = Gauge(
    "tidings_scheduler_leader",
    "1 while this process holds the scheduler lock and runs the periodic jobs",
    registry=REGISTRY,
)
LEASES_RELEASED = Counter(
    "tidings_leases_released_total",
    "Claimed notifications handed back unsent (at shutdown; leased ahead of a webhook that failed)",
    registry=REGISTRY,
)
HANDED_OFF = Counter(
    "tidings_notifications_handed_off_total",
    "Notifications a publish handed straight to its own process's worker, without a claim",
    registry=REGISTRY,
)
_LEASED = Gauge(
    "tidings_notifications_in_flight",
    "Notifications leased by a worker right now (all processes)",
    registry=REGISTRY,
)
_DUE = Gauge("tidings_due_notifications", "Pending notifications due now", registry=REGISTRY)
_OLDEST = Gauge(
    "tidings_oldest_due_seconds", "Age of the oldest due notification", registry=REGISTRY
)
_BREAKERS = Gauge(
    "tidings_open_circuit_breakers", "Webhooks whose breaker is open", registry=REGISTRY
)
_HEARTBEAT = Gauge(
    "tidings_worker_heartbeat_age_seconds",
    "Seconds since this process's worker went round its loop (0 in a process without one)",
    registry=REGISTRY,
)


_DATABASE_UP = Gauge(
    "tidings_database_up", "1 when the database answered this scrape", registry=REGISTRY
)


async def render(ctx: Context) -> bytes:
    try:
        await _read_queue(ctx)
        _DATABASE_UP.set(1)
    except Exception:
        # The process's own figures still matter while the database is away.
        _DATABASE_UP.set(0)
    if ctx.worker_heartbeat is not None:
        _HEARTBEAT.set(time.monotonic() - ctx.worker_heartbeat)
    return generate_latest(REGISTRY)


async def _read_queue(ctx: Context) -> None:
    now = ctx.clock.now()
    async with ctx.db.read() as conn:
        stats = await queue_stats(conn, now)
    _DUE.set(stats.due)
    _LEASED.set(stats.leased)
    oldest = stats.oldest_due_at
    _OLDEST.set(max(0.0, (now - oldest) / 1_000_000) if oldest is not None else 0.0)
    _BREAKERS.set(stats.open_breakers)
