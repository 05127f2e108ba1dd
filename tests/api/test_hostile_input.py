"""Limits on what a caller may send: content type, request rate, and how many of a thing."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support.partner import own_server
from tests.support.server import OPERATOR_KEY


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml", None]
)
def test_a_body_that_is_not_json_is_415(client: httpx.Client, content_type: str | None) -> None:
    headers = {"Content-Type": content_type} if content_type else {}
    response = client.post(
        "/v1/webhooks", content=b'{"url": "https://example.com/x"}', headers=headers
    )
    assert response.status_code == 415, response.text
    error = response.json()["error"]
    assert error["type"] == "unsupported_media_type"
    assert error["details"][0]["field"] == "Content-Type"


def test_json_with_charset_and_vendor_types_is_accepted(client: httpx.Client) -> None:
    for content_type in ("application/json; charset=utf-8", "application/vnd.api+json"):
        response = client.post(
            "/v1/event-types",
            content=b'{"name": "x.%d"}' % len(content_type),
            headers={"Content-Type": content_type},
        )
        assert response.status_code == 201, response.text


def test_per_key_rate_limit_answers_429_with_retry_after(own_database: str, tmp_path: Path) -> None:
    # A burst of 3, then one request every 10 s: however slow the machine, the requests after
    # the burst come well within 10 s of it.
    with own_server(own_database, tmp_path, key_rate_limit=0.1, key_rate_burst=3) as client:
        statuses = [client.get("/v1/webhooks").status_code for _ in range(6)]
        assert statuses[:3] == [200, 200, 200]
        assert 429 in statuses[3:]
        refused = client.get("/v1/webhooks")
        assert refused.status_code == 429
        assert int(refused.headers["Retry-After"]) >= 1
        assert refused.json()["error"]["type"] == "rate_limited"
        # Another key has its own bucket.
        operator = {"Authorization": f"Bearer {OPERATOR_KEY}"}
        assert client.get("/v1/accounts", headers=operator).status_code == 200


def test_counts_are_bounded_by_settings(own_database: str, tmp_path: Path) -> None:
    limits = {
        "max_webhooks_per_account": 2,
        "max_event_types_per_webhook": 3,
        "max_headers_per_webhook": 2,
    }
    with own_server(own_database, tmp_path, **limits) as client:
        too_many_types = client.post(
            "/v1/webhooks",
            json={"url": "https://example.com/a", "eventTypes": ["a", "b", "c", "d"]},
        )
        assert too_many_types.status_code == 422
        assert too_many_types.json()["error"]["details"][0]["field"] == "eventTypes"
        too_many_headers = client.post(
            "/v1/webhooks",
            json={"url": "https://example.com/a", "headers": {"X-A": "1", "X-B": "2", "X-C": "3"}},
        )
        assert too_many_headers.status_code == 422
        assert too_many_headers.json()["error"]["details"][0]["field"] == "headers"
        for n in range(2):
            made = client.post("/v1/webhooks", json={"url": f"https://example.com/{n}"})
            assert made.status_code == 201, made.text
        third = client.post("/v1/webhooks", json={"url": "https://example.com/3"})
        assert third.status_code == 422
        assert third.json()["error"]["details"][0]["field"] == "webhooks"
        hook = client.get("/v1/webhooks").json()["data"][0]
        patched = client.patch(
            f"/v1/webhooks/{hook['id']}", json={"headers": {"A": "1", "B": "2", "C": "3"}}
        )
        assert patched.status_code == 422
