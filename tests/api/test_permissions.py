"""Every permission level of a restricted key against every resource's calls: a call needing
more than the key holds is a 403 naming the permission; anything else is not a 403."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
import pytest

from tests.support.partner import client_with_key
from tests.support.receiver import Receiver

LEVELS = ("none", "read", "write")
RANK = {level: rank for rank, level in enumerate(LEVELS)}

# (resource, level needed, method, path template, body)
CALLS: list[tuple[str, str, str, str, dict[str, Any] | None]] = [
    ("webhooks", "read", "GET", "/v1/webhooks", None),
    ("webhooks", "read", "GET", "/v1/webhooks/{webhook}", None),
    ("webhooks", "write", "POST", "/v1/webhooks", {"url": "https://example.com/{unique}"}),
    ("webhooks", "write", "PATCH", "/v1/webhooks/{webhook}", {"description": "changed"}),
    ("webhooks", "write", "POST", "/v1/webhooks/{webhook}/disable", None),
    ("webhooks", "write", "GET", "/v1/webhooks/{webhook}/secret", None),
    ("events", "read", "GET", "/v1/events", None),
    ("events", "read", "GET", "/v1/events/{event}", None),
    ("events", "write", "POST", "/v1/events", {"eventType": "perm.test", "eventData": {}}),
    (
        "events",
        "write",
        "POST",
        "/v1/test-events",
        {"webhookIds": ["{webhook}"], "eventType": "perm.test", "eventData": {}},
    ),
    ("event_types", "read", "GET", "/v1/event-types", None),
    ("event_types", "read", "GET", "/v1/event-types/perm.test", None),
    ("event_types", "write", "POST", "/v1/event-types", {"name": "perm.{unique}"}),
    ("event_types", "write", "PATCH", "/v1/event-types/perm.test", {"description": "x"}),
    ("notifications", "read", "GET", "/v1/notifications", None),
    ("notifications", "read", "GET", "/v1/notifications/{notification}", None),
    ("notifications", "write", "POST", "/v1/notifications/{notification}/resend", None),
    ("logs", "read", "GET", "/v1/logs", None),
    ("logs", "read", "GET", "/v1/logs?status=failed&path=/v1/webhooks", None),
    ("api_keys", "read", "GET", "/v1/api-keys", None),
    (
        "api_keys",
        "write",
        "POST",
        "/v1/api-keys",
        {"type": "restricted", "permissions": {"api_keys": "read"}},
    ),
]
RESOURCES = sorted({call[0] for call in CALLS})


@pytest.fixture
def world(client: httpx.Client) -> dict[str, str]:
    """A webhook, an event type, an event and its notification to address."""
    assert client.post("/v1/event-types", json={"name": "perm.test"}).status_code == 201
    with Receiver() as rx:
        webhook = client.post("/v1/webhooks", json={"url": rx.url}).json()["id"]
        event = client.post("/v1/events", json={"eventType": "perm.test", "eventData": {}})
        rx.wait(1)
    body = event.json()
    return {
        "webhook": webhook,
        "event": body["id"],
        "notification": body["notifications"][0]["id"],
    }


def _fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**names, unique=secrets.token_hex(4))
    if isinstance(value, list):
        return [_fill(v, names) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, names) for k, v in value.items()}
    return value


@pytest.mark.parametrize("level", LEVELS)
@pytest.mark.parametrize("resource", RESOURCES)
def test_restricted_key_gets_exactly_its_permission(
    client: httpx.Client, world: dict[str, str], resource: str, level: str
) -> None:
    created = client.post(
        "/v1/api-keys",
        json={
            "name": f"{resource}-{level}",
            "type": "restricted",
            "permissions": {resource: level},
        },
    )
    assert created.status_code == 201, created.text
    assert created.json()["key"].startswith("rk_")
    with client_with_key(str(client.base_url), created.json()["key"]) as restricted:
        for call_resource, needed, method, path, body in CALLS:
            holds = RANK[level] if call_resource == resource else 0
            response = restricted.request(
                method, _fill(path, world), json=_fill(body, world) if body else None
            )
            where = f"{method} {path} with {resource}:{level}"
            if holds >= RANK[needed]:
                assert response.status_code != 403, f"{where}: {response.text}"
                assert response.status_code < 500, f"{where}: {response.text}"
            else:
                assert response.status_code == 403, f"{where}: {response.text}"
                error = response.json()["error"]
                assert error["type"] == "permission_error"
                assert f"{call_resource}:{needed}" in error["message"]
                assert error["details"][0]["message"] == f"{call_resource}:{needed}"


def test_secret_key_may_do_everything(client: httpx.Client, world: dict[str, str]) -> None:
    for _resource, _needed, method, path, body in CALLS:
        response = client.request(
            method, _fill(path, world), json=_fill(body, world) if body else None
        )
        assert response.status_code < 300, f"{method} {path}: {response.text}"


def test_accounts_need_an_operator_key(client: httpx.Client) -> None:
    for method, path in (("GET", "/v1/accounts"), ("POST", "/v1/accounts")):
        response = client.request(method, path, json={"name": "x"} if method == "POST" else None)
        assert response.status_code == 403
