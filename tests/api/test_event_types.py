"""The event-type catalog over HTTP: an account's own types, the operator's global catalog that
every account sees, archiving, and JSON Schemas that published events must match."""

from __future__ import annotations

import secrets
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.support.partner import api_error, error_fields, every_item, tidings_for

ORDER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["orderId", "items"],
    "properties": {
        "orderId": {"type": "string"},
        "amount": {"type": "number"},
        "status": {"enum": ["open", "paid"]},
        "items": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["sku"],
                "properties": {"sku": {"type": "string"}, "quantity": {"type": "integer"}},
            },
        },
    },
}
ORDER = {"orderId": "ord_1", "amount": 10.5, "status": "open", "items": [{"sku": "A-1"}]}


def _unique(prefix: str) -> str:
    """A name no other test uses: the global catalog is shared by the whole session."""
    return f"{prefix}.{secrets.token_hex(4)}"


def _create(client: httpx.Client, name: str, **fields: Any) -> dict[str, Any]:
    response = client.post("/v1/event-types", json={"name": name, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def _listed(client: httpx.Client, **params: Any) -> dict[str, dict[str, Any]]:
    """Every event type the caller's list shows, walking all pages, by name."""
    found: dict[str, dict[str, Any]] = {}
    for item in every_item(tidings_for(client).event_types.list(limit=250, **params)):
        assert item["name"] not in found, f"{item['name']} listed twice"
        found[item["name"]] = item
    return found


def _publish(client: httpx.Client, event_type: str, data: dict[str, Any]) -> httpx.Response:
    return client.post("/v1/events", json={"eventType": event_type, "eventData": data})


# --- create, read, list -----------------------------------------------------------------


def test_create_and_get(client: httpx.Client) -> None:
    response = client.post(
        "/v1/event-types",
        json={
            "name": "order.created",
            "category": "Orders",
            "description": "An order was placed",
            "schema": ORDER_SCHEMA,
        },
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["name"] == "order.created"
    assert created["category"] == "Orders"
    assert created["description"] == "An order was placed"
    assert created["schema"] == ORDER_SCHEMA
    assert created["archived"] is False
    assert created["scope"] == "account"
    for stamp in ("createdAt", "updatedAt"):
        assert created[stamp].endswith("Z")
        datetime.fromisoformat(created[stamp])

    fetched = client.get("/v1/event-types/order.created")
    assert fetched.status_code == 200, fetched.text
    assert fetched.json() == created


def test_create_with_only_a_name(client: httpx.Client) -> None:
    created = _create(client, "wallet.created")
    assert created["category"] is None
    assert created["description"] is None
    assert created["schema"] is None
    assert created["archived"] is False


def test_names_with_colons_dashes_and_underscores(client: httpx.Client) -> None:
    for name in ("ReportImported", "payment:v2", "booking-cancelled", "pay_out.failed_2"):
        assert _create(client, name)["name"] == name
        assert client.get(f"/v1/event-types/{name}").status_code == 200


def test_list_shows_the_accounts_types_across_pages(client: httpx.Client) -> None:
    names = {f"order.step{i}" for i in range(5)}
    for name in names:
        _create(client, name, category="Orders")
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = client.get("/v1/event-types", params=params).json()
        assert len(page["data"]) <= 2
        seen += [t["name"] for t in page["data"]]
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert len(seen) == len(set(seen))
    assert names <= set(seen)
    by_category = _listed(client, category="Orders")
    assert set(by_category) == names


@pytest.mark.parametrize("limit", [0, 251])
def test_list_limit_out_of_range_names_limit(client: httpx.Client, limit: int) -> None:
    assert error_fields(client.get("/v1/event-types", params={"limit": limit}), 422) == ["limit"]


def test_get_unknown_is_404(client: httpx.Client) -> None:
    assert api_error(client.get("/v1/event-types/no.such.type"), 404)["type"] == "not_found"


# --- replace and patch ------------------------------------------------------------------


def test_put_replaces_every_field(client: httpx.Client) -> None:
    _create(client, "order.created", category="Orders", description="old", schema=ORDER_SCHEMA)
    response = client.put("/v1/event-types/order.created", json={"category": "Sales"})
    assert response.status_code == 200, response.text
    replaced = response.json()
    assert replaced["name"] == "order.created"
    assert replaced["category"] == "Sales"
    assert replaced["description"] is None
    assert replaced["schema"] is None
    assert replaced["archived"] is False
    assert client.get("/v1/event-types/order.created").json() == replaced


def test_put_on_a_missing_name_creates_it(client: httpx.Client) -> None:
    response = client.put(
        "/v1/event-types/order.shipped",
        json={"category": "Orders", "description": "Left the warehouse", "schema": ORDER_SCHEMA},
    )
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["name"] == "order.shipped"
    assert created["schema"] == ORDER_SCHEMA
    assert created["scope"] == "account"
    assert client.get("/v1/event-types/order.shipped").json() == created
    # The same PUT again replaces, and says so with 200.
    again = client.put("/v1/event-types/order.shipped", json={"description": "Shipped"})
    assert again.status_code == 200, again.text
    assert again.json()["description"] == "Shipped"


def test_put_with_a_different_name_in_the_body_is_422(client: httpx.Client) -> None:
    response = client.put("/v1/event-types/order.created", json={"name": "order.deleted"})
    assert error_fields(response, 422) == ["name"]
    assert client.get("/v1/event-types/order.created").status_code == 404


def test_patch_changes_only_the_given_fields(client: httpx.Client) -> None:
    created = _create(
        client, "order.created", category="Orders", description="old", schema=ORDER_SCHEMA
    )
    response = client.patch("/v1/event-types/order.created", json={"description": "new"})
    assert response.status_code == 200, response.text
    patched = response.json()
    assert patched["description"] == "new"
    assert patched["category"] == created["category"]
    assert patched["schema"] == ORDER_SCHEMA
    assert patched["archived"] is False
    assert patched["createdAt"] == created["createdAt"]

    no_schema = client.patch("/v1/event-types/order.created", json={"schema": None}).json()
    assert no_schema["schema"] is None
    assert no_schema["description"] == "new"


def test_patch_unknown_is_404(client: httpx.Client) -> None:
    response = client.patch("/v1/event-types/no.such.type", json={"description": "x"})
    assert api_error(response, 404)["type"] == "not_found"


# --- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "nonsense"},
        {"type": "object", "required": "orderId"},
        {"properties": {"amount": {"minimum": "ten"}}},
    ],
)
def test_invalid_json_schema_is_422_naming_schema(client: httpx.Client, schema: Any) -> None:
    response = client.post("/v1/event-types", json={"name": "order.created", "schema": schema})
    error = api_error(response, 422)
    assert error["type"] == "validation_error"
    assert [d["field"] for d in error["details"]] == ["schema"]
    assert client.get("/v1/event-types/order.created").status_code == 404


def test_invalid_json_schema_on_put_and_patch_is_422(client: httpx.Client) -> None:
    _create(client, "order.created", schema=ORDER_SCHEMA)
    bad = {"type": "nonsense"}
    assert error_fields(client.put("/v1/event-types/order.created", json={"schema": bad}), 422) == [
        "schema"
    ]
    assert error_fields(
        client.patch("/v1/event-types/order.created", json={"schema": bad}), 422
    ) == ["schema"]
    assert error_fields(client.put("/v1/event-types/order.new", json={"schema": bad}), 422) == [
        "schema"
    ]
    assert client.get("/v1/event-types/order.created").json()["schema"] == ORDER_SCHEMA
    assert client.get("/v1/event-types/order.new").status_code == 404


@pytest.mark.parametrize(
    "schema",
    [
        {"$ref": "#/$defs/missing"},
        {"type": "object", "properties": {"a": {"$ref": "#/$defs/nowhere"}}},
        # Tidings must not fetch schemas from the network (SSRF), so it cannot resolve this.
        {"$ref": "https://schemas.example.com/order.json"},
    ],
)
def test_schema_with_a_ref_that_cannot_resolve_is_422_naming_schema(
    client: httpx.Client, schema: dict[str, Any]
) -> None:
    """A schema Tidings could never apply is refused when it is given, not at publish time."""
    response = client.post("/v1/event-types", json={"name": "order.created", "schema": schema})
    assert error_fields(response, 422) == ["schema"]


def test_publishing_never_500s_on_a_stored_schema(client: httpx.Client) -> None:
    """Whatever schema was accepted, publishing answers 202 or a 4xx."""
    created = client.post(
        "/v1/event-types", json={"name": "order.created", "schema": {"$ref": "#/$defs/missing"}}
    )
    if created.status_code == 201:
        response = _publish(client, "order.created", ORDER)
        assert response.status_code in (202, 422), response.text


def test_schema_with_local_refs_works(client: httpx.Client) -> None:
    schema = {
        "$defs": {"sku": {"type": "string", "minLength": 1}},
        "type": "object",
        "properties": {"items": {"type": "array", "items": {"$ref": "#/$defs/sku"}}},
    }
    _create(client, "order.created", schema=schema)
    assert _publish(client, "order.created", {"items": ["A-1"]}).status_code == 202
    assert error_fields(_publish(client, "order.created", {"items": ["A-1", ""]}), 422) == [
        "eventData.items[1]"
    ]


def test_schema_that_is_not_an_object_is_422(client: httpx.Client) -> None:
    response = client.post("/v1/event-types", json={"name": "order.created", "schema": "string"})
    assert error_fields(response, 422) == ["schema"]


@pytest.mark.parametrize(
    "name", ["payment updated", "-payment", ".payment", "", "pay/ment", "a" * 257, "päyment"]
)
def test_invalid_name_is_422_naming_name(client: httpx.Client, name: str) -> None:
    assert error_fields(client.post("/v1/event-types", json={"name": name}), 422) == ["name"]


def test_put_with_an_invalid_name_in_the_path_is_422(client: httpx.Client) -> None:
    assert error_fields(client.put("/v1/event-types/payment updated", json={}), 422) == ["name"]
    assert error_fields(client.put("/v1/event-types/-payment", json={}), 422) == ["name"]


def test_nul_in_a_name_is_404_never_a_500(client: httpx.Client) -> None:
    assert api_error(client.get("/v1/event-types/a%00b"), 404)["type"] == "not_found"
    assert api_error(client.patch("/v1/event-types/a%00b", json={}), 404)["type"] == "not_found"
    # No event type can have such a name, so even PUT (which creates) finds nothing to address.
    assert api_error(client.put("/v1/event-types/a%00b", json={}), 404)["type"] == "not_found"


def test_nul_in_description_is_stored_or_refused_never_a_500(client: httpx.Client) -> None:
    response = client.post(
        "/v1/event-types", json={"name": "order.created", "description": "a\x00b"}
    )
    if response.status_code == 201:
        fetched = client.get("/v1/event-types/order.created").json()
        assert fetched["description"] == "a\x00b"
    else:
        assert error_fields(response, 422) == ["description"]


def test_missing_name_is_422_naming_name(client: httpx.Client) -> None:
    assert error_fields(client.post("/v1/event-types", json={"category": "Orders"}), 422) == [
        "name"
    ]


def test_unknown_field_is_422_naming_it(client: httpx.Client) -> None:
    response = client.post("/v1/event-types", json={"name": "order.created", "version": 2})
    assert error_fields(response, 422) == ["version"]
    _create(client, "order.created")
    assert error_fields(
        client.patch("/v1/event-types/order.created", json={"version": 2}), 422
    ) == ["version"]


def test_duplicate_name_is_409(client: httpx.Client) -> None:
    _create(client, "order.created", description="first")
    response = client.post("/v1/event-types", json={"name": "order.created"})
    error = api_error(response, 409)
    assert error["type"] == "conflict"
    assert [d["field"] for d in error["details"]] == ["name"]
    assert client.get("/v1/event-types/order.created").json()["description"] == "first"


def test_duplicate_of_an_archived_name_is_409(client: httpx.Client) -> None:
    _create(client, "order.created")
    assert client.delete("/v1/event-types/order.created").status_code == 204
    api_error(client.post("/v1/event-types", json={"name": "order.created"}), 409)


# --- archive ----------------------------------------------------------------------------


def test_archive_hides_from_list_blocks_publishing_and_patch_restores(
    client: httpx.Client,
) -> None:
    _create(client, "order.created", schema=ORDER_SCHEMA)
    _create(client, "order.kept")
    assert _publish(client, "order.created", ORDER).status_code == 202

    deleted = client.delete("/v1/event-types/order.created")
    assert deleted.status_code == 204
    assert deleted.content == b""

    listed = _listed(client)
    assert "order.created" not in listed
    assert "order.kept" in listed
    with_archived = _listed(client, include_archived=True)
    assert with_archived["order.created"]["archived"] is True
    assert "order.kept" in with_archived

    fetched = client.get("/v1/event-types/order.created")
    assert fetched.status_code == 200
    assert fetched.json()["archived"] is True
    assert fetched.json()["schema"] == ORDER_SCHEMA

    refused = _publish(client, "order.created", ORDER)
    error = api_error(refused, 422)
    assert [d["field"] for d in error["details"]] == ["eventType"]
    assert "archived" in error["message"]

    restored = client.patch("/v1/event-types/order.created", json={"archived": False})
    assert restored.status_code == 200, restored.text
    assert restored.json()["archived"] is False
    assert restored.json()["schema"] == ORDER_SCHEMA
    assert "order.created" in _listed(client)
    assert _publish(client, "order.created", ORDER).status_code == 202


def test_put_without_archived_restores_an_archived_type(client: httpx.Client) -> None:
    _create(client, "order.created")
    client.delete("/v1/event-types/order.created")
    replaced = client.put("/v1/event-types/order.created", json={"description": "back"})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["archived"] is False


def test_delete_unknown_is_404(client: httpx.Client) -> None:
    assert client.delete("/v1/event-types/no.such.type").status_code == 404


# --- the operator's global catalog ------------------------------------------------------


def test_operator_catalog_is_seen_by_every_account(
    operator: httpx.Client, client: httpx.Client, other_client: httpx.Client
) -> None:
    name = _unique("catalog.payment")
    response = operator.post(
        "/v1/event-types",
        json={"name": name, "category": "Payments", "schema": {"type": "object"}},
    )
    assert response.status_code == 201, response.text
    assert response.json()["scope"] == "global"

    for account_client in (client, other_client):
        listed = _listed(account_client)
        assert listed[name]["scope"] == "global"
        assert listed[name]["category"] == "Payments"
        fetched = account_client.get(f"/v1/event-types/{name}")
        assert fetched.status_code == 200
        assert fetched.json()["scope"] == "global"
        published = _publish(account_client, name, {"anything": 1})
        assert published.status_code == 202, published.text
    assert _listed(operator)[name]["scope"] == "global"


def test_operator_edits_and_archives_the_global_catalog(
    operator: httpx.Client, client: httpx.Client
) -> None:
    name = _unique("catalog.refund")
    _create(operator, name, description="old")
    patched = operator.patch(f"/v1/event-types/{name}", json={"description": "new"})
    assert patched.status_code == 200, patched.text
    assert client.get(f"/v1/event-types/{name}").json()["description"] == "new"

    replaced = operator.put(f"/v1/event-types/{name}", json={"category": "Refunds"})
    assert replaced.status_code == 200, replaced.text
    assert client.get(f"/v1/event-types/{name}").json()["category"] == "Refunds"

    assert operator.delete(f"/v1/event-types/{name}").status_code == 204
    assert name not in _listed(client)
    assert client.get(f"/v1/event-types/{name}").json()["archived"] is True
    assert error_fields(_publish(client, name, {}), 422) == ["eventType"]

    assert operator.patch(f"/v1/event-types/{name}", json={"archived": False}).status_code == 200
    assert name in _listed(client)
    assert _publish(client, name, {}).status_code == 202


def test_operator_put_on_a_missing_name_creates_a_global_type(
    operator: httpx.Client, client: httpx.Client
) -> None:
    name = _unique("catalog.put")
    response = operator.put(f"/v1/event-types/{name}", json={"description": "via PUT"})
    assert response.status_code == 201, response.text
    assert response.json()["scope"] == "global"
    assert client.get(f"/v1/event-types/{name}").json()["scope"] == "global"


def test_account_cannot_modify_a_global_type(operator: httpx.Client, client: httpx.Client) -> None:
    name = _unique("catalog.locked")
    original = _create(operator, name, description="the operator's", schema=ORDER_SCHEMA)
    attempts = [
        client.put(f"/v1/event-types/{name}", json={"description": "mine now"}),
        client.patch(f"/v1/event-types/{name}", json={"description": "mine now"}),
        client.patch(f"/v1/event-types/{name}", json={"schema": None}),
        client.delete(f"/v1/event-types/{name}"),
    ]
    for response in attempts:
        assert api_error(response, 403)["type"] == "permission_error"
    assert operator.get(f"/v1/event-types/{name}").json() == original
    assert client.get(f"/v1/event-types/{name}").json() == original


def test_operator_catalog_does_not_list_account_types(
    operator: httpx.Client, client: httpx.Client
) -> None:
    own = _unique("account.only")
    _create(client, own)
    assert own not in _listed(operator)
    assert operator.get(f"/v1/event-types/{own}").status_code == 404


def test_operator_acting_for_an_account_edits_that_accounts_types(
    operator: httpx.Client,
    client: httpx.Client,
    other_client: httpx.Client,
    account: dict[str, Any],
) -> None:
    name = _unique("acting.for")
    response = operator.post(
        "/v1/event-types", json={"name": name}, headers={"Tidings-Account": account["id"]}
    )
    assert response.status_code == 201, response.text
    assert response.json()["scope"] == "account"
    assert client.get(f"/v1/event-types/{name}").json()["scope"] == "account"
    assert other_client.get(f"/v1/event-types/{name}").status_code == 404


# --- accounts are isolated --------------------------------------------------------------


def test_account_type_is_invisible_to_another_account(
    client: httpx.Client, other_client: httpx.Client
) -> None:
    _create(client, "order.created", schema=ORDER_SCHEMA)
    assert api_error(other_client.get("/v1/event-types/order.created"), 404)["type"] == "not_found"
    assert "order.created" not in _listed(other_client, include_archived=True)
    patched = other_client.patch("/v1/event-types/order.created", json={"description": "x"})
    assert api_error(patched, 404)["type"] == "not_found"
    assert (
        api_error(other_client.delete("/v1/event-types/order.created"), 404)["type"] == "not_found"
    )
    # A PUT from the other account creates that account's own type, leaving this one alone.
    put = other_client.put("/v1/event-types/order.created", json={"description": "theirs"})
    assert put.status_code == 201, put.text
    mine = client.get("/v1/event-types/order.created").json()
    assert mine["schema"] == ORDER_SCHEMA
    assert mine["description"] is None
    assert mine["archived"] is False


def test_other_account_cannot_publish_to_an_account_type(
    client: httpx.Client, other_client: httpx.Client
) -> None:
    _create(client, "order.created")
    assert error_fields(_publish(other_client, "order.created", ORDER), 422) == ["eventType"]


def test_two_accounts_may_use_the_same_name(
    client: httpx.Client, other_client: httpx.Client
) -> None:
    mine = _create(client, "order.created", description="mine")
    theirs = _create(other_client, "order.created", description="theirs")
    assert mine["description"] == "mine"
    assert theirs["description"] == "theirs"
    assert client.get("/v1/event-types/order.created").json()["description"] == "mine"
    assert other_client.get("/v1/event-types/order.created").json()["description"] == "theirs"


# --- publishing against the schema ------------------------------------------------------


def test_publishing_data_that_matches_the_schema_is_accepted(client: httpx.Client) -> None:
    _create(client, "order.created", schema=ORDER_SCHEMA)
    response = _publish(client, "order.created", ORDER)
    assert response.status_code == 202, response.text
    assert response.json()["eventData"] == ORDER


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({**ORDER, "amount": "ten"}, "eventData.amount"),
        ({**ORDER, "status": "refunded"}, "eventData.status"),
        ({**ORDER, "items": [{"sku": "A-1"}, {"sku": 42}]}, "eventData.items[1].sku"),
        ({**ORDER, "items": [{"sku": "A-1", "quantity": 1.5}]}, "eventData.items[0].quantity"),
        ({**ORDER, "items": {"sku": "A-1"}}, "eventData.items"),
    ],
)
def test_data_failing_the_schema_is_422_naming_the_path(
    client: httpx.Client, data: dict[str, Any], path: str
) -> None:
    _create(client, "order.created", schema=ORDER_SCHEMA)
    response = _publish(client, "order.created", data)
    error = api_error(response, 422)
    assert error["type"] == "validation_error"
    assert path in error["message"]
    assert error["details"][0]["field"] == path
    assert error["details"][0]["message"]
    # Nothing was published.
    events = client.get("/v1/events", params={"eventType": "order.created"}).json()["data"]
    assert events == []


def test_missing_required_property_is_422_naming_it(client: httpx.Client) -> None:
    _create(client, "order.created", schema=ORDER_SCHEMA)
    data = {k: v for k, v in ORDER.items() if k != "orderId"}
    error = api_error(_publish(client, "order.created", data), 422)
    assert "orderId" in error["message"]
    assert error["details"][0]["field"].startswith("eventData")
    assert "orderId" in error["details"][0]["message"]


def test_type_without_schema_accepts_any_object(client: httpx.Client) -> None:
    _create(client, "note.added")
    assert _publish(client, "note.added", {"free": ["form", 1, None]}).status_code == 202


def test_schema_change_applies_to_the_next_publish(client: httpx.Client) -> None:
    _create(client, "order.created")
    assert _publish(client, "order.created", {"orderId": 1}).status_code == 202
    patched = client.patch("/v1/event-types/order.created", json={"schema": ORDER_SCHEMA})
    assert patched.status_code == 200, patched.text
    assert error_fields(_publish(client, "order.created", {"orderId": 1, "items": []}), 422) == [
        "eventData.orderId"
    ]


def test_global_type_schema_is_enforced_for_accounts(
    operator: httpx.Client, client: httpx.Client
) -> None:
    name = _unique("catalog.order")
    _create(operator, name, schema=ORDER_SCHEMA)
    assert _publish(client, name, ORDER).status_code == 202
    bad = {**ORDER, "items": [{"sku": "A-1"}, {"sku": 42}]}
    assert error_fields(_publish(client, name, bad), 422) == ["eventData.items[1].sku"]


def test_publishing_to_an_unknown_type_is_422_naming_event_type(client: httpx.Client) -> None:
    assert error_fields(_publish(client, "no.such.type", {}), 422) == ["eventType"]


def test_own_type_hides_a_catalog_type_of_the_same_name(
    client: httpx.Client, operator: httpx.Client
) -> None:
    name = f"shadow.{secrets.token_hex(4)}"
    assert client.post("/v1/event-types", json={"name": name, "category": "Own"}).status_code == 201
    catalog = operator.post("/v1/event-types", json={"name": name, "category": "Catalog"})
    assert catalog.status_code == 201
    listed = [t for t in client.get("/v1/event-types", params={"limit": 250}).json()["data"]]
    matching = [t for t in listed if t["name"] == name]
    assert [(t["scope"], t["category"]) for t in matching] == [("account", "Own")]
    assert client.get(f"/v1/event-types/{name}").json()["category"] == "Own"
