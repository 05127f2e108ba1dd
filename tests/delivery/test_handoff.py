"""A publish hands its notifications straight to its own process's worker on SQLite (written
already leased, sent without a claim), and whatever the webhook looked like when it was last
claimed never outlives a change to it: the next delivery goes to the new URL, signed with the
new secret. On PostgreSQL every notification is claimed (the concurrency cap is counted across
workers there)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tests.support.partner import (
    add_event_type,
    create_webhook,
    eventually,
    every_item,
    notification,
    own_server,
    publish,
    tidings_for,
    wait_status,
)
from tests.support.receiver import Receiver, Reply

HANDED_OFF = "tidings_notifications_handed_off_total"


def handed_off(client: httpx.Client) -> float:
    for line in client.get("/metrics").text.splitlines():
        if line.startswith(HANDED_OFF + " "):
            return float(line.split()[1])
    raise AssertionError(f"{HANDED_OFF} is not in /metrics")


@pytest.fixture
def client(own_database: str, tmp_path: Path) -> Iterator[httpx.Client]:
    with own_server(own_database, tmp_path) as c:
        add_event_type(c, "order.paid")
        yield c


@pytest.fixture
def rx() -> Iterator[Receiver]:
    with Receiver() as receiver:
        yield receiver


def deliver(client: httpx.Client, rx: Receiver, n: int) -> dict[str, str]:
    """Publish one event and wait for the receiver to get it; its headers."""
    before = len(rx.requests)
    event = publish(client, "order.paid", {"n": n})
    got = rx.wait(before + 1)[before]
    wait_status(client, event["notifications"][0]["id"], "succeeded")
    return dict(got.headers)


def test_published_notifications_go_to_the_local_worker_without_a_claim_on_sqlite(
    client: httpx.Client, rx: Receiver, backend: str
) -> None:
    create_webhook(client, rx.url)
    deliver(client, rx, 0)  # claimed: the worker now knows the webhook
    start = handed_off(client)
    for n in range(1, 6):
        deliver(client, rx, n)
    if backend.startswith("sqlite"):
        assert handed_off(client) - start >= 4
    else:
        assert handed_off(client) == start
    # Each delivered once, and recorded as one attempt that succeeded.
    notifications = every_item(tidings_for(client).notifications.list())
    assert len(notifications) == 6 == len(rx.requests)
    assert {n["status"] for n in notifications} == {"succeeded"}
    assert {n["attemptCount"] for n in notifications} == {1}


def test_a_secret_rolled_after_a_delivery_signs_the_next_one(
    client: httpx.Client, rx: Receiver
) -> None:
    hook = create_webhook(client, rx.url)
    deliver(client, rx, 0)
    rolled = client.post(f"/v1/webhooks/{hook['id']}/secret/roll", json={"expiresIn": "now"})
    assert rolled.status_code == 200, rolled.text
    headers = deliver(client, rx, 1)
    body = rx.requests[-1].body
    assert Webhook(rolled.json()["secret"]).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(hook["secret"]).verify(body, headers)


def test_a_webhook_changed_after_a_delivery_gets_the_next_at_its_new_url(
    client: httpx.Client, rx: Receiver
) -> None:
    hook = create_webhook(client, rx.url)
    deliver(client, rx, 0)
    with Receiver() as moved:
        changed = client.patch(f"/v1/webhooks/{hook['id']}", json={"url": moved.url})
        assert changed.status_code == 200, changed.text
        deliver(client, moved, 1)
    assert len(rx.requests) == 1


def test_a_failed_attempt_sends_the_next_notifications_through_the_claim(
    client: httpx.Client, rx: Receiver, backend: str
) -> None:
    """After a failure the breaker and retry rules are the claim's to apply: nothing is
    handed over to that webhook until a claim has seen it healthy again."""
    create_webhook(client, rx.url, retrySchedule=["1s"])
    deliver(client, rx, 0)
    rx.default = Reply(status=500)
    failing = publish(client, "order.paid", {"n": 1})["notifications"][0]["id"]
    eventually(lambda: notification(client, failing)["attemptCount"] == 1, what="a failed attempt")
    start = handed_off(client)
    rx.default = Reply()
    later = publish(client, "order.paid", {"n": 2})
    wait_status(client, later["notifications"][0]["id"], "succeeded")
    assert handed_off(client) == start
    wait_status(client, failing, "succeeded")
