"""``sslVerificationDisabled`` (seed 001) against a receiver on TLS with a self-signed
certificate: refused by default, accepted with the flag."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.partner import create_webhook, publish, wait_status
from tests.support.receiver import Receiver

PAYMENT = {"paymentId": "pay_tls", "status": "completed"}


@pytest.fixture
def tls() -> Iterator[Receiver]:
    """The test receiver, served over HTTPS with a certificate from a CA nobody trusts."""
    with Receiver(tls=True) as receiver:
        yield receiver


def test_self_signed_certificate_is_refused_by_default(
    client: httpx.Client, event_type: str, tls: Receiver
) -> None:
    hook = create_webhook(client, tls.url, retrySchedule=[])
    assert hook["sslVerificationDisabled"] is False
    notification_id = publish(client, event_type, PAYMENT)["notifications"][0]["id"]
    failed = wait_status(client, notification_id, "failed")
    [attempt] = failed["attempts"]
    assert attempt["statusCode"] is None
    assert "certificate" in attempt["error"].lower()
    assert tls.requests == []


def test_ssl_verification_disabled_accepts_it(
    client: httpx.Client, event_type: str, tls: Receiver
) -> None:
    hook = create_webhook(client, tls.url, sslVerificationDisabled=True)
    assert hook["sslVerificationDisabled"] is True
    notification_id = publish(client, event_type, PAYMENT)["notifications"][0]["id"]
    done = wait_status(client, notification_id, "succeeded")
    assert [a["statusCode"] for a in done["attempts"]] == [200]
    [got] = tls.wait(1)
    assert got.headers["webhook-id"] == notification_id


def test_the_flag_can_be_turned_on_and_off(
    client: httpx.Client, event_type: str, tls: Receiver
) -> None:
    hook = create_webhook(client, tls.url, retrySchedule=[])
    refused = publish(client, event_type, PAYMENT)["notifications"][0]["id"]
    wait_status(client, refused, "failed")

    patched = client.patch(f"/v1/webhooks/{hook['id']}", json={"sslVerificationDisabled": True})
    assert patched.json()["sslVerificationDisabled"] is True
    accepted = publish(client, event_type, PAYMENT)["notifications"][0]["id"]
    wait_status(client, accepted, "succeeded")
    assert [r.headers["webhook-id"] for r in tls.wait(1)] == [accepted]

    client.patch(f"/v1/webhooks/{hook['id']}", json={"sslVerificationDisabled": False})
    refused_again = publish(client, event_type, PAYMENT)["notifications"][0]["id"]
    failed = wait_status(client, refused_again, "failed")
    assert "certificate" in failed["attempts"][0]["error"].lower()
    assert len(tls.requests) == 1
