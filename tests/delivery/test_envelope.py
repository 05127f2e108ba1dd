"""The full envelope is built from stored bytes and must equal a normal serialisation."""

from __future__ import annotations

import json

import orjson

from tidings.core.envelope import build


def test_full_envelope_is_compact_json_with_the_stored_data() -> None:
    data = {"amount": "0.5", "currency": "ETH", "note": "naïve ☕", "nested": {"a": [1, 2]}}
    body = build(
        "full", "ntf_1", "wh_1", "payment.updated", "2024-06-21T09:31:35.692Z", orjson.dumps(data)
    )
    parsed = json.loads(body)
    assert parsed == {
        "id": "ntf_1",
        "webhookId": "wh_1",
        "eventType": "payment.updated",
        "eventRaisedAt": "2024-06-21T09:31:35.692Z",
        "eventData": data,
    }
    assert body == json.dumps(parsed, separators=(",", ":"), ensure_ascii=False).encode()
