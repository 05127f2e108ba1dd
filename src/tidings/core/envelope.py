"""The request body a receiver gets, assembled from bytes serialized once at publish time.

``full`` (seed 001): ``{"id","webhookId","eventType","eventRaisedAt","eventData"}``;
``compact`` (seed 004): ``{"event","data"}``; ``raw`` (seed 003): the event data alone."""

from __future__ import annotations

import orjson

FORMATS = ("full", "compact", "raw")


def build(
    fmt: str,
    notification_id: str,
    webhook_id: str,
    event_type: str,
    raised_at: str,
    data: bytes,
) -> bytes:
    # Splice the stored event bytes in rather than parsing and serializing them again.
    if fmt == "raw":
        return data
    if fmt == "compact":
        return b'{"event":' + orjson.dumps(event_type) + b',"data":' + data + b"}"
    head = orjson.dumps(
        {
            "id": notification_id,
            "webhookId": webhook_id,
            "eventType": event_type,
            "eventRaisedAt": raised_at,
        }
    )
    return head[:-1] + b',"eventData":' + data + b"}"
