"""Retries against a real loopback server answering 503 (or 429) with Retry-After before its
200: safe calls and publishing with an idempotency key are retried after the time asked,
a bounded number of times; other calls are not."""

from __future__ import annotations

import socket
import time

import pytest
from tidings_client import (
    RateLimitedError,
    ServiceUnavailableError,
    Tidings,
    TidingsConnectionError,
)

from tests.support.receiver import Receiver, Reply

OK = Reply(
    200, '{"data": [{"id": "wh_1"}], "nextCursor": null}', {"Content-Type": "application/json"}
)
BUSY = Reply(
    503,
    '{"error": {"type": "unavailable", "message": "down", "details": []}}',
    {"Content-Type": "application/json", "Retry-After": "1"},
)
LIMITED = Reply(
    429,
    '{"error": {"type": "rate_limited", "message": "slow", "details": []}}',
    {"Content-Type": "application/json", "Retry-After": "1"},
)


def _base(receiver: Receiver) -> str:
    return f"http://127.0.0.1:{receiver.port}"


def test_a_get_is_retried_after_retry_after() -> None:
    with Receiver(BUSY, LIMITED, default=OK) as receiver:
        client = Tidings("whk_test", _base(receiver))
        started = time.monotonic()
        assert [w["id"] for w in client.webhooks.list()] == ["wh_1"]
        took = time.monotonic() - started
    assert len(receiver.requests) == 3
    assert took >= 1.9  # waited Retry-After (1 s) twice
    gaps = [b.at - a.at for a, b in zip(receiver.requests, receiver.requests[1:], strict=False)]
    assert all(gap >= 0.95 for gap in gaps), gaps


def test_retries_are_bounded() -> None:
    with Receiver(default=BUSY) as receiver:
        client = Tidings("whk_test", _base(receiver), max_retries=2)
        with pytest.raises(ServiceUnavailableError) as down:
            client.webhooks.get("wh_1")
    assert len(receiver.requests) == 3
    assert (down.value.status, down.value.type, down.value.message) == (503, "unavailable", "down")


def test_publish_is_retried_only_with_an_idempotency_key() -> None:
    event = Reply(202, '{"id": "evt_1"}', {"Content-Type": "application/json"})
    with Receiver(LIMITED, default=event) as receiver:
        client = Tidings("whk_test", _base(receiver))
        assert client.events.publish("a.b", {}, idempotency_key="k1")["id"] == "evt_1"
        assert [r.headers["Idempotency-Key"] for r in receiver.requests] == ["k1", "k1"]
    with Receiver(LIMITED, default=event) as receiver:
        client = Tidings("whk_test", _base(receiver))
        with pytest.raises(RateLimitedError) as limited:
            client.events.publish("a.b", {})
        assert limited.value.retry_after == 1.0
        assert len(receiver.requests) == 1


def test_connection_errors_are_retried_then_raised() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    client = Tidings("whk_test", f"http://127.0.0.1:{port}", max_retries=1)
    with pytest.raises(TidingsConnectionError):
        client.webhooks.get("wh_1")
