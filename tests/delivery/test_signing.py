"""Signatures against the Standard Webhooks spec vector and its reference library."""

from __future__ import annotations

import base64

from standardwebhooks.webhooks import Webhook

from tidings.core.signing import new_secret, secret_bytes, standard_signature

SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_spec_vector() -> None:
    signature = standard_signature(secret_bytes(SPEC_SECRET), SPEC_ID, SPEC_TIMESTAMP, SPEC_BODY)
    assert signature == SPEC_SIGNATURE


def test_new_secret_has_prefix_and_enough_entropy() -> None:
    secret = new_secret()
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"))) >= 24
    assert new_secret() != secret


def test_reference_library_verifies_our_signature() -> None:
    secret = new_secret()
    body = b'{"id":"ntf_1","eventData":{"amount":1}}'
    import time

    now = int(time.time())
    headers = {
        "webhook-id": "ntf_1",
        "webhook-timestamp": str(now),
        "webhook-signature": standard_signature(secret_bytes(secret), "ntf_1", now, body),
    }
    assert Webhook(secret).verify(body, headers) == {"id": "ntf_1", "eventData": {"amount": 1}}
