"""What a key may do and what it may hand on: a key never grants more than the key that made
it; a publishable key only reads the catalog; a key limited to event-type categories (seed 000
keeps one per section: Token, Booking, Invoice, Checkout, Authorisation) publishes and reads
only events of its categories."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.databases import make_settings
from tests.support.partner import api_error, call, create_account, error_fields
from tests.support.server import RunningServer

NOWHERE = "http://127.0.0.1:9"
UNKNOWN_ID = "01HZZZZZZZZZZZZZZZZZZZZZZZ"

# Seed 000's sections, each with an event type of its own.
SECTIONS = {
    "Token": "token.created",
    "Booking": "booking.created",
    "Invoice": "invoice.paid",
    "Checkout": "checkout.completed",
    "Authorisation": "authorisation.approved",
}


class Keys:
    """Calls against the server with any key."""

    def __init__(self, server: RunningServer) -> None:
        self.base_url = server.base_url

    def call(
        self,
        key: str,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        **kw: Any,
    ) -> httpx.Response:
        return call(self.base_url, key, method, path, headers=headers, **kw)

    def create(self, by: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.call(by, "POST", "/v1/api-keys", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def ids(self, by: str) -> list[str]:
        response = self.call(by, "GET", "/v1/api-keys")
        assert response.status_code == 200, response.text
        return sorted(k["id"] for k in response.json()["data"])


@pytest.fixture
def keys(server: RunningServer) -> Keys:
    return Keys(server)


@pytest.fixture
def secret(account: dict[str, Any]) -> str:
    """The account's own secret key."""
    return str(account["key"])


def _refused_grant(response: httpx.Response, missing: str) -> None:
    """403 whose message and details name what the creating key lacks."""
    error = api_error(response, 403)
    assert error["type"] == "permission_error"
    assert missing in error["message"], error
    assert any(missing in str(d.get("message", "")) for d in error["details"]), error


# --- a key never grants more than its creator ----------------------------------------------

KEY_ADMIN = {"api_keys": "write", "webhooks": "read"}


@pytest.fixture
def key_admin(keys: Keys, secret: str) -> dict[str, Any]:
    """A restricted key that manages keys and reads webhooks, nothing else."""
    return keys.create(
        secret, {"name": "key admin", "type": "restricted", "permissions": KEY_ADMIN}
    )


def test_a_restricted_key_cannot_create_a_secret_key(
    keys: Keys, secret: str, key_admin: dict[str, Any]
) -> None:
    before = keys.ids(secret)
    for body in ({"name": "escalate"}, {"name": "escalate", "type": "secret"}):
        response = keys.call(key_admin["key"], "POST", "/v1/api-keys", json=body)
        error = api_error(response, 403)
        assert error["type"] == "permission_error"
        # It names a permission the creating key lacks.
        lacked = re.findall(r"\b([a-z_]+):(read|write)\b", error["message"])
        assert lacked, error
        for resource, level in lacked:
            assert resource not in KEY_ADMIN or (KEY_ADMIN[resource], level) == ("read", "write")
        assert "key" not in response.json()
    assert keys.ids(secret) == before


def test_a_restricted_key_cannot_grant_a_permission_it_lacks(
    keys: Keys, secret: str, key_admin: dict[str, Any]
) -> None:
    before = keys.ids(secret)
    for permissions, missing in (
        ({"webhooks": "write"}, "webhooks:write"),
        ({"webhooks": "read", "events": "read"}, "events:read"),
        ({"api_keys": "write", "logs": "read"}, "logs:read"),
        ({"pulls": "write"}, "pulls:write"),
    ):
        response = keys.call(
            key_admin["key"],
            "POST",
            "/v1/api-keys",
            json={"name": "wider", "type": "restricted", "permissions": permissions},
        )
        _refused_grant(response, missing)
    assert keys.ids(secret) == before


def test_a_restricted_key_cannot_create_a_publishable_key_without_catalog_read(
    keys: Keys, key_admin: dict[str, Any]
) -> None:
    response = keys.call(key_admin["key"], "POST", "/v1/api-keys", json={"type": "publishable"})
    _refused_grant(response, "event_types:read")


def test_a_restricted_key_can_create_a_key_within_its_own_permissions(
    keys: Keys, secret: str, key_admin: dict[str, Any]
) -> None:
    for permissions in ({"webhooks": "read"}, KEY_ADMIN, {"webhooks": "none"}):
        made = keys.create(
            key_admin["key"],
            {"name": "narrower", "type": "restricted", "permissions": permissions},
        )
        assert made["key"].startswith("rk_")
        assert made["type"] == "restricted"
        assert {r: lv for r, lv in made["permissions"].items() if lv != "none"} == {
            r: lv for r, lv in permissions.items() if lv != "none"
        }

    reader = keys.create(
        key_admin["key"],
        {"name": "reader", "type": "restricted", "permissions": {"webhooks": "read"}},
    )
    assert keys.call(reader["key"], "GET", "/v1/webhooks").status_code == 200
    write = keys.call(reader["key"], "POST", "/v1/webhooks", json={"url": NOWHERE})
    _refused_grant(write, "webhooks:write")
    # The new key cannot hand on what it never had either.
    again = keys.call(
        reader["key"],
        "POST",
        "/v1/api-keys",
        json={"type": "restricted", "permissions": {"webhooks": "read"}},
    )
    _refused_grant(again, "api_keys:write")


def test_a_restricted_key_cannot_roll_a_secret_key(
    keys: Keys, secret: str, key_admin: dict[str, Any]
) -> None:
    server_key = keys.create(secret, {"name": "server"})
    before = keys.ids(secret)
    response = keys.call(
        key_admin["key"], "POST", f"/v1/api-keys/{server_key['id']}/roll", json={"expiresIn": "1h"}
    )
    error = api_error(response, 403)
    assert error["type"] == "permission_error"
    assert re.search(r"\b[a-z_]+:(read|write)\b", error["message"]), error
    # The secret key is untouched: no new key, no expiry, still working.
    assert keys.ids(secret) == before
    shown = keys.call(secret, "GET", f"/v1/api-keys/{server_key['id']}").json()
    assert shown["status"] == "active"
    assert shown["expiresAt"] is None
    assert keys.call(server_key["key"], "GET", "/v1/webhooks").status_code == 200


def test_a_restricted_key_can_roll_a_key_within_its_permissions(
    keys: Keys, key_admin: dict[str, Any]
) -> None:
    reader = keys.create(
        key_admin["key"],
        {"name": "reader", "type": "restricted", "permissions": {"webhooks": "read"}},
    )
    response = keys.call(
        key_admin["key"], "POST", f"/v1/api-keys/{reader['id']}/roll", json={"expiresIn": "1h"}
    )
    assert response.status_code == 201, response.text
    assert response.json()["permissions"] == reader["permissions"]


# --- categories are part of the grant ------------------------------------------------------

BOOKING_ADMIN = {
    "name": "booking admin",
    "type": "restricted",
    "permissions": {"api_keys": "write", "events": "write", "event_types": "read"},
    "categories": ["Booking"],
}


@pytest.mark.parametrize(
    ("categories", "missing"),
    [
        (None, "categor"),
        (["Invoice"], "Invoice"),
        (["Booking", "Invoice"], "Invoice"),
        (["Token", "Checkout"], "Checkout"),
    ],
)
def test_a_category_limited_key_cannot_create_a_key_for_other_categories(
    keys: Keys, secret: str, categories: list[str] | None, missing: str
) -> None:
    booking = keys.create(secret, BOOKING_ADMIN)
    before = keys.ids(secret)
    body: dict[str, Any] = {"type": "restricted", "permissions": {"events": "write"}}
    if categories is not None:
        body["categories"] = categories
    response = keys.call(booking["key"], "POST", "/v1/api-keys", json=body)
    error = api_error(response, 403)
    assert error["type"] == "permission_error"
    assert missing in error["message"], error
    assert keys.ids(secret) == before


def test_a_category_limited_key_cannot_create_a_secret_key(keys: Keys, secret: str) -> None:
    booking = keys.create(secret, BOOKING_ADMIN)
    response = keys.call(booking["key"], "POST", "/v1/api-keys", json={"type": "secret"})
    assert api_error(response, 403)["type"] == "permission_error"


def test_a_category_limited_key_can_create_a_key_for_its_own_category(
    keys: Keys, secret: str
) -> None:
    booking = keys.create(secret, BOOKING_ADMIN)
    made = keys.create(
        booking["key"],
        {"type": "restricted", "permissions": {"events": "write"}, "categories": ["Booking"]},
    )
    assert made["categories"] == ["Booking"]
    rolled = keys.call(
        booking["key"], "POST", f"/v1/api-keys/{made['id']}/roll", json={"expiresIn": "now"}
    )
    assert rolled.status_code == 201, rolled.text
    assert rolled.json()["categories"] == ["Booking"]


# --- publishable keys ----------------------------------------------------------------------


@pytest.fixture
def catalog_setup(keys: Keys, secret: str) -> dict[str, str]:
    """An event type, a webhook, an event with its notification and a key: real ids for every
    path of the API."""
    made = keys.call(
        secret, "POST", "/v1/event-types", json={"name": "booking.created", "category": "Booking"}
    )
    assert made.status_code == 201, made.text
    hook = keys.call(secret, "POST", "/v1/webhooks", json={"url": f"{NOWHERE}/pk"})
    assert hook.status_code == 201, hook.text
    event = keys.call(
        secret,
        "POST",
        "/v1/events",
        json={"eventType": "booking.created", "eventData": {"bookingId": "b1"}},
    )
    assert event.status_code == 202, event.text
    notifications = event.json()["notifications"]
    assert notifications, event.text
    key = keys.create(secret, {"name": "other"})
    return {
        "name": "booking.created",
        "webhook_id": hook.json()["id"],
        "event_id": event.json()["id"],
        "notification_id": notifications[0]["id"],
        "key_id": key["id"],
        "log_id": event.headers.get("X-Request-Id", UNKNOWN_ID),
        "account_id": f"acc_{UNKNOWN_ID}",
    }


@pytest.fixture
def publishable(keys: Keys, secret: str) -> str:
    made = keys.create(secret, {"name": "storefront", "type": "publishable"})
    assert made["key"].startswith("pk_")
    assert made["type"] == "publishable"
    assert made["prefix"] == "pk_"
    return str(made["key"])


def test_a_publishable_key_reads_the_catalog(
    keys: Keys, publishable: str, catalog_setup: dict[str, str]
) -> None:
    listed = keys.call(publishable, "GET", "/v1/event-types")
    assert listed.status_code == 200, listed.text
    assert "booking.created" in [t["name"] for t in listed.json()["data"]]
    one = keys.call(publishable, "GET", "/v1/event-types/booking.created")
    assert one.status_code == 200, one.text
    assert one.json()["category"] == "Booking"


_RESOURCE_OF = {
    "api-keys": "api_keys",
    "event-types": "event_types",
    "webhooks": "webhooks",
    "events": "events",
    "test-events": "events",
    "notifications": "notifications",
    "logs": "logs",
    "sources": "sources",
    "pulls": "pulls",
}


def test_a_publishable_key_is_refused_everything_else(
    server: RunningServer, keys: Keys, secret: str, publishable: str, catalog_setup: dict[str, str]
) -> None:
    """Every operation the API documents, except reading the catalog, answers 403."""
    spec = httpx.get(f"{server.base_url}/openapi.json").json()
    before_hooks = keys.call(secret, "GET", "/v1/webhooks").json()
    before_keys = keys.ids(secret)
    checked: list[str] = []
    wrong: list[str] = []
    for template, operations in spec["paths"].items():
        if not template.startswith("/v1/"):
            continue
        path = re.sub(r"\{(\w+)\}", lambda m: catalog_setup.get(m.group(1), UNKNOWN_ID), template)
        for method in operations:
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            operation = f"{method.upper()} {template}"
            checked.append(operation)
            body = {} if method in ("post", "put", "patch") else None
            response = keys.call(publishable, method.upper(), path, json=body)
            if template.startswith("/v1/event-types") and method == "get":
                if response.status_code != 200:
                    wrong.append(f"{operation}: {response.status_code}, expected 200")
                continue
            if response.status_code != 403:
                wrong.append(f"{operation}: {response.status_code}, expected 403")
                continue
            error = response.json()["error"]
            resource = _RESOURCE_OF.get(template.split("/")[2])
            needed = f"{resource}:write" if method != "get" else f"{resource}:"
            if error["type"] != "permission_error":
                wrong.append(f"{operation}: error type {error['type']}")
            elif resource is not None and needed not in error["message"]:
                # (the operator's /v1/accounts names no permission)
                wrong.append(f"{operation}: {error['message']!r} does not name {needed}")
    assert wrong == [], "\n".join(wrong)
    # The table really covered the API.
    for operation in (
        "POST /v1/webhooks",
        "GET /v1/webhooks",
        "POST /v1/events",
        "GET /v1/events",
        "GET /v1/events/{event_id}",
        "POST /v1/event-types",
        "DELETE /v1/event-types/{name}",
        "POST /v1/api-keys",
        "GET /v1/notifications",
    ):
        assert operation in checked
    # And nothing changed.
    assert keys.call(secret, "GET", "/v1/webhooks").json() == before_hooks
    assert keys.ids(secret) == before_keys
    assert keys.call(secret, "GET", "/v1/event-types/booking.created").json()["archived"] is False


# --- the shape of a key --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"permissions": {"webhooks": "read"}}, "permissions"),
        ({"type": "secret", "permissions": {"webhooks": "read"}}, "permissions"),
        ({"type": "secret", "categories": ["Booking"]}, "categories"),
        ({"type": "publishable", "permissions": {"event_types": "read"}}, "permissions"),
        ({"type": "publishable", "categories": ["Booking"]}, "categories"),
        ({"type": "restricted"}, "permissions"),
        ({"type": "restricted", "permissions": None}, "permissions"),
        ({"type": "restricted", "categories": ["Booking"]}, "permissions"),
        ({"type": "restricted", "permissions": ["webhooks"]}, "permissions"),
        ({"type": "restricted", "permissions": {"webhooks": "admin"}}, "permissions.webhooks"),
        ({"type": "restricted", "permissions": {"webhooks": "READ"}}, "permissions.webhooks"),
        ({"type": "restricted", "permissions": {"events": True}}, "permissions.events"),
        ({"type": "restricted", "permissions": {"payments": "read"}}, "permissions.payments"),
        ({"type": "restricted", "permissions": {"accounts": "write"}}, "permissions.accounts"),
        (
            {"type": "restricted", "permissions": {"events": "read"}, "categories": "Booking"},
            "categories",
        ),
        (
            {"type": "restricted", "permissions": {"events": "read"}, "categories": [""]},
            "categories[0]",
        ),
    ],
)
def test_a_key_of_the_wrong_shape_is_422(
    keys: Keys, secret: str, body: dict[str, Any], field: str
) -> None:
    before = keys.ids(secret)
    response = keys.call(secret, "POST", "/v1/api-keys", json={"name": "odd", **body})
    error = api_error(response, 422)
    assert error["type"] == "validation_error"
    fields = error_fields(response)
    assert fields, error
    # The field named is the one at fault (an unknown resource may carry a key marker).
    assert all(f == field or f.startswith((field + ".", field + "[")) for f in fields), fields
    assert field.split(".")[0] in error["message"]
    assert keys.ids(secret) == before


# --- category-limited keys publish and read only their categories --------------------------


@pytest.fixture
def sections(keys: Keys, secret: str) -> dict[str, list[str]]:
    """One event type per seed-000 section and one event of each, published by the secret
    key: the ids of the events per category."""
    published: dict[str, list[str]] = {}
    for category, name in SECTIONS.items():
        made = keys.call(
            secret, "POST", "/v1/event-types", json={"name": name, "category": category}
        )
        assert made.status_code == 201, made.text
        event = keys.call(
            secret, "POST", "/v1/events", json={"eventType": name, "eventData": {"n": 1}}
        )
        assert event.status_code == 202, event.text
        published[category] = [event.json()["id"]]
    return published


def _event_ids(keys: Keys, key: str, query: str = "") -> list[str]:
    response = keys.call(key, "GET", f"/v1/events{query}")
    assert response.status_code == 200, response.text
    return sorted(e["id"] for e in response.json()["data"])


def test_a_booking_key_publishes_and_reads_booking_events_only(
    keys: Keys, secret: str, sections: dict[str, list[str]]
) -> None:
    booking = keys.create(
        secret,
        {
            "name": "Booking",
            "type": "restricted",
            "permissions": {"events": "write"},
            "categories": ["Booking"],
        },
    )["key"]

    ok = keys.call(
        booking, "POST", "/v1/events", json={"eventType": "booking.created", "eventData": {}}
    )
    assert ok.status_code == 202, ok.text
    assert ok.json()["eventType"] == "booking.created"

    before = _event_ids(keys, secret)
    refused = keys.call(
        booking, "POST", "/v1/events", json={"eventType": "invoice.paid", "eventData": {}}
    )
    error = api_error(refused, 403)
    assert error["type"] == "permission_error"
    assert error_fields(refused) == ["eventType"]
    assert "Booking" in error["message"]
    assert _event_ids(keys, secret) == before  # nothing was published

    # Reading: Booking events only, in the list and one by one.
    booking_events = sorted([*sections["Booking"], ok.json()["id"]])
    assert _event_ids(keys, booking) == booking_events
    assert _event_ids(keys, booking, "?eventType=invoice.paid") == []
    assert _event_ids(keys, booking, "?eventType=booking.created") == booking_events
    for invoice_event in sections["Invoice"]:
        hidden = keys.call(booking, "GET", f"/v1/events/{invoice_event}")
        assert api_error(hidden, 404)["type"] == "not_found"
    shown = keys.call(booking, "GET", f"/v1/events/{sections['Booking'][0]}")
    assert shown.status_code == 200, shown.text
    assert shown.json()["eventType"] == "booking.created"

    # The secret key still sees every event.
    everything = sorted(i for ids in sections.values() for i in ids)
    assert _event_ids(keys, secret) == sorted([*everything, ok.json()["id"]])


def test_a_booking_key_cannot_send_a_test_event_of_another_category(
    keys: Keys, secret: str, sections: dict[str, list[str]]
) -> None:
    hook = keys.call(secret, "POST", "/v1/webhooks", json={"url": f"{NOWHERE}/test-events"})
    assert hook.status_code == 201, hook.text
    booking = keys.create(
        secret,
        {
            "type": "restricted",
            "permissions": {"events": "write"},
            "categories": ["Booking"],
        },
    )["key"]
    refused = keys.call(
        booking,
        "POST",
        "/v1/test-events",
        json={"webhookIds": [hook.json()["id"]], "eventType": "invoice.paid", "eventData": {}},
    )
    assert api_error(refused, 403)["type"] == "permission_error"
    assert error_fields(refused) == ["eventType"]


def test_one_key_per_section(keys: Keys, secret: str, sections: dict[str, list[str]]) -> None:
    """Seed 000: a key per section; each publishes and reads its own section alone."""
    section_keys = {
        category: keys.create(
            secret,
            {
                "name": category,
                "type": "restricted",
                "permissions": {"events": "write"},
                "categories": [category],
            },
        )["key"]
        for category in SECTIONS
    }
    published = {category: list(ids) for category, ids in sections.items()}
    for category, key in section_keys.items():
        for other, event_type in SECTIONS.items():
            response = keys.call(
                key, "POST", "/v1/events", json={"eventType": event_type, "eventData": {}}
            )
            if other == category:
                assert response.status_code == 202, response.text
                published[category].append(response.json()["id"])
            else:
                assert response.status_code == 403, (category, event_type, response.text)
                assert error_fields(response) == ["eventType"]
    for category, key in section_keys.items():
        assert _event_ids(keys, key) == sorted(published[category]), category
        for other, ids in published.items():
            status = 200 if other == category else 404
            for event_id in ids:
                got = keys.call(key, "GET", f"/v1/events/{event_id}")
                assert got.status_code == status, (category, other, got.text)


def test_a_key_for_two_sections_reads_both(
    keys: Keys, secret: str, sections: dict[str, list[str]]
) -> None:
    both = keys.create(
        secret,
        {
            "type": "restricted",
            "permissions": {"events": "read"},
            "categories": ["Booking", "Invoice"],
        },
    )["key"]
    assert _event_ids(keys, both) == sorted(sections["Booking"] + sections["Invoice"])
    publish = keys.call(
        both, "POST", "/v1/events", json={"eventType": "booking.created", "eventData": {}}
    )
    _refused_grant(publish, "events:write")


def test_a_booking_key_does_not_see_invoice_notifications(keys: Keys, secret: str) -> None:
    """A notification is an event on its way to a webhook: a key limited to Booking that may
    read notifications sees those of Booking events only."""
    for category in ("Booking", "Invoice"):
        name = SECTIONS[category]
        made = keys.call(
            secret, "POST", "/v1/event-types", json={"name": name, "category": category}
        )
        assert made.status_code == 201, made.text
    hook = keys.call(secret, "POST", "/v1/webhooks", json={"url": f"{NOWHERE}/notifications"})
    assert hook.status_code == 201, hook.text
    notified = {}
    for category in ("Booking", "Invoice"):
        event = keys.call(
            secret, "POST", "/v1/events", json={"eventType": SECTIONS[category], "eventData": {}}
        )
        assert event.status_code == 202, event.text
        notified[category] = [n["id"] for n in event.json()["notifications"]]
        assert notified[category]
    booking = keys.create(
        secret,
        {
            "type": "restricted",
            "permissions": {"notifications": "read"},
            "categories": ["Booking"],
        },
    )["key"]
    listed = keys.call(booking, "GET", "/v1/notifications")
    assert listed.status_code == 200, listed.text
    assert sorted(n["id"] for n in listed.json()["data"]) == sorted(notified["Booking"])
    for notification_id in notified["Invoice"]:
        hidden = keys.call(booking, "GET", f"/v1/notifications/{notification_id}")
        assert hidden.status_code == 404, hidden.text


# --- an account's own event type hides the catalog's type of the same name -----------------


@pytest.fixture
def own_server(own_database: str, tmp_path: Path) -> Iterator[RunningServer]:
    """A server of its own: this test adds to the operator's global catalog."""
    with RunningServer(make_settings(own_database, tmp_path / "data")) as running:
        yield running


def test_categories_follow_the_accounts_own_event_type(own_server: RunningServer) -> None:
    """The account has its own ``stay.booked`` in Invoice; the operator's catalog later gets a
    ``stay.booked`` in Booking, which the account's own type hides. A Booking key neither
    publishes nor reads the account's ``stay.booked`` events."""
    keys = Keys(own_server)
    op = own_server.operator_key
    secret = create_account(own_server.base_url, op, "Own Types")["key"]
    own = keys.call(
        secret, "POST", "/v1/event-types", json={"name": "stay.booked", "category": "Invoice"}
    )
    assert own.status_code == 201, own.text
    made = keys.call(
        op, "POST", "/v1/event-types", json={"name": "stay.booked", "category": "Booking"}
    )
    assert made.status_code == 201, made.text
    assert keys.call(secret, "GET", "/v1/event-types/stay.booked").json()["category"] == "Invoice"

    event = keys.call(
        secret, "POST", "/v1/events", json={"eventType": "stay.booked", "eventData": {}}
    )
    assert event.status_code == 202, event.text
    booking = keys.create(
        secret,
        {"type": "restricted", "permissions": {"events": "write"}, "categories": ["Booking"]},
    )["key"]
    publish = keys.call(
        booking, "POST", "/v1/events", json={"eventType": "stay.booked", "eventData": {}}
    )
    assert publish.status_code == 403, publish.text
    # What it may not publish, it may not read either.
    assert _event_ids(keys, booking) == []
    assert keys.call(booking, "GET", f"/v1/events/{event.json()['id']}").status_code == 404
