"""Checking a delivery's signature, as a receiver does.

Two schemes: Standard Webhooks (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``:
``v1,<base64 HMAC-SHA256 of "id.timestamp.body">`` keyed with the base64 bytes after
``whsec_``), and the hex scheme (``X-<Brand>-Signature``: the hex HMAC-SHA256 of the body keyed
with the secret string as shown, ``whsec_`` included). The hex scheme signs no timestamp, so a
captured delivery can be replayed: prefer ``standard`` where the receiver allows."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

SECRET_PREFIX = "whsec_"
TOLERANCE_SECONDS = 5 * 60


class WebhookVerificationError(Exception):
    """The signature is missing, wrong, or (Standard Webhooks) too old or too new."""


def verify(
    secret: str | Iterable[str],
    body: bytes | str,
    headers: Mapping[str, str],
    *,
    tolerance: float = TOLERANCE_SECONDS,
    now: float | None = None,
    scheme: str | None = None,
) -> Any:
    """Check the signature of a delivery and answer its JSON payload; raise
    ``WebhookVerificationError`` when it does not verify.

    ``body`` must be the raw bytes received, never a re-serialised object. ``secret`` may be a
    list (while a secret is being rolled). ``scheme``: ``"standard"``, ``"hmac-sha256-hex"``,
    or None to use the Standard Webhooks headers when present, else the hex header.
    ``tolerance``: seconds a Standard Webhooks timestamp may be from ``now`` (epoch seconds,
    default: the clock)."""
    raw = body.encode() if isinstance(body, str) else bytes(body)
    lowered = {k.lower(): v for k, v in headers.items()}
    secrets = [secret] if isinstance(secret, str) else list(secret)
    if not secrets:
        raise WebhookVerificationError("no secret to verify with")
    chosen = scheme or ("standard" if "webhook-signature" in lowered else "hmac-sha256-hex")
    if chosen == "standard":
        _verify_standard(secrets, raw, lowered, tolerance, time.time() if now is None else now)
    elif chosen == "hmac-sha256-hex":
        _verify_hex(secrets, raw, lowered)
    else:
        raise ValueError(f"unknown scheme {scheme!r}: use standard or hmac-sha256-hex")
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise WebhookVerificationError(f"the body is not JSON: {exc}") from None


def sign(secret: str, msg_id: str, timestamp: int, body: bytes | str) -> str:
    """A Standard Webhooks signature, ``v1,…`` (for tests of a receiver)."""
    raw = body.encode() if isinstance(body, str) else body
    signed = b"%s.%d.%s" % (msg_id.encode(), timestamp, raw)
    digest = hmac.digest(_key(secret), signed, hashlib.sha256)
    return "v1," + base64.b64encode(digest).decode()


def sign_hex(secret: str, body: bytes | str) -> str:
    """The hex scheme's signature of ``body``."""
    raw = body.encode() if isinstance(body, str) else body
    return hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def _key(secret: str) -> bytes:
    try:
        return base64.b64decode(secret.removeprefix(SECRET_PREFIX), validate=True)
    except (binascii.Error, ValueError):
        raise WebhookVerificationError("the secret is not a whsec_ base64 secret") from None


def _verify_standard(
    secrets: list[str], raw: bytes, headers: dict[str, str], tolerance: float, now: float
) -> None:
    msg_id = headers.get("webhook-id")
    stamp = headers.get("webhook-timestamp")
    offered = headers.get("webhook-signature")
    if not msg_id or not stamp or not offered:
        raise WebhookVerificationError(
            "missing webhook-id, webhook-timestamp or webhook-signature header"
        )
    try:
        sent_at = int(stamp)
    except ValueError:
        raise WebhookVerificationError("webhook-timestamp is not a number") from None
    if now - sent_at > tolerance:
        raise WebhookVerificationError("the message is too old (webhook-timestamp)")
    if sent_at - now > tolerance:
        raise WebhookVerificationError("the message is too new (webhook-timestamp)")
    candidates = [part.strip() for part in offered.split(" ") if part.strip().startswith("v1,")]
    for secret in secrets:
        expected = sign(secret, msg_id, sent_at, raw)
        if any(hmac.compare_digest(expected, c) for c in candidates):
            return
    raise WebhookVerificationError("no matching signature")


def _verify_hex(secrets: list[str], raw: bytes, headers: dict[str, str]) -> None:
    # X-<Brand>-Signature: the brand is the deployment's (X-Tidings-Signature by default).
    offered = [
        value.strip().lower()
        for name, value in headers.items()
        if name.startswith("x-") and name.endswith("-signature")
    ]
    if not offered:
        raise WebhookVerificationError("missing X-<Brand>-Signature header")
    for secret in secrets:
        expected = sign_hex(secret, raw)
        if any(hmac.compare_digest(expected, o) for o in offered):
            return
    raise WebhookVerificationError("no matching signature")
