"""End to end: a published event reaches a real receiver on loopback, signed and retried."""

from __future__ import annotations

import itertools
import json

import httpx
from standardwebhooks.webhooks import Webhook

from tests.support.partner import add_event_type, create_webhook, publish, wait_status
from tests.support.receiver import Receiver, Reply
from tidings import __version__

PAYMENT = {"paymentId": "pay_123", "status": "completed", "amount": 12.5, "note": "café ☕"}


def test_receiver_gets_signed_full_envelope(client: httpx.Client, event_type: str) -> None:
    with Receiver() as rx:
        hook = create_webhook(
            client,
            rx.url,
            eventTypes=[event_type],
            headers={"X-Partner-Secret1": "partner-secret-value-1"},
        )
        event = publish(client, event_type, PAYMENT)
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
    secret = client.get(f"/v1/webhooks/{hook['id']}/secret").json()["secret"]
    assert secret == hook["secret"]
    verified = Webhook(secret).verify(got.body, got.headers)
    assert verified["eventData"] == PAYMENT

    done = wait_status(client, notification["id"], "succeeded")
    assert done["attemptCount"] == 1
    [attempt] = done["attempts"]
    assert attempt["statusCode"] == 200
    assert attempt["responseBody"] == "ok"
    assert attempt["outcome"] == "succeeded"
    assert attempt["durationMs"] >= 0


def test_two_failures_then_success_gives_three_attempts(
    client: httpx.Client, event_type: str
) -> None:
    with Receiver(500, Reply(503, body="busy"), 200) as rx:
        create_webhook(client, rx.url)
        event = publish(client, event_type, PAYMENT)
        notification_id = event["notifications"][0]["id"]
        received = rx.wait(3)
        done = wait_status(client, notification_id, "succeeded")

    # The same notification id on every attempt, so the receiver can deduplicate.
    assert {r.headers["webhook-id"] for r in received} == {notification_id}
    assert [a["statusCode"] for a in done["attempts"]] == [500, 503, 200]
    assert [a["outcome"] for a in done["attempts"]] == ["failed", "failed", "succeeded"]
    assert done["attempts"][1]["responseBody"] == "busy"
    assert done["attemptCount"] == 3
    # The retry schedule of the test server is 1s, 2s.
    gaps = [b.at - a.at for a, b in itertools.pairwise(received)]
    assert gaps[0] >= 0.9 and gaps[1] >= 1.9


def test_receiver_that_always_fails_ends_failed(client: httpx.Client, event_type: str) -> None:
    with Receiver(default=500) as rx:
        create_webhook(client, rx.url)
        notification_id = publish(client, event_type, PAYMENT)["notifications"][0]["id"]
        failed = wait_status(client, notification_id, "failed")
        assert len(rx.requests) == 3
    assert failed["attemptCount"] == 3
    assert [a["statusCode"] for a in failed["attempts"]] == [500, 500, 500]
    assert failed["nextAttemptAt"] is None
    listed = client.get("/v1/notifications", params={"status": "failed"}).json()["data"]
    assert notification_id in [n["id"] for n in listed]


def test_connection_refused_is_recorded_and_retried(client: httpx.Client, event_type: str) -> None:
    with Receiver() as rx:
        closed_url = rx.url
    create_webhook(client, closed_url)
    notification_id = publish(client, event_type, PAYMENT)["notifications"][0]["id"]
    failed = wait_status(client, notification_id, "failed")
    assert len(failed["attempts"]) == 3
    for attempt in failed["attempts"]:
        assert attempt["statusCode"] is None
        assert "connection failed" in attempt["error"]


def test_redirect_is_a_failed_attempt(client: httpx.Client, event_type: str) -> None:
    with Receiver(default=Reply(302, headers={"Location": "http://127.0.0.1:1/"})) as rx:
        create_webhook(client, rx.url)
        notification_id = publish(client, event_type, PAYMENT)["notifications"][0]["id"]
        failed = wait_status(client, notification_id, "failed")
        assert len(rx.requests) == 3
    assert {a["statusCode"] for a in failed["attempts"]} == {302}


def test_response_body_is_kept_to_4_kib(client: httpx.Client, event_type: str) -> None:
    with Receiver(Reply(200, body="x" * 10_000)) as rx:
        create_webhook(client, rx.url)
        notification_id = publish(client, event_type, PAYMENT)["notifications"][0]["id"]
        done = wait_status(client, notification_id, "succeeded")
        rx.wait(1)
    assert done["attempts"][0]["responseBody"] == "x" * 4096


def test_webhook_gets_only_its_event_types(client: httpx.Client, event_type: str) -> None:
    assert client.post("/v1/event-types", json={"name": "wallet.created"}).status_code == 201
    with Receiver() as subscribed, Receiver() as other, Receiver() as everything:
        hook_subscribed = create_webhook(client, subscribed.url, eventTypes=[event_type])
        hook_other = create_webhook(client, other.url, eventTypes=["wallet.created"])
        hook_everything = create_webhook(client, everything.url, eventTypes=[])
        event = publish(client, event_type, PAYMENT)
        assert {n["webhookId"] for n in event["notifications"]} == {
            hook_subscribed["id"],
            hook_everything["id"],
        }
        subscribed.wait(1)
        everything.wait(1)
        wallet = publish(client, "wallet.created", {"walletId": "w_1"})
        other.wait(1)
        everything.wait(2)
        assert {n["webhookId"] for n in wallet["notifications"]} == {
            hook_other["id"],
            hook_everything["id"],
        }
        assert len(subscribed.requests) == 1
        assert len(everything.requests) == 1 + 1  # it gets wallet.created too
    none_for_other = client.get(
        "/v1/notifications", params={"webhookId": hook_other["id"], "eventType": event_type}
    )
    assert none_for_other.json()["data"] == []


def test_disabled_webhook_gets_no_events(client: httpx.Client, event_type: str) -> None:
    with Receiver() as rx:
        hook = create_webhook(client, rx.url, status="Disabled")
        event = publish(client, event_type, PAYMENT)
        assert event["notifications"] == []
        enabled = client.post(f"/v1/webhooks/{hook['id']}/enable")
        assert enabled.json()["status"] == "Active"
        event = publish(client, event_type, PAYMENT)
        [got] = rx.wait(1)
    assert json.loads(got.body)["id"] == event["notifications"][0]["id"]


def test_test_event_reaches_a_disabled_webhook(client: httpx.Client, event_type: str) -> None:
    """Seed 001's flow: create Disabled, send a test event, then enable."""
    with Receiver() as rx, Receiver() as bystander:
        add_event_type(client, "wallet.created")
        hook = create_webhook(client, rx.url, status="Disabled", eventTypes=["wallet.created"])
        create_webhook(client, bystander.url)
        response = client.post(
            "/v1/test-events",
            json={"webHookIds": [hook["id"]], "eventType": event_type, "eventData": PAYMENT},
        )
        assert response.status_code == 202, response.text
        event = response.json()
        assert event["test"] is True
        [notification] = event["notifications"]
        assert notification["webhookId"] == hook["id"]
        [got] = rx.wait(1)
        wait_status(client, notification["id"], "succeeded")
        assert bystander.requests == []
    assert Webhook(hook["secret"]).verify(got.body, got.headers)["eventData"] == PAYMENT
    assert client.get(f"/v1/webhooks/{hook['id']}").json()["status"] == "Disabled"


def test_test_event_to_unknown_webhook_names_it(client: httpx.Client, event_type: str) -> None:
    response = client.post(
        "/v1/test-events",
        json={"webhookIds": ["wh_nope"], "eventType": event_type, "eventData": PAYMENT},
    )
    assert response.status_code == 404
    assert response.json()["error"]["details"][0]["field"] == "webhookIds[0]"


def test_resend_delivers_the_same_notification_again(client: httpx.Client, event_type: str) -> None:
    with Receiver() as rx:
        create_webhook(client, rx.url)
        notification_id = publish(client, event_type, PAYMENT)["notifications"][0]["id"]
        wait_status(client, notification_id, "succeeded")
        resent = client.post(f"/v1/notifications/{notification_id}/resend")
        assert resent.status_code == 202
        first, second = rx.wait(2)
        assert first.headers["webhook-id"] == second.headers["webhook-id"] == notification_id
    deadline_check = wait_status(client, notification_id, "succeeded")
    assert deadline_check["attemptCount"] >= 1
