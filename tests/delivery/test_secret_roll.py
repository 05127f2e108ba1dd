"""Rolling a webhook's signing secret, on a server whose clock the test moves: until the old
secret expires every request carries a signature per live secret in ``webhook-signature``, so
a receiver verifies with either; afterwards only the new one signs."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from tidings_client import NotFoundError, Tidings, ValidationError

from tests.support.clock import FakeClock
from tests.support.partner import (
    add_event_type,
    create_webhook,
    own_partner,
    publish,
    wait_status,
)
from tests.support.receiver import Received, Receiver
from tidings.core.clock import MICROS, to_iso


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def partner(own_database: str, tmp_path: Path, clock: FakeClock) -> Iterator[Tidings]:
    with own_partner(own_database, tmp_path, clock=clock) as p:
        add_event_type(p, "order.paid")
        yield p


@pytest.fixture
def rx() -> Iterator[Receiver]:
    with Receiver() as receiver:
        yield receiver


def _deliver(partner: Tidings, rx: Receiver) -> Received:
    """Publish one event and return the request the receiver got for it, once its outcome is
    recorded: the tests then move the server's clock by hours, and a lease still open then
    would have expired, sending that notification again (signed at the new time)."""
    before = len(rx.requests)
    published = publish(partner, "order.paid", {"orderId": f"ord_{before}"})
    notification_id = published["notifications"][0]["id"]
    wait_status(partner, notification_id, "succeeded")
    return next(r for r in rx.requests if r.headers["webhook-id"] == notification_id)


def _signatures(got: Received) -> list[str]:
    return got.headers["webhook-signature"].split(" ")


def _signed_by(secret: str, got: Received) -> str:
    """The v1 signature ``secret`` gives this request (Standard Webhooks' own signer)."""
    timestamp = datetime.fromtimestamp(int(got.headers["webhook-timestamp"]), tz=UTC)
    return str(Webhook(secret).sign(got.headers["webhook-id"], timestamp, got.body.decode()))


def _with_signature(got: Received, signature: str) -> dict[str, str]:
    return {**got.headers, "webhook-signature": signature}


def test_both_signatures_until_the_old_secret_expires(
    partner: Tidings, rx: Receiver, clock: FakeClock
) -> None:
    hook = create_webhook(partner, rx.url)
    old = hook["secret"]

    rolled = partner.webhooks.roll_secret(hook["id"], "1h")
    new = rolled["secret"]
    assert new.startswith("whsec_") and new != old
    assert rolled["previousSecretExpiresAt"] == to_iso(clock.now() + 3600 * MICROS)
    # GET /secret shows the new secret from now on.
    assert partner.webhooks.secret(hook["id"])["secret"] == new

    got = _deliver(partner, rx)
    first, second = _signatures(got)
    assert all(s.startswith("v1,") for s in (first, second))
    # Receivers verify with either secret, with the Standard Webhooks library...
    assert Webhook(old).verify(got.body, got.headers)["eventData"] == {"orderId": "ord_0"}
    assert Webhook(new).verify(got.body, got.headers)["eventData"] == {"orderId": "ord_0"}
    # ...and each signature is the one of its own secret, not of the other.
    assert sorted([first, second]) == sorted([_signed_by(new, got), _signed_by(old, got)])
    for secret, other in ((new, old), (old, new)):
        alone = _with_signature(got, _signed_by(secret, got))
        assert Webhook(secret).verify(got.body, alone)
        with pytest.raises(WebhookVerificationError):
            Webhook(other).verify(got.body, alone)

    # A second before expiry both still sign.
    clock.advance(3599)
    got = _deliver(partner, rx)
    assert sorted(_signatures(got)) == sorted([_signed_by(new, got), _signed_by(old, got)])

    # Past the expiry only the new secret signs.
    clock.advance(2)
    got = _deliver(partner, rx)
    assert _signatures(got) == [_signed_by(new, got)]
    assert _signed_by(old, got) not in got.headers["webhook-signature"]


def test_expires_now_switches_at_once(partner: Tidings, rx: Receiver) -> None:
    hook = create_webhook(partner, rx.url)
    old = hook["secret"]
    new = partner.webhooks.roll_secret(hook["id"], "now")["secret"]
    assert partner.webhooks.secret(hook["id"])["secret"] == new

    got = _deliver(partner, rx)
    assert _signatures(got) == [_signed_by(new, got)]
    assert Webhook(new).verify(got.body, got.headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(old).verify(got.body, got.headers)


@pytest.mark.parametrize("expires_in", ["8d", "169h", 604801, "soon", -1])
def test_expiry_beyond_7_days_or_invalid_is_refused(
    partner: Tidings, rx: Receiver, expires_in: Any
) -> None:
    hook = create_webhook(partner, rx.url)
    with pytest.raises(ValidationError) as refused:
        partner.webhooks.roll_secret(hook["id"], expires_in)
    assert [d["field"] for d in refused.value.details] == ["expiresIn"]
    # Nothing changed.
    assert partner.webhooks.secret(hook["id"])["secret"] == hook["secret"]


def test_seven_days_is_the_longest_window(partner: Tidings, rx: Receiver, clock: FakeClock) -> None:
    hook = create_webhook(partner, rx.url)
    new = partner.webhooks.roll_secret(hook["id"], "7d")["secret"]
    clock.advance(7 * 86400 - 1)
    got = _deliver(partner, rx)
    assert len(_signatures(got)) == 2
    clock.advance(2)
    got = _deliver(partner, rx)
    assert _signatures(got) == [_signed_by(new, got)]


def test_roll_of_an_unknown_webhook_is_404(partner: Tidings) -> None:
    with pytest.raises(NotFoundError):
        partner.webhooks.roll_secret("wh_nope", "1h")


def _hex_keyed_by(got: Received, secrets: list[str]) -> int:
    """Which of ``secrets`` (by index) keys the request's X-Tidings-Signature."""
    signature = got.headers["X-Tidings-Signature"]
    matches = [
        i
        for i, secret in enumerate(secrets)
        if hmac.new(secret.encode(), got.body, hashlib.sha256).hexdigest() == signature
    ]
    assert len(matches) == 1, "X-Tidings-Signature is keyed by none of the secrets"
    return matches[0]


def test_hex_signature_during_a_roll(partner: Tidings, rx: Receiver, clock: FakeClock) -> None:
    """The hex scheme has room for one signature: the old secret keeps signing until it
    expires, so a receiver that has not switched yet loses nothing; then the new one signs."""
    hook = create_webhook(partner, rx.url, signature_scheme="hmac-sha256-hex")
    old = hook["secret"]
    new = partner.webhooks.roll_secret(hook["id"], "1h")["secret"]
    got = _deliver(partner, rx)
    assert _hex_keyed_by(got, [old, new]) == 0
    assert len(_signatures(got)) == 2  # webhook-signature still carries both
    clock.advance(3601)
    got = _deliver(partner, rx)
    assert _hex_keyed_by(got, [old, new]) == 1


def test_hex_signature_never_goes_back_to_an_older_secret(
    partner: Tidings, rx: Receiver, clock: FakeClock
) -> None:
    """Two rolls whose windows overlap: s0 → s1 (s0 kept 2 h), then s1 → s2 (s1 kept 1 h).
    Whichever secret signs, the hex header must move forward only: a receiver that has
    switched to a newer secret must never be handed an older one again."""
    hook = create_webhook(partner, rx.url, signature_scheme="hmac-sha256-hex")
    s0 = hook["secret"]
    s1 = partner.webhooks.roll_secret(hook["id"], "2h")["secret"]
    s2 = partner.webhooks.roll_secret(hook["id"], "1h")["secret"]
    secrets = [s0, s1, s2]
    keyed = [_hex_keyed_by(_deliver(partner, rx), secrets)]
    for step in (3601, 3600):  # past s1's expiry, then past s0's
        clock.advance(step)
        keyed.append(_hex_keyed_by(_deliver(partner, rx), secrets))
    assert keyed == sorted(keyed), f"hex signature keyed by s{keyed}"
    assert keyed[-1] == 2
