"""Every event goes through one publish path (services/publish.py), so an ordered webhook keeps
publication order whichever way its events are written: API publishes, test events and
Tidings' own operational events, all at once."""

from __future__ import annotations

import asyncio
import itertools
import json
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import asyncpg
from tidings_client import AsyncTidings, Tidings

from tests.support.databases import fresh_database
from tests.support.partner import (
    add_event_type,
    concurrently,
    create_webhook,
    eventually,
    notification,
    own_partner,
    wait_status,
)
from tests.support.receiver import Receiver

T = TypeVar("T")


def test_test_and_operational_events_keep_an_ordered_webhooks_order(
    partner: Tidings, event_type: str
) -> None:
    with Receiver(default=200) as ordered_rx, Receiver(default=500) as failing_rx:
        ordered = create_webhook(
            partner, ordered_rx.url, ordered=True, event_types=[event_type, "notification.failed"]
        )
        # Fails each notification for good at once: each publish also makes an operational
        # notification.failed event, written by the worker, for the ordered webhook.
        create_webhook(partner, failing_rx.url, event_types=[event_type], retry_schedule=[])
        rounds = 15
        calls: list[Callable[[AsyncTidings], Awaitable[Any]]] = []
        for n in range(rounds):
            data = {"paymentId": f"pay_{n}", "status": "completed"}
            calls.append(lambda t, data=data: t.events.publish(event_type, data))
            calls.append(lambda t, data=data: t.events.test([ordered["id"]], event_type, data))
        concurrently(partner, calls)
        # Each round: the event, the test event and the operational event.
        expected = 3 * rounds
        ordered_rx.wait(expected)

        def listed() -> list[dict[str, Any]] | None:
            page = list(partner.notifications.list(webhook_id=ordered["id"], limit=250))
            done = [n for n in page if n["status"] == "succeeded"]
            return page if len(done) == expected else None

        notifications = eventually(listed, what="every notification succeeded")
        got = list(ordered_rx.requests)
    kinds = {n["eventType"] for n in notifications}
    assert kinds == {event_type, "notification.failed"}
    assert sum(n["test"] for n in notifications) == rounds
    # The order Tidings gave the events (their ids) is the order the receiver saw them in.
    by_event = sorted(notifications, key=lambda n: n["eventId"])
    arrivals = [nid for nid, _ in itertools.groupby(r.headers["webhook-id"] for r in got)]
    assert arrivals == [n["id"] for n in by_event], "out of order"
    raised = [json.loads(r.body)["eventRaisedAt"] for r in got]
    assert raised == sorted(raised), "eventRaisedAt goes backwards at the receiver"


def test_every_publish_path_takes_the_ordered_lock_on_postgresql(
    postgres_url: str, tmp_path: Path
) -> None:
    """Publishing to an ordered webhook serialises on its lock (ids are taken after it, so they
    follow the commit order). Held from outside, the lock must hold back an API publish, a
    test event and an operational event alike."""
    with (
        fresh_database("postgresql", tmp_path) as url,
        own_partner(url, tmp_path) as partner,
        Receiver(default=200) as ordered_rx,
        Receiver(default=500) as failing_rx,
    ):
        add_event_type(partner, "order.paid")
        ordered = create_webhook(
            partner, ordered_rx.url, ordered=True, event_types=["order.paid", "notification.failed"]
        )
        failing = create_webhook(
            partner, failing_rx.url, event_types=["order.paid"], retry_schedule=[]
        )
        data = {"n": 1}
        calls: dict[str, Callable[[], Any]] = {
            "publish": lambda: partner.events.publish("order.paid", data),
            "test event": lambda: partner.events.test([ordered["id"]], "order.paid", data),
        }
        for what, made in calls.items():
            with _holding_lock(url, ordered["id"]):
                answer = _in_background(made)
                time.sleep(1.0)
                assert not answer.done(), f"a {what} did not wait for the ordered lock"
            assert answer.result(timeout=30)["eventData"] == data
        # The failing webhook gets an event of its own; its notification fails for good and the
        # worker publishes notification.failed to the ordered webhook in the outcome's
        # transaction, which must wait too: the failed notification stays pending meanwhile.
        failing_rx.requests.clear()
        with _holding_lock(url, ordered["id"]):
            event = partner.events.test([failing["id"]], "order.paid", data)
            [sent] = event["notifications"]
            failing_rx.wait(1)
            time.sleep(1.0)
            assert notification(partner, sent["id"])["status"] == "pending"
        wait_status(partner, sent["id"], "failed")


@contextmanager
def _holding_lock(database_url: str, webhook_id: str) -> Iterator[None]:
    """The ordered-publishing lock of ``webhook_id``, held by a session of the test's own."""
    with session(database_url) as run:
        run(f"SELECT pg_advisory_lock(hashtext('{webhook_id}'))")
        try:
            yield
        finally:
            run(f"SELECT pg_advisory_unlock(hashtext('{webhook_id}'))")


def _in_background(made: Callable[[], T]) -> Future[T]:
    pool = ThreadPoolExecutor(max_workers=1)
    future = pool.submit(made)
    pool.shutdown(wait=False)
    return future


@contextmanager
def session(database_url: str) -> Iterator[Callable[[str], None]]:
    """One PostgreSQL session of the test's own, kept open on a loop in a thread: session
    locks taken with it live until it closes."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()

    def call(coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, loop).result(timeout=30)

    conn = call(asyncpg.connect(database_url))
    try:
        yield lambda sql: call(conn.execute(sql))
    finally:
        call(conn.close())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
