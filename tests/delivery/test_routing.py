"""Categories that route (seed 000: each endpoint is set up under one category and picks its
events from that category's list) and ``prefix.*`` patterns."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from tests.support.partner import create_webhook, publish
from tests.support.receiver import Receiver

TYPES = {
    "payment.created": "Payments",
    "payment.refund.failed": "Payments",
    "paymentlink.created": "Payments",
    "booking.created": "Booking",
}


@pytest.fixture
def catalog(client: httpx.Client) -> None:
    for name, category in TYPES.items():
        created = client.post("/v1/event-types", json={"name": name, "category": category})
        assert created.status_code == 201, created.text


def _received_types(rx: Receiver, count: int) -> list[str]:
    got = rx.wait(count)
    time.sleep(0.3)  # nothing more than expected comes after
    assert len(rx.requests) == count
    return sorted(json.loads(r.body)["eventType"] for r in got)


def _publish_all(client: httpx.Client) -> None:
    for name in TYPES:
        publish(client, name, {"n": 1})


def test_a_category_without_event_types_takes_its_categorys_types(
    client: httpx.Client, catalog: None
) -> None:
    with Receiver() as payments, Receiver() as everything:
        create_webhook(client, payments.url, category="Payments")
        create_webhook(client, everything.url)
        _publish_all(client)
        assert _received_types(payments, 3) == [
            "payment.created",
            "payment.refund.failed",
            "paymentlink.created",
        ]
        assert _received_types(everything, 4) == sorted(TYPES)


def test_patterns_match_a_prefix_of_whole_segments(client: httpx.Client, catalog: None) -> None:
    with Receiver() as rx:
        create_webhook(client, rx.url, eventTypes=["payment.*"])
        _publish_all(client)
        assert _received_types(rx, 2) == ["payment.created", "payment.refund.failed"]


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"eventTypes": ["payment.created", "no.such.type"]}, "eventTypes[1]"),
        ({"eventTypes": ["booking.created"], "category": "Payments"}, "eventTypes[0]"),
        ({"eventTypes": ["payment.*", "nope"]}, "eventTypes[1]"),
    ],
)
def test_event_types_must_exist_and_be_of_the_category(
    client: httpx.Client, catalog: None, fields: dict[str, Any], field: str
) -> None:
    response = client.post("/v1/webhooks", json={"url": "https://example.com/hook", **fields})
    assert response.status_code == 422, response.text
    assert [d["field"] for d in response.json()["error"]["details"]] == [field]
    # The same rule on a change.
    hook = create_webhook(client, "https://example.com/ok", eventTypes=["payment.created"])
    patched = client.patch(f"/v1/webhooks/{hook['id']}", json=fields)
    assert patched.status_code == 422
    assert [d["field"] for d in patched.json()["error"]["details"]] == [field]


def test_a_category_limited_key_sees_and_changes_only_its_webhooks(
    client: httpx.Client, catalog: None
) -> None:
    payments = create_webhook(client, "https://example.com/p", category="Payments")
    booking = create_webhook(client, "https://example.com/b", category="Booking")
    plain = create_webhook(client, "https://example.com/any")
    limited = client.post(
        "/v1/api-keys",
        json={
            "type": "restricted",
            "permissions": {"webhooks": "write"},
            "categories": ["Booking"],
        },
    ).json()["key"]
    with httpx.Client(base_url=str(client.base_url), headers={"X-Api-Key": limited}) as own:
        assert [w["id"] for w in own.get("/v1/webhooks").json()["data"]] == [booking["id"]]
        for other in (payments, plain):
            assert own.get(f"/v1/webhooks/{other['id']}").status_code == 404
            assert (
                own.patch(f"/v1/webhooks/{other['id']}", json={"description": "x"}).status_code
                == 404
            )
            assert own.delete(f"/v1/webhooks/{other['id']}").status_code == 404
        assert (
            own.patch(f"/v1/webhooks/{booking['id']}", json={"description": "x"}).status_code == 200
        )
        moved = own.patch(f"/v1/webhooks/{booking['id']}", json={"category": "Payments"})
        assert moved.status_code == 403
        outside = own.post("/v1/webhooks", json={"url": "https://example.com/new"})
        assert outside.status_code == 403
        assert outside.json()["error"]["details"][0]["field"] == "category"
