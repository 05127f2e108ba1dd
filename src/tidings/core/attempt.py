"""What goes on the wire for one attempt: the body and every header of DESIGN §6."""

from __future__ import annotations

from typing import Any, Protocol

from tidings import __version__
from tidings.core import envelope
from tidings.core.clock import MICROS, to_iso
from tidings.core.signing import hex_signature, secret_bytes, standard_signature


class Job(Protocol):
    """What an attempt is made of, from the notification and its event."""

    @property
    def notification_id(self) -> str: ...
    @property
    def event_type(self) -> str: ...
    @property
    def event_created_at(self) -> int: ...
    @property
    def data(self) -> bytes: ...
    @property
    def is_test(self) -> bool: ...


USER_AGENT = f"Tidings/{__version__}"


def live_secrets(webhook: Any, now: int) -> list[str]:
    """The current secret first, then those a roll replaced that have not expired yet."""
    old = [s["secret"] for s in webhook.old_secrets or [] if s["expiresAt"] > now]
    return [webhook.secret, *old]


def build(job: Job, webhook: Any, brand: str, now: int) -> tuple[dict[str, str], bytes]:
    """Body and headers of one attempt; ``webhook`` is the job's webhook with its secrets
    opened (see core/sealing.py)."""
    body = envelope.build(
        webhook.format,
        job.notification_id,
        webhook.id,
        job.event_type,
        to_iso(job.event_created_at) or "",
        job.data,
    )
    timestamp = now // MICROS
    secrets = live_secrets(webhook, now)
    signature = " ".join(
        standard_signature(secret_bytes(s), job.notification_id, timestamp, body) for s in secrets
    )
    headers = dict(webhook.headers)
    headers.update(
        {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "webhook-id": job.notification_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature,
            f"X-{brand}-Notification-Id": job.notification_id,
            f"X-{brand}-Webhook-Id": webhook.id,
            f"X-{brand}-Event-Type": job.event_type,
        }
    )
    if job.is_test:
        # A receiver can tell a test event (POST /v1/test-events) from a real one.
        headers[f"X-{brand}-Test"] = "true"
    if webhook.signature_scheme == "hmac-sha256-hex":
        # One value only, so sign with the oldest live secret (rolls keep them in the order
        # they were replaced): a receiver keeps verifying until the roll's expiry, then the
        # next secret takes over, never an older one again.
        headers[f"X-{brand}-Signature"] = hex_signature(secrets[1 if len(secrets) > 1 else 0], body)
    return headers, body
