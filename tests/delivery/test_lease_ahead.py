"""Leasing ahead of a webhook's concurrency cap (delivery/worker.py, store/queue/claim.py): a
worker alone on a webhook that sends freely holds up to twice the cap in leases, so that its
claims are larger than the gap between two, but never has more than the cap in flight; a
failure hands back what was leased ahead, unsent, for the next claim to judge."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from tidings_client import Tidings

from tests.support.databases import make_settings
from tests.support.partner import (
    add_event_type,
    create_webhook,
    eventually,
    open_partner,
    publish,
    wait_status,
)
from tests.support.receiver import Receiver, Reply
from tests.support.server import RunningServer
from tidings.store.db import Database

CAP = 2
RELEASED = "tidings_leases_released_total"


def _leased(database_url: str) -> int:
    """Pending notifications leased to a worker right now."""

    async def count() -> int:
        db = Database(database_url)
        try:
            async with db.read() as conn:
                query = sa.text(
                    "SELECT count(*) FROM notifications"
                    " WHERE leased_by IS NOT NULL AND status = 'pending'"
                )
                return int((await conn.execute(query)).scalar_one())
        finally:
            await db.dispose()

    return asyncio.run(count())


def _released(base_url: str) -> float:
    for line in httpx.get(f"{base_url}/metrics").text.splitlines():
        if line.startswith(RELEASED + " "):
            return float(line.split()[1])
    raise AssertionError(f"{RELEASED} is not in /metrics")


def _payment(n: int) -> dict[str, Any]:
    return {"paymentId": f"pay_{n}", "amount": n}


@contextmanager
def _one_webhook(
    database_url: str, data_dir: Path, reply: Reply
) -> Iterator[tuple[RunningServer, Tidings, Receiver]]:
    """A server with a cap of ``CAP`` and one webhook to a receiver answering ``reply``."""
    settings = make_settings(database_url, data_dir, webhook_concurrency=CAP)
    with (
        RunningServer(settings) as server,
        open_partner(server) as partner,
        Receiver(default=reply) as rx,
    ):
        add_event_type(partner, "order.paid")
        create_webhook(partner, rx.url)
        yield server, partner, rx


def _wait_for_leases_ahead(server: RunningServer) -> None:
    url = server.settings.resolved_database_url()
    eventually(lambda: _leased(url) == 2 * CAP, 15, "leases ahead of the cap")


def test_a_worker_alone_leases_ahead_and_sends_no_more_than_the_cap(
    own_database: str, tmp_path: Path
) -> None:
    # Each answer takes two seconds: long enough for the worker to claim what it may hold.
    with _one_webhook(own_database, tmp_path, Reply(200, delay=2.0)) as (server, partner, rx):
        events = [publish(partner, "order.paid", _payment(n)) for n in range(8)]
        # Twice the cap leased (half of it waiting for the first answers)...
        _wait_for_leases_ahead(server)
        got = rx.wait(8, timeout=30)
        # ...but never more than the cap in flight at the receiver.
        assert rx.max_in_flight == CAP
        # Each notification sent once, and recorded as one successful attempt.
        assert len({r.headers["webhook-id"] for r in got}) == 8
        for event in events:
            done = wait_status(partner, event["notifications"][0]["id"], "succeeded")
            assert done["attemptCount"] == 1


def test_a_failure_hands_back_what_was_leased_ahead_unsent(
    own_database: str, tmp_path: Path
) -> None:
    # The receiver fails every request after six seconds: by then the worker holds the cap
    # in flight and as much again leased ahead.
    with _one_webhook(own_database, tmp_path, Reply(500, delay=6.0)) as (server, partner, rx):
        before = _released(server.base_url)
        events = [publish(partner, "order.paid", _payment(n)) for n in range(2 * CAP)]
        _wait_for_leases_ahead(server)
        assert len(rx.requests) <= CAP
        # The first failure hands back the leases waiting behind the cap: not sent by this
        # worker on its own say, but due again for a claim, which judges the webhook's health.
        eventually(lambda: _released(server.base_url) - before == CAP, 15, "leases handed back")
        # Nothing is lost: each notification is attempted (and retried, as it fails).
        got = rx.wait(2 * CAP, timeout=30)
        ids = {e["notifications"][0]["id"] for e in events}
        eventually(
            lambda: ids <= {r.headers["webhook-id"] for r in rx.requests},
            30,
            "every notification attempted",
        )
        assert len(got) >= 2 * CAP


def test_leases_ahead_never_take_the_slots_other_webhooks_need(
    own_database: str, tmp_path: Path
) -> None:
    # Four slots, a cap of two: a hung webhook holds its two in flight, and leasing two more
    # ahead would fill the worker. It must not: another webhook's event goes out at once, not
    # after the hung requests time out.
    timeout = 5.0
    settings = make_settings(
        own_database,
        tmp_path,
        webhook_concurrency=CAP,
        worker_concurrency=2 * CAP,
        delivery_timeout=timeout,
    )
    with (
        RunningServer(settings) as server,
        open_partner(server) as partner,
        Receiver(default=Reply(200, delay=timeout + 2)) as hung,
        Receiver() as healthy,
    ):
        add_event_type(partner, "order.paid")
        add_event_type(partner, "order.shipped")
        create_webhook(partner, hung.url, event_types=["order.paid"])
        for n in range(10):
            publish(partner, "order.paid", _payment(n))
        hung.wait(CAP)
        create_webhook(partner, healthy.url, event_types=["order.shipped"])
        publish(partner, "order.shipped", _payment(1000))
        (got,) = healthy.wait(1)
        assert got.at < hung.requests[0].at + timeout
