"""Categories that route (seed 000: each endpoint is set up under one category and picks its
events from that category's list) and ``prefix.*`` patterns."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from tidings_client import ForbiddenError, NotFoundError, Tidings, ValidationError

from tests.support.partner import create_webhook, publish, tidings_at
from tests.support.receiver import Receiver

TYPES = {
    "payment.created": "Payments",
    "payment.refund.failed": "Payments",
    "paymentlink.created": "Payments",
    "booking.created": "Booking",
}


@pytest.fixture
def catalog(partner: Tidings) -> None:
    for name, category in TYPES.items():
        partner.event_types.create(name, category=category)


def _received_types(rx: Receiver, count: int) -> list[str]:
    got = rx.wait(count)
    time.sleep(0.3)  # nothing more than expected comes after
    assert len(rx.requests) == count
    return sorted(json.loads(r.body)["eventType"] for r in got)


def _publish_all(partner: Tidings) -> None:
    for name in TYPES:
        publish(partner, name, {"n": 1})


def test_a_category_without_event_types_takes_its_categorys_types(
    partner: Tidings, catalog: None
) -> None:
    with Receiver() as payments, Receiver() as everything:
        create_webhook(partner, payments.url, category="Payments")
        create_webhook(partner, everything.url)
        _publish_all(partner)
        assert _received_types(payments, 3) == [
            "payment.created",
            "payment.refund.failed",
            "paymentlink.created",
        ]
        assert _received_types(everything, 4) == sorted(TYPES)


def test_patterns_match_a_prefix_of_whole_segments(partner: Tidings, catalog: None) -> None:
    with Receiver() as rx:
        create_webhook(partner, rx.url, event_types=["payment.*"])
        _publish_all(partner)
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
    partner: Tidings, catalog: None, fields: dict[str, Any], field: str
) -> None:
    with pytest.raises(ValidationError) as created:
        partner.webhooks.create("https://example.com/hook", **fields)
    assert [d["field"] for d in created.value.details] == [field]
    # The same rule on a change.
    hook = create_webhook(partner, "https://example.com/ok", event_types=["payment.created"])
    with pytest.raises(ValidationError) as patched:
        partner.webhooks.update(hook["id"], **fields)
    assert [d["field"] for d in patched.value.details] == [field]


def test_a_category_limited_key_sees_and_changes_only_its_webhooks(
    partner: Tidings, catalog: None
) -> None:
    payments = create_webhook(partner, "https://example.com/p", category="Payments")
    booking = create_webhook(partner, "https://example.com/b", category="Booking")
    plain = create_webhook(partner, "https://example.com/any")
    limited = partner.api_keys.create(
        type="restricted", permissions={"webhooks": "write"}, categories=["Booking"]
    )["key"]
    with tidings_at(partner.base_url, limited) as own:
        assert [w["id"] for w in own.webhooks.list()] == [booking["id"]]
        for other in (payments, plain):
            with pytest.raises(NotFoundError):
                own.webhooks.get(other["id"])
            with pytest.raises(NotFoundError):
                own.webhooks.update(other["id"], description="x")
            with pytest.raises(NotFoundError):
                own.webhooks.delete(other["id"])
        assert own.webhooks.update(booking["id"], description="x")["description"] == "x"
        with pytest.raises(ForbiddenError):
            own.webhooks.update(booking["id"], category="Payments")
        with pytest.raises(ForbiddenError) as outside:
            own.webhooks.create("https://example.com/new")
        assert outside.value.details[0]["field"] == "category"
