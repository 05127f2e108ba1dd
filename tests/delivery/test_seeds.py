"""Each seed's receiver, reimplemented as the seed describes it, must work unchanged against
Tidings: seed 001 (PayData: headers, full envelope, partner headers, create Disabled → test →
enable), seed 003 (Paybyrd: flat payload, masked URL credentials, 12 attempts) and seed 004
(PayDirect: ``{"event","data"}``, a hex HMAC checked by re-serialising the parsed body, five
retries at 1m, 5m, 15m, 1h, 3h)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import time
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.clock import FakeClock
from tests.support.partner import (
    SEED_001_CREATE,
    add_event_type,
    create_webhook,
    eventually,
    notification,
    own_server,
    publish,
    wait_status,
)
from tests.support.receiver import Received, Receiver

# --- seed 001: PayData ----------------------------------------------------------------------

REPORT = {"reportId": "rep_20240621", "provider": "Adyen", "transactions": 42, "ok": True}


def _lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _paydata_receiver_check(got: Received) -> dict[str, Any]:
    """What seed 001's endpoint does: read the three headers, the partner headers and the
    envelope, and check that they agree."""
    headers = _lower(got.headers)
    body = json.loads(got.body)
    assert list(body) == ["id", "webhookId", "eventType", "eventRaisedAt", "eventData"]
    assert headers["x-paydata-notification-id"] == body["id"]
    assert headers["x-paydata-webhook-id"] == body["webhookId"]
    assert headers["x-paydata-event-type"] == body["eventType"]
    assert headers["content-type"] == "application/json"
    # eventRaisedAt is an ISO 8601 UTC timestamp.
    assert body["eventRaisedAt"].endswith("Z")
    datetime.fromisoformat(body["eventRaisedAt"].replace("Z", "+00:00"))
    return body


def test_seed_001_paydata_create_disabled_test_then_enable(own_database: str, tmp_path: Path):
    with own_server(own_database, tmp_path, brand="PayData") as client, Receiver() as rx:
        for name in ("ReportImported", "AccountCreated"):
            add_event_type(client, name)

        created = client.post("/v1/webhooks", json={**SEED_001_CREATE, "url": rx.url})
        assert created.status_code == 201, created.text
        hook = created.json()
        assert hook["eventTypes"] == ["ReportImported", "AccountCreated"]
        assert hook["sslVerificationDisabled"] is True
        assert hook["status"] == "Disabled"
        assert set(hook["headers"]) == {"X-Partner-Secret1", "X-Partner-Secret2"}
        # Partner header values are secrets: masked in every answer.
        for answer in (created, client.get(f"/v1/webhooks/{hook['id']}")):
            assert "X-Test-Partner-Secret" not in answer.text
            assert answer.json()["headers"]["X-Partner-Secret1"] != "X-Test-Partner-Secret1"

        # Step 3: test the Disabled webhook with the seed's CreateTestEvent body.
        tested = client.post(
            "/v1/test-events",
            json={"webHookIds": [hook["id"]], "eventType": "ReportImported", "eventData": REPORT},
        )
        assert tested.status_code == 202, tested.text
        [test_notification] = tested.json()["notifications"]
        [got] = rx.wait(1)
        body = _paydata_receiver_check(got)
        assert body == {
            "id": test_notification["id"],
            "webhookId": hook["id"],
            "eventType": "ReportImported",
            "eventRaisedAt": tested.json()["createdAt"],
            "eventData": REPORT,
        }
        headers = _lower(got.headers)
        assert headers["x-partner-secret1"] == "X-Test-Partner-Secret1"
        assert headers["x-partner-secret2"] == "X-Test-Partner-Secret2"
        wait_status(client, test_notification["id"], "succeeded")

        # Then enable it, as the seed does, with PatchWebhook.
        enabled = client.patch(f"/v1/webhooks/{hook['id']}", json={"status": "Active"})
        assert enabled.status_code == 200, enabled.text
        assert enabled.json()["status"] == "Active"
        event = publish(client, "AccountCreated", {"accountId": "acc_1"})
        [live] = event["notifications"]
        _, got = rx.wait(2)
        body = _paydata_receiver_check(got)
        assert body["id"] == live["id"]
        assert body["eventType"] == "AccountCreated"
        assert body["eventData"] == {"accountId": "acc_1"}

        # The seed's PatchWebhook example: new partner header values arrive from then on.
        patched = client.patch(
            f"/v1/webhooks/{hook['id']}",
            json={
                "headers": {
                    "X-Partner-Secret1": "X-Test-Partner-Secret1_new_value",
                    "X-Partner-Secret2": "X-Test-Partner-Secret2_new_value",
                }
            },
        )
        assert patched.status_code == 200, patched.text
        assert "_new_value" not in patched.text
        publish(client, "AccountCreated", {"accountId": "acc_2"})
        *_, got = rx.wait(3)
        headers = _lower(got.headers)
        assert headers["x-partner-secret1"] == "X-Test-Partner-Secret1_new_value"
        assert headers["x-partner-secret2"] == "X-Test-Partner-Secret2_new_value"
        assert _paydata_receiver_check(got)["eventData"] == {"accountId": "acc_2"}


# --- seed 003: Paybyrd ----------------------------------------------------------------------

# The seed's sample hook payload: flat, with the merchant's own fields at the top level.
PAYBYRD_HOOK = {
    "webhookId": "1642449226",
    "contextType": "event:paymentStatusChanged",
    "paymentId": "96b5aa9b-aad8-442f-84bb-c327fdebe53e",
    "transactionId": "96b5aa9b-aad8-442f-84bb-c327fdebe53e",
    "orderId": "36a77bfe-7304-4977-8e41-93a88c6e93f3",
}


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def _assert_never_shown(answer: httpx.Response, *secrets: str) -> None:
    assert answer.status_code in (200, 201), answer.text
    for secret in secrets:
        assert secret not in answer.text, f"{secret!r} shown in {answer.request.url}"


def test_seed_003_flat_payload_and_masked_url_credentials(client: httpx.Client) -> None:
    add_event_type(client, "paymentStatusChanged")
    with Receiver() as rx:
        # The password has characters that must be percent-encoded in a URL.
        url = rx.url.replace("http://", "http://merchant-7731:Pb%40ss%3Aword-2024@")
        created = client.post(
            "/v1/webhooks",
            json={"url": url, "format": "raw", "eventTypes": ["paymentStatusChanged"]},
        )
        hook = created.json()
        assert hook["format"] == "raw"
        for answer in (
            created,
            client.get(f"/v1/webhooks/{hook['id']}"),
            client.get("/v1/webhooks"),
        ):
            _assert_never_shown(answer, "merchant-7731", "Pb%40ss", "Pb@ss", "word-2024")
        shown = client.get(f"/v1/webhooks/{hook['id']}").json()
        # The user and password are shown masked: in the URL itself, or (once moved out of
        # it into the encrypted username/password fields) in those fields.
        in_url = rx.url.replace("http://", "http://****:****@")
        assert shown["url"] in (in_url, rx.url)
        if shown["url"] == rx.url:
            assert shown["username"] and shown["password"]
            assert shown["username"] != "merchant-7731"

        event = publish(client, "paymentStatusChanged", PAYBYRD_HOOK)
        [got] = rx.wait(1)
        # The body is the event data alone, flat, exactly as the seed shows it.
        assert json.loads(got.body) == PAYBYRD_HOOK
        assert got.body == json.dumps(PAYBYRD_HOOK, separators=(",", ":")).encode()
        # The URL's userinfo reaches the receiver as basic auth, decoded.
        assert _lower(got.headers)["authorization"] == _basic("merchant-7731", "Pb@ss:word-2024")
        wait_status(client, event["notifications"][0]["id"], "succeeded")

        # Sending the URL back as it was shown (a GET → PATCH round trip) keeps the credentials.
        patched = client.patch(
            f"/v1/webhooks/{hook['id']}", json={"url": shown["url"], "description": "Paybyrd"}
        )
        assert patched.status_code == 200, patched.text
        assert patched.json()["url"] == shown["url"]
        publish(client, "paymentStatusChanged", PAYBYRD_HOOK)
        _, got = rx.wait(2)
        assert _lower(got.headers)["authorization"] == _basic("merchant-7731", "Pb@ss:word-2024")


def test_seed_003_username_and_password_fields(client: httpx.Client) -> None:
    add_event_type(client, "paymentStatusChanged")
    with Receiver() as rx:
        created = client.post(
            "/v1/webhooks",
            json={
                "url": rx.url,
                "format": "raw",
                "username": "merchant-7731",
                "password": "correct-horse-battery-staple",
            },
        )
        hook = created.json()
        for answer in (created, client.get(f"/v1/webhooks/{hook['id']}")):
            _assert_never_shown(answer, "merchant-7731", "correct-horse-battery-staple")
            shown = answer.json()
            assert shown["username"] and shown["username"] != "merchant-7731"
            assert shown["password"] and shown["password"] != "correct-horse-battery-staple"
        publish(client, "paymentStatusChanged", PAYBYRD_HOOK)
        [got] = rx.wait(1)
    assert _lower(got.headers)["authorization"] == _basic(
        "merchant-7731", "correct-horse-battery-staple"
    )
    assert json.loads(got.body) == PAYBYRD_HOOK


def test_seed_003_twelve_attempts(own_database: str, tmp_path: Path) -> None:
    """'Paybyrd has a retry policy of 12 attempts': a first attempt and eleven retries. (The
    schedule is squeezed into 100 ms steps; the breaker, which would hold such a fast retry
    for its probe interval after ten failures in a row, is set out of the way.)"""
    with (
        own_server(own_database, tmp_path, breaker_threshold=100) as client,
        Receiver(default=500) as rx,
    ):
        add_event_type(client, "paymentStatusChanged")
        create_webhook(client, rx.url, format="raw", retrySchedule=["100ms"] * 11)
        notification_id = publish(client, "paymentStatusChanged", PAYBYRD_HOOK)["notifications"][0][
            "id"
        ]
        failed = wait_status(client, notification_id, "failed")
        time.sleep(0.3)
        assert len(rx.requests) == 12
    assert failed["attemptCount"] == 12
    assert {r.headers["webhook-id"] for r in rx.requests} == {notification_id}


# --- seed 004: PayDirect --------------------------------------------------------------------

PAYDIRECT_UPDATE = {
    "paymentId": "pay_abc123",
    "status": "completed",
    "amount": "0.5",
    "currency": "ETH",
    "updatedAt": "2024-03-20T12:00:00Z",
    "fee": 0.25,
    "confirmations": 12,
    "memo": "Zahlung für Café ☕ — 東京",
    "agent": {"id": "agt_9", "tags": ["vip", None, False]},
}


def _js_number(value: float) -> str:
    """A finite float as JavaScript's Number::toString writes it (JSON.stringify uses it):
    the shortest round-trip digits, as Python's repr has them, laid out by ECMA-262's rule."""
    if value == 0:
        return "0"
    if value < 0:
        return "-" + _js_number(-value)
    digits_tuple, exponent = Decimal(repr(value)).normalize().as_tuple()[1:]
    digits = "".join(map(str, digits_tuple))
    k = len(digits)
    n = int(exponent) + k  # value = 0.digits * 10**n
    if k <= n <= 21:
        return digits + "0" * (n - k)
    if 0 < n <= 21:
        return digits[:n] + "." + digits[n:]
    if -6 < n <= 0:
        return "0." + "0" * -n + digits
    sign = "+" if n - 1 >= 0 else "-"
    mantissa = digits[0] + ("." + digits[1:] if k > 1 else "")
    return f"{mantissa}e{sign}{abs(n - 1)}"


def json_stringify(value: Any) -> str:
    """``JSON.stringify(JSON.parse(body))`` as Node.js computes it: compact, non-ASCII kept,
    numbers written the JavaScript way, and an object's integer-like keys first in ascending
    order (JavaScript's property order)."""
    if isinstance(value, dict):

        def index(key: str) -> int | None:
            is_index = key.isdigit() and (key == "0" or not key.startswith("0"))
            return int(key) if is_index and int(key) < 2**32 - 1 else None

        keys = sorted((k for k in value if index(k) is not None), key=lambda k: index(k) or 0)
        keys += [k for k in value if index(k) is None]
        return "{" + ",".join(f"{json_stringify(k)}:{json_stringify(value[k])}" for k in keys) + "}"
    if isinstance(value, list):
        return "[" + ",".join(json_stringify(v) for v in value) + "]"
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, int):
        return _js_number(float(value)) if abs(value) >= 2**53 else str(value)
    assert isinstance(value, float) and math.isfinite(value)
    return _js_number(value)


def _paydirect_receiver_check(got: Received, secret: str, brand: str) -> dict[str, Any]:
    """Seed 004's Node.js check, line by line:

        const signature = req.headers['x-paydirect-signature'];
        const payload = JSON.stringify(req.body);
        const expected = crypto.createHmac('sha256', secret).update(payload).digest('hex');
        if (signature !== expected) { reject }

    ``req.body`` is what express.json() parsed; ``createHmac`` takes the secret string's UTF-8
    bytes and ``update`` the payload string's."""
    signature = _lower(got.headers)[f"x-{brand.lower()}-signature"]
    parsed = json.loads(got.body)
    payload = json_stringify(parsed)
    expected = hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
    assert signature == expected, "seed 004's receiver rejects the request"
    return dict(parsed)


def test_seed_004_compact_body_and_hex_signature(own_database: str, tmp_path: Path) -> None:
    with own_server(own_database, tmp_path, brand="PayDirect") as client, Receiver() as rx:
        add_event_type(client, "payment.updated")
        hook = create_webhook(
            client,
            rx.url,
            eventTypes=["payment.updated"],
            format="compact",
            signatureScheme="hmac-sha256-hex",
        )
        assert hook["format"] == "compact"
        assert hook["signatureScheme"] == "hmac-sha256-hex"
        # The partner pastes the secret the API shows into PAYDIRECT_WEBHOOK_SECRET.
        secret = client.get(f"/v1/webhooks/{hook['id']}/secret").json()["secret"]
        publish(client, "payment.updated", PAYDIRECT_UPDATE)
        [got] = rx.wait(1)

    body = _paydirect_receiver_check(got, secret, "PayDirect")
    assert body == {"event": "payment.updated", "data": PAYDIRECT_UPDATE}
    assert list(body) == ["event", "data"]
    # Compact JSON with UTF-8 kept, as Python's own re-serialisation shows too.
    assert got.body == json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    # A receiver holding a different secret rejects it.
    with pytest.raises(AssertionError, match="rejects"):
        _paydirect_receiver_check(got, secret[:-2] + "xx", "PayDirect")


@pytest.mark.parametrize(
    "data",
    [
        pytest.param({"paymentId": "pay_1", "amount": 10.0, "rate": 1e-7}, id="js-numbers"),
        pytest.param(
            {"paymentId": "pay_1", "byInvoice": {"inv": 1, "2024": 2, "17": 3}}, id="index-keys"
        ),
    ],
)
def test_seed_004_signature_survives_javascript_reserialisation(
    client: httpx.Client, data: dict[str, Any]
) -> None:
    """DESIGN §6: a receiver that re-serialises the parsed body, as seed 004's Node.js check
    does, gets the same bytes. JavaScript writes 10.0 as 10 and 1e-7 as 1e-7, and puts
    integer-like keys first: the bytes sent must already be in that form."""
    add_event_type(client, "payment.updated")
    with Receiver() as rx:
        hook = create_webhook(client, rx.url, format="compact", signatureScheme="hmac-sha256-hex")
        publish(client, "payment.updated", data)
        [got] = rx.wait(1)
    _paydirect_receiver_check(got, hook["secret"], "Tidings")


SEED_004_SCHEDULE = ["1m", "5m", "15m", "1h", "3h"]
SEED_004_SECONDS = [60, 300, 900, 3600, 10800]
MICROS = 1_000_000


def _micros(iso: str) -> int:
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return round(moment.timestamp() * MICROS)


def test_seed_004_five_retries_at_1m_5m_15m_1h_3h(own_database: str, tmp_path: Path) -> None:
    clock = FakeClock()
    with (
        own_server(own_database, tmp_path, clock=clock, retry_jitter=0.2) as client,
        Receiver(default=500) as rx,
    ):
        add_event_type(client, "payment.updated")
        hook = create_webhook(client, rx.url, format="compact", retrySchedule=SEED_004_SCHEDULE)
        assert hook["retrySchedule"] == SEED_004_SCHEDULE
        notification_id = publish(client, "payment.updated", PAYDIRECT_UPDATE)["notifications"][0][
            "id"
        ]

        attempted_at = [clock.now()]
        due_at: list[int] = []
        for attempt in range(1, 6):
            rx.wait(attempt)

            def _recorded(n: int = attempt) -> dict[str, Any] | None:
                found = notification(client, notification_id)
                return found if found["attemptCount"] == n else None

            pending = eventually(_recorded, what=f"attempt {attempt} recorded")
            assert pending["status"] == "pending"
            due = _micros(pending["nextAttemptAt"])
            due_at.append(due)
            # Nothing goes out before the retry is due.
            clock.set(due - MICROS)
            time.sleep(0.4)
            assert len(rx.requests) == attempt
            # The API shows milliseconds: a millisecond more makes it due for sure.
            clock.set(due + 1000)
            attempted_at.append(clock.now())

        rx.wait(6)
        failed = wait_status(client, notification_id, "failed")
        clock.advance(86400)
        time.sleep(0.4)
        assert len(rx.requests) == 6

    assert failed["attemptCount"] == 6
    assert failed["nextAttemptAt"] is None
    assert [a["statusCode"] for a in failed["attempts"]] == [500] * 6
    # Each retry is due one schedule step after the attempt before it, give or take 20%.
    for step, (started, due) in enumerate(zip(attempted_at, due_at, strict=False)):
        gap = (due - started) / MICROS
        expected = SEED_004_SECONDS[step]
        assert expected * 0.8 - 0.01 <= gap <= expected * 1.2 + 0.01, (step, gap)
    # And the attempts happened when they fell due.
    assert [_micros(a["attemptedAt"]) for a in failed["attempts"]] == [
        t // 1000 * 1000 for t in attempted_at
    ]
