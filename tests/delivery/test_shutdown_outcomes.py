"""Issue 16's shutdown defect: a worker stopped while it holds thousands of outcomes not yet
written must write every one of them before it exits: each delivery the receiver got is
recorded, with exactly one attempt, and no notification is left leased or pending."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.support.databases import make_settings
from tests.support.partner import create_webhook, open_account, publish
from tests.support.receiver import Receiver, Reply
from tests.support.server import RunningServer
from tidings.store.db import Database

# Each event goes to every webhook: thousands of notifications for a hundred requests.
WEBHOOKS = 30
EVENTS = 100
NOTIFICATIONS = WEBHOOKS * EVENTS
# Every reply waits this long, so that all of them are in flight when the server stops and
# their outcomes all reach the writer during the shutdown, thousands at once.
REPLY_DELAY = 1.0


def _settings(database_url: str, data_dir: Path, role: str) -> Any:
    return make_settings(
        database_url,
        data_dir,
        role=role,
        worker_concurrency=NOTIFICATIONS,
        webhook_concurrency=NOTIFICATIONS,
        worker_batch_size=1000,
        # Thousands in flight on a busy machine (the receiver shares this process): no
        # attempt may time out and be retried, which would blur what is counted.
        delivery_timeout=60.0,
        lease_seconds=120.0,
        # Longer than the replies take: the in-flight deliveries all finish during the stop.
        shutdown_grace=30.0,
    )


async def _recorded(database_url: str) -> dict[str, Any]:
    db = Database(database_url)
    try:
        async with db.read() as conn:
            statuses = dict(
                (
                    await conn.execute(
                        sa.text("SELECT status, count(*) FROM notifications GROUP BY status")
                    )
                ).all()
            )
            leased = (
                await conn.execute(
                    sa.text("SELECT count(*) FROM notifications WHERE leased_by IS NOT NULL")
                )
            ).scalar_one()
            per_notification = dict(
                (
                    await conn.execute(
                        sa.text(
                            "SELECT n, count(*) FROM (SELECT notification_id, count(*) AS n"
                            " FROM attempts GROUP BY notification_id) AS a GROUP BY n"
                        )
                    )
                ).all()
            )
            counted = (
                await conn.execute(
                    sa.text("SELECT count(*) FROM notifications WHERE attempt_count <> 1")
                )
            ).scalar_one()
    finally:
        await db.dispose()
    return {
        "statuses": statuses,
        "leased": leased,
        "attempts_per_notification": per_notification,
        "attempt_count_not_one": counted,
    }


def test_stopping_a_worker_writes_thousands_of_pending_outcomes(
    own_database: str, tmp_path: Path
) -> None:
    with Receiver(default=Reply(delay=REPLY_DELAY)) as rx:
        # Published with no worker running, so that one worker then takes them all at once.
        with (
            RunningServer(_settings(own_database, tmp_path, "api")) as api,
            open_account(api, event_types=["order.paid"]) as client,
        ):
            for n in range(WEBHOOKS):
                create_webhook(client, f"{rx.url}/{n}", eventTypes=["order.paid"])
            for n in range(EVENTS):
                publish(client, "order.paid", {"n": n})

        server = RunningServer(_settings(own_database, tmp_path, "all"))
        with server:
            # Every notification is in flight: none of their outcomes is written yet.
            rx.wait(NOTIFICATIONS, timeout=120)

        # The server has stopped: whatever it got answers for is recorded, once.
        got = asyncio.run(_recorded(server.settings.resolved_database_url()))
        assert len(rx.requests) == NOTIFICATIONS
        sent_ids = [r.headers["webhook-id"] for r in rx.requests]
        assert len(set(sent_ids)) == NOTIFICATIONS  # nothing was sent twice
    assert got == {
        "statuses": {"succeeded": NOTIFICATIONS},
        "leased": 0,
        "attempts_per_notification": {1: NOTIFICATIONS},
        "attempt_count_not_one": 0,
    }
