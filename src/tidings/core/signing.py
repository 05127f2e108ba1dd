"""Webhook signatures: Standard Webhooks v1 and the plain hex HMAC some receivers check."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def secret_bytes(secret: str) -> bytes:
    return base64.b64decode(secret.removeprefix(SECRET_PREFIX))


def standard_signature(key: bytes, msg_id: str, timestamp: int, body: bytes) -> str:
    """``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` as the spec defines it."""
    signed = b"%s.%d.%s" % (msg_id.encode(), timestamp, body)
    return "v1," + base64.b64encode(hmac.digest(key, signed, hashlib.sha256)).decode()


def hex_signature(secret: str, body: bytes) -> str:
    """Hex HMAC-SHA256 of the body keyed with the secret exactly as the API shows it (its UTF-8
    bytes, prefix included): what seed 004's Node.js check computes."""
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


# A Standard Webhooks timestamp further than this from now is refused (replays, skew).
TOLERANCE_SECONDS = 5 * 60


def verify_standard(
    secrets_: list[str], msg_id: str, timestamp: str, signatures: str, body: bytes, now: int
) -> str | None:
    """Why a Standard Webhooks signed message is refused, or None when one of the signatures
    in ``signatures`` (space-separated ``v1,…``) is made with one of ``secrets_``. ``now`` in
    epoch seconds."""
    try:
        sent_at = int(timestamp)
    except ValueError:
        return "webhook-timestamp is not a number of seconds"
    if abs(now - sent_at) > TOLERANCE_SECONDS:
        return "webhook-timestamp is more than 5 minutes from now"
    offered = {s.strip() for s in signatures.split(" ") if s.strip().startswith("v1,")}
    for secret in secrets_:
        expected = standard_signature(secret_bytes(secret), msg_id, sent_at, body)
        if any(hmac.compare_digest(expected, candidate) for candidate in offered):
            return None
    return "no webhook-signature matches"


def verify_hex(secrets_: list[str], signature: str, body: bytes) -> bool:
    """Whether ``signature`` is the hex HMAC-SHA256 of ``body`` with one of ``secrets_``."""
    given = signature.strip().lower()
    return any(hmac.compare_digest(hex_signature(s, body), given) for s in secrets_)
