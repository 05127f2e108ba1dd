"""``sslVerificationDisabled`` (seed 001) against a receiver on TLS with a self-signed
certificate: refused by default, accepted with the flag."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from tidings_client import Tidings

from tests.support.partner import create_webhook, publish, wait_status
from tests.support.receiver import Receiver

PAYMENT = {"paymentId": "pay_tls", "status": "completed"}


@pytest.fixture
def tls() -> Iterator[Receiver]:
    """The test receiver, served over HTTPS with a certificate from a CA nobody trusts."""
    with Receiver(tls=True) as receiver:
        yield receiver


def test_self_signed_certificate_is_refused_by_default(
    partner: Tidings, event_type: str, tls: Receiver
) -> None:
    hook = create_webhook(partner, tls.url, retry_schedule=[])
    assert hook["sslVerificationDisabled"] is False
    notification_id = publish(partner, event_type, PAYMENT)["notifications"][0]["id"]
    failed = wait_status(partner, notification_id, "failed")
    [attempt] = failed["attempts"]
    assert attempt["statusCode"] is None
    assert "certificate" in attempt["error"].lower()
    assert tls.requests == []


def test_ssl_verification_disabled_accepts_it(
    partner: Tidings, event_type: str, tls: Receiver
) -> None:
    hook = create_webhook(partner, tls.url, ssl_verification_disabled=True)
    assert hook["sslVerificationDisabled"] is True
    notification_id = publish(partner, event_type, PAYMENT)["notifications"][0]["id"]
    done = wait_status(partner, notification_id, "succeeded")
    assert [a["statusCode"] for a in done["attempts"]] == [200]
    [got] = tls.wait(1)
    assert got.headers["webhook-id"] == notification_id


def test_the_flag_can_be_turned_on_and_off(
    partner: Tidings, event_type: str, tls: Receiver
) -> None:
    hook = create_webhook(partner, tls.url, retry_schedule=[])
    refused = publish(partner, event_type, PAYMENT)["notifications"][0]["id"]
    wait_status(partner, refused, "failed")

    patched = partner.webhooks.update(hook["id"], ssl_verification_disabled=True)
    assert patched["sslVerificationDisabled"] is True
    accepted = publish(partner, event_type, PAYMENT)["notifications"][0]["id"]
    wait_status(partner, accepted, "succeeded")
    assert [r.headers["webhook-id"] for r in tls.wait(1)] == [accepted]

    partner.webhooks.update(hook["id"], ssl_verification_disabled=False)
    refused_again = publish(partner, event_type, PAYMENT)["notifications"][0]["id"]
    failed = wait_status(partner, refused_again, "failed")
    assert "certificate" in failed["attempts"][0]["error"].lower()
    assert len(tls.requests) == 1
