"""What goes on the wire for one attempt: the body and every header of DESIGN §6."""

from __future__ import annotations

import functools
from typing import Any, Protocol

import orjson

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


@functools.lru_cache(maxsize=4096)
def _key(secret: str) -> bytes:
    return secret_bytes(secret)


class Prepared:
    """What every attempt to one webhook shares, built once per version of the webhook (the
    worker keeps one per webhook): the fixed headers, the signing keys, and the envelope's
    bytes around what changes per notification. ``request`` gives exactly what ``build``
    gives, for less work per delivery."""

    __slots__ = ("_between", "_brand", "_fixed", "_hex", "webhook")

    def __init__(self, webhook: Any, brand: str) -> None:
        self.webhook = webhook
        self._brand = brand
        fixed = dict(webhook.headers)
        fixed["Content-Type"] = "application/json"
        fixed["User-Agent"] = USER_AGENT
        self._fixed = fixed
        # The full envelope: {"id":…,"webhookId":"<this webhook>","eventType":…,…}
        self._between = b',"webhookId":' + orjson.dumps(webhook.id) + b',"eventType":'
        self._hex = webhook.signature_scheme == "hmac-sha256-hex"

    def _body(self, job: Job) -> bytes:
        fmt = self.webhook.format
        if fmt != "full":
            return envelope.build(
                fmt, job.notification_id, self.webhook.id, job.event_type, "", job.data
            )
        return b"".join(
            (
                b'{"id":',
                orjson.dumps(job.notification_id),
                self._between,
                orjson.dumps(job.event_type),
                b',"eventRaisedAt":',
                orjson.dumps(to_iso(job.event_created_at) or ""),
                b',"eventData":',
                job.data,
                b"}",
            )
        )

    def request(self, job: Job, now: int) -> tuple[dict[str, str], bytes]:
        webhook, brand = self.webhook, self._brand
        body = self._body(job)
        timestamp = now // MICROS
        nid = job.notification_id
        secrets = live_secrets(webhook, now) if webhook.old_secrets else [webhook.secret]
        signature = " ".join(standard_signature(_key(s), nid, timestamp, body) for s in secrets)
        # The webhook's own headers first; ours override them (as in ``build``).
        headers = dict(self._fixed)
        headers["webhook-id"] = nid
        headers["webhook-timestamp"] = str(timestamp)
        headers["webhook-signature"] = signature
        headers[f"X-{brand}-Notification-Id"] = nid
        headers[f"X-{brand}-Webhook-Id"] = webhook.id
        headers[f"X-{brand}-Event-Type"] = job.event_type
        if job.is_test:
            headers[f"X-{brand}-Test"] = "true"
        if self._hex:
            headers[f"X-{brand}-Signature"] = hex_signature(
                secrets[1 if len(secrets) > 1 else 0], body
            )
        return headers, body
