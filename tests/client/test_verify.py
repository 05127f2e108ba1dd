"""``tidings_client.verify``: the Standard Webhooks spec's test vector, both schemes as
Tidings' own signing makes them, and every way a signature is refused."""

from __future__ import annotations

import json

import pytest
from tidings_client import WebhookVerificationError, verify

from tidings.core import signing

# The Standard Webhooks specification's example (standard-webhooks/spec, "Verifying").
SPEC_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
SPEC_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
SPEC_TIMESTAMP = 1614265330
SPEC_BODY = b'{"test": 2432232314}'
SPEC_SIGNATURE = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def _spec_headers(signature: str = SPEC_SIGNATURE) -> dict[str, str]:
    return {
        "webhook-id": SPEC_ID,
        "webhook-timestamp": str(SPEC_TIMESTAMP),
        "webhook-signature": signature,
    }


def test_the_spec_vector_verifies_within_tolerance() -> None:
    payload = verify(SPEC_SECRET, SPEC_BODY, _spec_headers(), now=SPEC_TIMESTAMP + 10)
    assert payload == {"test": 2432232314}
    # Header names are case-insensitive, several signatures may be offered.
    shouting = {k.title(): v for k, v in _spec_headers(f"v1,bm9wZQ== {SPEC_SIGNATURE}").items()}
    verify(SPEC_SECRET, SPEC_BODY, shouting, now=SPEC_TIMESTAMP)


def test_the_spec_vector_is_stale_after_five_minutes_unless_tolerated() -> None:
    with pytest.raises(WebhookVerificationError, match="too old"):
        verify(SPEC_SECRET, SPEC_BODY, _spec_headers(), now=SPEC_TIMESTAMP + 301)
    with pytest.raises(WebhookVerificationError, match="too new"):
        verify(SPEC_SECRET, SPEC_BODY, _spec_headers(), now=SPEC_TIMESTAMP - 301)
    verify(SPEC_SECRET, SPEC_BODY, _spec_headers(), now=SPEC_TIMESTAMP + 300)
    # Against today's clock the 2021 vector is stale, unless the tolerance allows it.
    with pytest.raises(WebhookVerificationError):
        verify(SPEC_SECRET, SPEC_BODY, _spec_headers())
    verify(SPEC_SECRET, SPEC_BODY, _spec_headers(), tolerance=10**10)


@pytest.mark.parametrize(
    "change",
    [
        {"body": b'{"test": 2432232315}'},
        {"webhook-id": "msg_other"},
        {"webhook-timestamp": str(SPEC_TIMESTAMP + 1)},
        {"webhook-signature": "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OF="},
        {"webhook-signature": "v2," + SPEC_SIGNATURE[3:]},
        {"secret": "whsec_" + "A" * 32},
    ],
)
def test_any_change_breaks_the_signature(change: dict[str, object]) -> None:
    headers = _spec_headers()
    headers.update({k: str(v) for k, v in change.items() if k.startswith("webhook-")})
    body = change.get("body", SPEC_BODY)
    secret = str(change.get("secret", SPEC_SECRET))
    with pytest.raises(WebhookVerificationError):
        verify(secret, body, headers, now=SPEC_TIMESTAMP)  # type: ignore[arg-type]


def test_missing_headers_are_refused() -> None:
    for name in ("webhook-id", "webhook-timestamp"):
        headers = _spec_headers()
        del headers[name]
        with pytest.raises(WebhookVerificationError, match="missing"):
            verify(SPEC_SECRET, SPEC_BODY, headers, now=SPEC_TIMESTAMP)
    with pytest.raises(WebhookVerificationError, match="missing"):
        verify(SPEC_SECRET, SPEC_BODY, {}, now=SPEC_TIMESTAMP)


def test_signatures_made_by_tidings_verify() -> None:
    secret = signing.new_secret()
    body = json.dumps({"eventType": "payment.updated", "amount": 2**60}).encode()
    stamp = 1_800_000_000
    headers = {
        "webhook-id": "ntf_1",
        "webhook-timestamp": str(stamp),
        "webhook-signature": signing.standard_signature(
            signing.secret_bytes(secret), "ntf_1", stamp, body
        ),
    }
    assert verify(secret, body, headers, now=stamp)["amount"] == 2**60
    # While a secret is being rolled a receiver may hold both.
    verify([signing.new_secret(), secret], body, headers, now=stamp)
    with pytest.raises(WebhookVerificationError):
        verify(signing.new_secret(), body, headers, now=stamp)


def test_the_hex_scheme_as_tidings_signs_it() -> None:
    secret = signing.new_secret()
    body = b'{"eventType":"payment.updated","eventData":{"id":1}}'
    headers = {"X-Tidings-Signature": signing.hex_signature(secret, body)}
    assert verify(secret, body, headers) == {"eventType": "payment.updated", "eventData": {"id": 1}}
    # Any brand: the header is X-<Brand>-Signature.
    verify(secret, body, {"x-acme-signature": signing.hex_signature(secret, body).upper()})
    with pytest.raises(WebhookVerificationError, match="no matching"):
        verify(secret, body + b" ", headers)
    with pytest.raises(WebhookVerificationError, match="missing"):
        verify(secret, body, {"content-type": "application/json"})
    # Both schemes present: standard is checked unless the hex one is asked for.
    both = {**headers, "webhook-id": "x", "webhook-timestamp": "1", "webhook-signature": "v1,x"}
    with pytest.raises(WebhookVerificationError):
        verify(secret, body, both)
    verify(secret, body, both, scheme="hmac-sha256-hex")
