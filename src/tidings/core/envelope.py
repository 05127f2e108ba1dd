"""The request body a receiver gets, assembled from bytes serialized once at publish time."""

from __future__ import annotations

import orjson


def full(
    notification_id: str, webhook_id: str, event_type: str, raised_at: str, data: bytes
) -> bytes:
    """``{"id","webhookId","eventType","eventRaisedAt","eventData"}``, compact JSON."""
    head = orjson.dumps(
        {
            "id": notification_id,
            "webhookId": webhook_id,
            "eventType": event_type,
            "eventRaisedAt": raised_at,
        }
    )
    # Splice the stored event bytes in rather than parsing and serializing them again.
    return head[:-1] + b',"eventData":' + data + b"}"
