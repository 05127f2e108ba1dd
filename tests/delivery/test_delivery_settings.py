"""Deployment settings that change what receivers get: brand, timeout, private networks.
Each test starts its own server (SQLite and PostgreSQL) with the setting under test."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from tidings_client import Tidings, ValidationError

from tests.support.partner import (
    create_webhook,
    publish,
    server_starter,
    tidings_for,
    wait_status,
)
from tests.support.receiver import Receiver, Reply

Start = Callable[..., Tidings]


@pytest.fixture
def start(own_database: str, tmp_path: Path) -> Iterator[Start]:
    """Start a server with extra settings; returns the Python client for a fresh account on
    it."""
    with server_starter(own_database, tmp_path) as starter:
        yield lambda **settings: tidings_for(starter(**settings))


def _send(partner: Tidings, url: str) -> str:
    create_webhook(partner, url)
    return str(publish(partner, "order.paid", {"n": 1})["notifications"][0]["id"])


def test_brand_names_the_headers(start: Start) -> None:
    partner = start(brand="PayData")
    with Receiver() as rx:
        notification_id = _send(partner, rx.url)
        [got] = rx.wait(1)
    headers = {k.lower(): v for k, v in got.headers.items()}
    assert headers["x-paydata-notification-id"] == notification_id
    assert headers["x-paydata-event-type"] == "order.paid"
    assert "x-paydata-webhook-id" in headers
    assert not any(k.startswith("x-tidings-") for k in headers)


def test_slow_receiver_times_out_and_is_retried(start: Start) -> None:
    partner = start(delivery_timeout=0.5, retry_schedule="1s")
    with Receiver(Reply(200, delay=2.0), 200) as rx:
        notification_id = _send(partner, rx.url)
        done = wait_status(partner, notification_id, "succeeded")
        rx.wait(2)
    first, second = done["attempts"]
    assert first["statusCode"] is None
    assert "timed out" in first["error"]
    assert second["statusCode"] == 200


def test_private_addresses_are_refused_by_default(start: Start) -> None:
    partner = start(allow_private_networks=False, retry_schedule="")
    with Receiver() as rx:
        # A literal private address is refused when the webhook is made, and so is a name
        # that resolves only to one (a name resolving elsewhere later is refused at connect
        # time: tests/security/test_ssrf.py).
        for url in (rx.url, rx.url.replace("127.0.0.1", "localhost")):
            with pytest.raises(ValidationError) as refused:
                partner.webhooks.create(url)
            [detail] = refused.value.details
            assert detail["field"] == "url"
            assert "TIDINGS_ALLOW_PRIVATE_NETWORKS" in detail["message"]
        assert list(partner.webhooks.list()) == []
        assert rx.requests == []
