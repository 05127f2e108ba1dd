"""End to end: a published event reaches a real receiver on loopback, signed and retried."""

from __future__ import annotations

import itertools
import json

import pytest
from standardwebhooks.webhooks import Webhook
from tidings_client import NotFoundError, Tidings

from tests.support.partner import add_event_type, create_webhook, publish, wait_status, webhook
from tests.support.receiver import Receiver, Reply
from tidings import __version__

PAYMENT = {"paymentId": "pay_123", "status": "completed", "amount": 12.5, "note": "café ☕"}


def test_receiver_gets_signed_full_envelope(partner: Tidings, event_type: str) -> None:
    with Receiver() as rx:
        hook = create_webhook(
            partner,
            rx.url,
            event_types=[event_type],
            headers={"X-Partner-Secret1": "partner-secret-value-1"},
        )
        event = publish(partner, event_type, PAYMENT)
        [notification] = event["notifications"]
        [got] = rx.wait(1)

    headers = {k.lower(): v for k, v in got.headers.items()}
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == f"Tidings/{__version__}"
    assert headers["webhook-id"] == notification["id"]
    assert headers["x-tidings-notification-id"] == notification["id"]
    assert headers["x-tidings-webhook-id"] == hook["id"]
    assert headers["x-tidings-event-type"] == event_type
    assert headers["x-partner-secret1"] == "partner-secret-value-1"

    body = json.loads(got.body)
    assert body == {
        "id": notification["id"],
        "webhookId": hook["id"],
        "eventType": event_type,
        "eventRaisedAt": event["createdAt"],
        "eventData": PAYMENT,
    }
    # Compact JSON with UTF-8 kept: a receiver re-serialising the parsed body gets the same bytes.
    assert got.body == json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()

    # Verified the way a receiver would, with the Standard Webhooks library.
    secret = partner.webhooks.secret(hook["id"])["secret"]
    assert secret == hook["secret"]
    verified = Webhook(secret).verify(got.body, got.headers)
    assert verified["eventData"] == PAYMENT

    done = wait_status(partner, notification["id"], "succeeded")
    assert done["attemptCount"] == 1
    [attempt] = done["attempts"]
    assert attempt["statusCode"] == 200
    assert attempt["responseBody"] == "ok"
    assert attempt["outcome"] == "succeeded"
    assert attempt["durationMs"] >= 0


def test_two_failures_then_success_gives_three_attempts(partner: Tidings, event_type: str) -> None:
    with Receiver(500, Reply(503, body="busy"), 200) as rx:
        create_webhook(partner, rx.url)
        event = publish(partner, event_type, PAYMENT)
        notification_id = event["notifications"][0]["id"]
        received = rx.wait(3)
        done = wait_status(partner, notification_id, "succeeded")

    # The same notification id on every attempt, so the receiver can deduplicate.
    assert {r.headers["webhook-id"] for r in received} == {notification_id}
    assert [a["statusCode"] for a in done["attempts"]] == [500, 503, 200]
    assert [a["outcome"] for a in done["attempts"]] == ["failed", "failed", "succeeded"]
    assert done["attempts"][1]["responseBody"] == "busy"
    assert done["attemptCount"] == 3
    # The retry schedule of the test server is 1s, 2s.
    gaps = [b.at - a.at for a, b in itertools.pairwise(received)]
    assert gaps[0] >= 0.9 and gaps[1] >= 1.9


def test_receiver_that_always_fails_ends_failed(partner: Tidings, event_type: str) -> None:
    with Receiver(default=500) as rx:
        create_webhook(partner, rx.url)
        notification_id = publish(partner, event_type, PAYMENT)["notifications"][0]["id"]
        failed = wait_status(partner, notification_id, "failed")
        assert len(rx.requests) == 3
    assert failed["attemptCount"] == 3
    assert [a["statusCode"] for a in failed["attempts"]] == [500, 500, 500]
    assert failed["nextAttemptAt"] is None
    listed = partner.notifications.list(status="failed")
    assert notification_id in [n["id"] for n in listed]


def test_connection_refused_is_recorded_and_retried(partner: Tidings, event_type: str) -> None:
    with Receiver() as rx:
        closed_url = rx.url
    create_webhook(partner, closed_url)
    notification_id = publish(partner, event_type, PAYMENT)["notifications"][0]["id"]
    failed = wait_status(partner, notification_id, "failed")
    assert len(failed["attempts"]) == 3
    for attempt in failed["attempts"]:
        assert attempt["statusCode"] is None
        assert "connection failed" in attempt["error"]


def test_redirect_is_a_failed_attempt(partner: Tidings, event_type: str) -> None:
    with Receiver(default=Reply(302, headers={"Location": "http://127.0.0.1:1/"})) as rx:
        create_webhook(partner, rx.url)
        notification_id = publish(partner, event_type, PAYMENT)["notifications"][0]["id"]
        failed = wait_status(partner, notification_id, "failed")
        assert len(rx.requests) == 3
    assert {a["statusCode"] for a in failed["attempts"]} == {302}


def test_response_body_is_kept_to_4_kib(partner: Tidings, event_type: str) -> None:
    with Receiver(Reply(200, body="x" * 10_000)) as rx:
        create_webhook(partner, rx.url)
        notification_id = publish(partner, event_type, PAYMENT)["notifications"][0]["id"]
        done = wait_status(partner, notification_id, "succeeded")
        rx.wait(1)
    assert done["attempts"][0]["responseBody"] == "x" * 4096


def test_webhook_gets_only_its_event_types(partner: Tidings, event_type: str) -> None:
    add_event_type(partner, "wallet.created")
    with Receiver() as subscribed, Receiver() as other, Receiver() as everything:
        hook_subscribed = create_webhook(partner, subscribed.url, event_types=[event_type])
        hook_other = create_webhook(partner, other.url, event_types=["wallet.created"])
        hook_everything = create_webhook(partner, everything.url, event_types=[])
        event = publish(partner, event_type, PAYMENT)
        assert {n["webhookId"] for n in event["notifications"]} == {
            hook_subscribed["id"],
            hook_everything["id"],
        }
        subscribed.wait(1)
        everything.wait(1)
        wallet = publish(partner, "wallet.created", {"walletId": "w_1"})
        other.wait(1)
        everything.wait(2)
        assert {n["webhookId"] for n in wallet["notifications"]} == {
            hook_other["id"],
            hook_everything["id"],
        }
        assert len(subscribed.requests) == 1
        assert len(everything.requests) == 1 + 1  # it gets wallet.created too
    none_for_other = partner.notifications.list(webhook_id=hook_other["id"], event_type=event_type)
    assert list(none_for_other) == []


def test_disabled_webhook_gets_no_events(partner: Tidings, event_type: str) -> None:
    with Receiver() as rx:
        hook = create_webhook(partner, rx.url, status="Disabled")
        event = publish(partner, event_type, PAYMENT)
        assert event["notifications"] == []
        assert partner.webhooks.enable(hook["id"])["status"] == "Active"
        event = publish(partner, event_type, PAYMENT)
        [got] = rx.wait(1)
    assert json.loads(got.body)["id"] == event["notifications"][0]["id"]


def test_test_event_reaches_a_disabled_webhook(partner: Tidings, event_type: str) -> None:
    """Seed 001's flow: create Disabled, send a test event, then enable."""
    with Receiver() as rx, Receiver() as bystander:
        add_event_type(partner, "wallet.created")
        hook = create_webhook(partner, rx.url, status="Disabled", event_types=["wallet.created"])
        create_webhook(partner, bystander.url)
        event = partner.events.test([hook["id"]], event_type, PAYMENT)
        assert event["test"] is True
        [notification] = event["notifications"]
        assert notification["webhookId"] == hook["id"]
        [got] = rx.wait(1)
        wait_status(partner, notification["id"], "succeeded")
        assert bystander.requests == []
    assert Webhook(hook["secret"]).verify(got.body, got.headers)["eventData"] == PAYMENT
    assert webhook(partner, hook["id"])["status"] == "Disabled"


def test_test_event_to_unknown_webhook_names_it(partner: Tidings, event_type: str) -> None:
    with pytest.raises(NotFoundError) as unknown:
        partner.events.test(["wh_nope"], event_type, PAYMENT)
    assert unknown.value.details[0]["field"] == "webhookIds[0]"


def test_resend_delivers_the_same_notification_again(partner: Tidings, event_type: str) -> None:
    with Receiver() as rx:
        create_webhook(partner, rx.url)
        notification_id = publish(partner, event_type, PAYMENT)["notifications"][0]["id"]
        wait_status(partner, notification_id, "succeeded")
        resent = partner.notifications.resend(notification_id)
        assert resent["id"] == notification_id
        first, second = rx.wait(2)
        assert first.headers["webhook-id"] == second.headers["webhook-id"] == notification_id
    deadline_check = wait_status(partner, notification_id, "succeeded")
    assert deadline_check["attemptCount"] >= 1
