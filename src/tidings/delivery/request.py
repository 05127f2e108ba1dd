"""What goes on the wire for one attempt: the body and every header of DESIGN §6."""

from __future__ import annotations

from tidings import __version__
from tidings.core import envelope
from tidings.core.clock import to_iso
from tidings.core.signing import secret_bytes, standard_signature
from tidings.store.delivery import Job

USER_AGENT = f"Tidings/{__version__}"


def build(job: Job, brand: str, now_seconds: int) -> tuple[dict[str, str], bytes]:
    webhook = job.webhook
    assert webhook is not None
    body = envelope.full(
        job.notification_id,
        webhook.id,
        job.event_type,
        to_iso(job.event_created_at) or "",
        job.data,
    )
    signature = standard_signature(
        secret_bytes(webhook.secret), job.notification_id, now_seconds, body
    )
    headers = dict(webhook.headers)
    headers.update(
        {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "webhook-id": job.notification_id,
            "webhook-timestamp": str(now_seconds),
            "webhook-signature": signature,
            f"X-{brand}-Notification-Id": job.notification_id,
            f"X-{brand}-Webhook-Id": webhook.id,
            f"X-{brand}-Event-Type": job.event_type,
        }
    )
    return headers, body
