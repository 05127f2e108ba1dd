"""Small waits shared by the end-to-end tests."""

from __future__ import annotations

import time
from typing import Any

import httpx


def wait_for_notification(
    client: httpx.Client, notification_id: str, status: str, timeout: float = 20.0
) -> dict[str, Any]:
    """Poll GET /v1/notifications/{id} until it reaches ``status``."""
    deadline = time.monotonic() + timeout
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = client.get(f"/v1/notifications/{notification_id}").json()
        if body.get("status") == status:
            return body
        time.sleep(0.05)
    raise AssertionError(f"notification never reached {status}: {body}")
