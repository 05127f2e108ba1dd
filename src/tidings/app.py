"""The ASGI application: the API routers, and the delivery worker running beside them."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial

from aiohttp.abc import AbstractResolver
from fastapi import Depends, FastAPI

from tidings import __version__
from tidings.api import (
    accounts,
    api_keys,
    docs,
    errors,
    event_types,
    events,
    health,
    listen,
    logs,
    notifications,
    pulls,
    sources,
    users,
    webhooks,
)
from tidings.api.middleware.limits import BodyLimit, NulGuard
from tidings.api.middleware.request_log import RequestLog
from tidings.api.query_guard import check_query
from tidings.config import Settings
from tidings.core.clock import Clock
from tidings.core.rate_limit import TokenBuckets
from tidings.dashboard import mount as dashboard
from tidings.delivery.worker import Worker
from tidings.inbound import push
from tidings.pulls.runner import PullRunner
from tidings.runtime import master_key
from tidings.runtime.context import Context
from tidings.runtime.key_cache import KeyCache
from tidings.runtime.scheduler import Scheduler
from tidings.services import listeners
from tidings.store.db import Database
from tidings.store.wakeups import Wakeups, keys_marker, marker_version

DESCRIPTION = """Webhooks for your partners: API keys, signed and retried deliveries, an
event-type catalog and a log of everything sent.

Authenticate with `Authorization: Bearer <key>` or `X-Api-Key: <key>`. An operator key acts
for an account when it sends `Tidings-Account: acc_…`."""


def create_app(
    settings: Settings | None = None,
    *,
    clock: Clock | None = None,
    run_worker: bool = True,
    resolver: AbstractResolver | None = None,
) -> FastAPI:
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        db = Database(settings.resolved_database_url())
        keyring, _source = master_key.load(settings)
        ctx = Context(
            settings=settings,
            db=db,
            clock=clock or Clock(),
            resolver=resolver,
            keyring=keyring,
            key_buckets=TokenBuckets(settings.key_rate_limit, settings.key_rate_burst),
        )
        marker = keys_marker(db)
        if marker is not None:
            # No NOTIFY on SQLite: a revoke with the CLI replaces this file instead.
            ctx.keys = KeyCache(watch=partial(marker_version, marker))
        elif db.is_sqlite:
            ctx.keys = KeyCache(ttl=0)  # an in-memory database: nothing to watch
        worker = Worker(ctx) if run_worker and settings.role in ("worker", "all") else None
        # Publishing wakes the local worker, and (PostgreSQL) every other one by NOTIFY.
        wakeups = Wakeups(
            db,
            on_wake=worker.wake if worker else None,
            on_keys_changed=ctx.keys.clear,
            on_routes_changed=ctx.routes.clear,
        )
        ctx.wake_worker = wakeups.notify
        ctx.keys.announce = wakeups.keys_changed
        ctx.routes.announce = wakeups.routes_changed
        wakeups.start()
        if worker:
            await worker.start()
            if db.is_sqlite:
                # The only worker (one process serves an SQLite store): publishing here may
                # hand it notifications without a claim. Not on PostgreSQL, where the
                # per-webhook concurrency cap is counted across workers at claim time.
                ctx.handoff = handoff = worker.accept_handoffs()
                ctx.routes.on_clear.append(handoff.forget)
        # Pulls run where deliveries run.
        runner = PullRunner(ctx) if worker else None
        if runner:
            await runner.start()
        app.state.ctx = ctx
        ctx.key_usage.start(db, interval=5.0)
        ctx.request_log.start(db)
        scheduler = Scheduler(ctx) if settings.role in ("scheduler", "all") else None
        if scheduler:
            # Listeners whose process died without leaving.
            scheduler.sweeps.append(lambda: listeners.remove_stale(ctx))
            scheduler.start()
        try:
            yield
        finally:
            ctx.stopping.set()
            # Stop claiming, finish or hand back what is in flight, then the rest.
            if runner:
                await runner.stop()
            if worker:
                await worker.stop()
            if scheduler:
                await scheduler.stop()
            await wakeups.stop()
            await ctx.publisher.close()
            # Requests have all been answered by now: write the last of their log records.
            await ctx.request_log.stop()
            await ctx.key_usage.stop(db)
            await db.dispose()

    app = FastAPI(
        title="Tidings",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        # Served with local assets (api/docs.py).
        docs_url=None,
        redoc_url=None,
        dependencies=[Depends(check_query)],
    )
    errors.install(app)
    # A request is matched against the routers in the order they are included, and each one
    # passed costs several microseconds (~0.15 ms for POST /v1/events behind all the others,
    # a sixth of a publish's CPU): publishing and inbound webhooks first, the rest of the API,
    # then what people read (API docs, dashboard).
    for module in (
        events,
        push,
        health,
        accounts,
        api_keys,
        event_types,
        webhooks,
        notifications,
        logs,
        sources,
        users,
        pulls,
        listen,
    ):
        app.include_router(module.router)
    docs.install(app)
    dashboard.install(app)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes)
    app.add_middleware(NulGuard)
    # Outermost, so the guards' refusals are logged and carry X-Request-Id too.
    app.add_middleware(RequestLog)
    return app
