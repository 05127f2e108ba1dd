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
