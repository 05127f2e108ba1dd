"""PostgreSQL: deleting a webhook while its worker records outcomes for it queues one behind
the other instead of deadlocking (PostgreSQL would roll one back after a second: a 503 for
the partner, or outcomes written again later). Both lock the notification rows in id order,
and before the webhook row (store/queue/transitions.py).

The interleavings that deadlocked are made on purpose: a third transaction holds one of the
notifications, the outcome batch (or the DELETE) comes and waits for it, then the other comes
and waits too; the third transaction lets go."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from tests.support.databases import make_settings, postgres_database
from tests.support.partner import client_with_key, create_webhook, open_account, publish
from tests.support.server import RunningServer
from tidings.core.crypto import Keyring, new_key
from tidings.outbound.sender import Response
from tidings.runtime.context import Context
from tidings.services import deliveries
from tidings.store.db import Database

NOTIFICATIONS = 20
WORKER = "wrk_lock_order"


@pytest.fixture
def pg_url() -> Iterator[str]:
    with postgres_database("tidings_locks") as url:
        yield url


async def _waiting_for_locks(db: Database) -> int:
    async with db.read() as conn:
        query = sa.text(
            "SELECT count(*) FROM pg_stat_activity"
            " WHERE datname = current_database() AND wait_event_type = 'Lock'"
        )
        return int((await conn.execute(query)).scalar_one())


async def _until_waiting(db: Database, count: int) -> None:
    for _ in range(500):
        if await _waiting_for_locks(db) >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{count} transaction(s) never waited for a lock")


async def _interleave(
    ctx: Context, api: RunningServer, key: str, webhook_id: str, first: str
) -> Any:
    health = deliveries.rules(ctx)
    claimed = await deliveries.claim(
        ctx, WORKER, limit=lambda: NOTIFICATIONS, rooms=lambda: {}, health=health
    )
    jobs = claimed.jobs
    assert len(jobs) == NOTIFICATIONS
    now = ctx.clock.now()
    answered = Response(status_code=200, body="ok", duration_ms=1.0, error=None)
    # Written in reverse id order, as a batch may come: the writer must lock in id order.
    outcomes = [
        deliveries.outcome_of(job, now, answered, ctx.settings, now)
        for job in sorted(jobs, key=lambda j: j.notification_id, reverse=True)
    ]
    ids = sorted(j.notification_id for j in jobs)
    # The first comes to wait behind the held row holding the rows before it (the deletion,
    # locking in id order) or none (the outcome batch): the second then waits for the first.
    held = ids[0] if first == "outcomes" else ids[len(ids) // 2]
    deleted: dict[str, Any] = {}

    def delete() -> None:
        with client_with_key(api.base_url, key) as http:
            deleted["response"] = http.delete(f"/v1/webhooks/{webhook_id}")

    async with ctx.db.engine.connect() as holder:
        transaction = await holder.begin()
        await holder.execute(
            sa.text("SELECT id FROM notifications WHERE id = :id FOR UPDATE"), {"id": held}
        )
        deleting = threading.Thread(target=delete)
        if first == "deletion":
            deleting.start()
            await _until_waiting(ctx.db, 1)
        recording = asyncio.create_task(deliveries.record(ctx, WORKER, outcomes, health))
        await _until_waiting(ctx.db, 1 if first == "outcomes" else 2)
        if first == "outcomes":
            deleting.start()
            await _until_waiting(ctx.db, 2)
        await transaction.rollback()
    recorded = await recording
    await asyncio.to_thread(deleting.join, 30)
    return recorded, deleted["response"]


async def _statuses(db: Database) -> dict[str, int]:
    async with db.read() as conn:
        query = sa.text(
            "SELECT status || '/' || attempt_count, count(*) FROM notifications GROUP BY 1"
        )
        return {row[0]: row[1] for row in (await conn.execute(query)).all()}


@pytest.mark.parametrize(
    ("first", "ends"),
    [
        # Every outcome is written (the webhook goes after them), each with its one attempt.
        ("outcomes", "succeeded/1"),
        # The deletion ends them first; the outcomes that follow change nothing.
        ("deletion", "failed/0"),
    ],
)
def test_deleting_a_webhook_while_its_outcomes_are_written_does_not_deadlock(
    pg_url: str, tmp_path: Path, first: str, ends: str
) -> None:
    settings = make_settings(pg_url, tmp_path, role="api")
    with RunningServer(settings) as api, open_account(api, event_types=["order.paid"]) as client:
        webhook = create_webhook(client, "http://127.0.0.1:9/hook", eventTypes=["order.paid"])
        for n in range(NOTIFICATIONS):
            publish(client, "order.paid", {"n": n})
        key = client.headers["X-Api-Key"]
        ctx = Context(
            settings=settings,
            db=Database(settings.resolved_database_url()),
            keyring=Keyring(new_key()),
        )

        async def run() -> tuple[Any, httpx.Response, dict[str, int]]:
            try:
                recorded, response = await _interleave(ctx, api, key, webhook["id"], first)
                return recorded, response, await _statuses(ctx.db)
            finally:
                await ctx.db.dispose()

        recorded, response, statuses = asyncio.run(run())

    assert recorded.disabled == []
    assert response.status_code == 204, response.text
    assert statuses == {ends: NOTIFICATIONS}
