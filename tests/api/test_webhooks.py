"""The webhook resource over HTTP: create, read, list, replace, patch, enable and disable,
delete, the signing secret, masked header values and the checks that keep bad input out."""

from __future__ import annotations

import base64
import time
from datetime import datetime
from typing import Any

import httpx
import pytest

from tests.support.partner import (
    SEED_001_CREATE,
    add_event_type,
    api_error,
    error_fields,
    every_item,
    tidings_for,
)
from tests.support.receiver import Receiver

URL = "https://hooks.example.com/tidings"
# Long enough that a mask may keep its last four characters, never the rest.
PARTNER_SECRET = "X-Test-Partner-Secret1-value"
SHORT_SECRET = "s3cr3t"


@pytest.fixture(autouse=True)
def _catalog(client: httpx.Client, event_type: str) -> None:
    """The event types this file's webhooks subscribe to: a webhook names existing types."""
    for name in ("ReportImported", "AccountCreated", "TransactionsImported"):
        add_event_type(client, name)


def _create(client: httpx.Client, url: str = URL, **fields: Any) -> dict[str, Any]:
    response = client.post("/v1/webhooks", json={"url": url, **fields})
    assert response.status_code == 201, response.text
    return response.json()


def _list_all(client: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    return every_item(tidings_for(client).webhooks.list(limit=250, **params))


# --- create -----------------------------------------------------------------------------


def test_create_gives_every_field_with_defaults(client: httpx.Client) -> None:
    response = client.post("/v1/webhooks", json={"url": URL})
    assert response.status_code == 201, response.text
    hook = response.json()
    assert hook["id"].startswith("wh_")
    assert hook["url"] == URL
    assert hook["eventTypes"] == []
    assert hook["description"] is None
    assert hook["category"] is None
    assert hook["headers"] == {}
    assert hook["sslVerificationDisabled"] is False
    assert hook["status"] == "Active"
    assert hook["disabledReason"] is None
    for stamp in ("createdAt", "lastModifiedAt"):
        assert hook[stamp].endswith("Z")
        datetime.fromisoformat(hook[stamp])
    assert hook["createdAt"] == hook["lastModifiedAt"]


def test_create_gives_a_standard_webhooks_secret(client: httpx.Client) -> None:
    hook = _create(client)
    secret = hook["secret"]
    assert secret.startswith("whsec_")
    assert len(base64.b64decode(secret.removeprefix("whsec_"), validate=True)) >= 24
    # Each webhook has its own secret.
    assert _create(client, URL + "/2")["secret"] != secret


def test_create_accepts_the_seed_001_body(client: httpx.Client) -> None:
    response = client.post("/v1/webhooks", json=SEED_001_CREATE)
    assert response.status_code == 201, response.text
    hook = response.json()
    assert hook["url"] == SEED_001_CREATE["url"]
    assert hook["eventTypes"] == ["ReportImported", "AccountCreated"]
    assert hook["sslVerificationDisabled"] is True
    assert hook["status"] == "Disabled"
    assert set(hook["headers"]) == {"X-Partner-Secret1", "X-Partner-Secret2"}
    for key in (
        "id",
        "url",
        "eventTypes",
        "description",
        "category",
        "headers",
        "sslVerificationDisabled",
        "status",
        "disabledReason",
        "createdAt",
        "lastModifiedAt",
        "secret",
    ):
        assert key in hook
    fetched = client.get(f"/v1/webhooks/{hook['id']}").json()
    assert fetched["status"] == "Disabled"
    assert fetched["sslVerificationDisabled"] is True


def test_create_keeps_description_and_category(client: httpx.Client) -> None:
    hook = _create(client, description="Payments to the ledger", category="Payments")
    fetched = client.get(f"/v1/webhooks/{hook['id']}").json()
    assert fetched["description"] == "Payments to the ledger"
    assert fetched["category"] == "Payments"


# --- masking of header values -----------------------------------------------------------


def test_header_values_are_masked_in_every_response(client: httpx.Client) -> None:
    headers = {"X-Partner-Secret1": PARTNER_SECRET, "X-Short": SHORT_SECRET}
    created = client.post("/v1/webhooks", json={"url": URL, "headers": headers})
    assert created.status_code == 201, created.text
    hook_id = created.json()["id"]
    responses = [
        created,
        client.get(f"/v1/webhooks/{hook_id}"),
        client.get("/v1/webhooks"),
        client.patch(f"/v1/webhooks/{hook_id}", json={"description": "masked"}),
        client.post(f"/v1/webhooks/{hook_id}/disable"),
        client.post(f"/v1/webhooks/{hook_id}/enable"),
        client.put(
            f"/v1/webhooks/{hook_id}", json={"url": URL, "eventTypes": [], "headers": headers}
        ),
    ]
    for response in responses:
        assert response.status_code in (200, 201), response.text
        assert PARTNER_SECRET not in response.text
        assert SHORT_SECRET not in response.text
    masked = client.get(f"/v1/webhooks/{hook_id}").json()["headers"]
    # The names are kept so a partner sees which headers are set; the values are not shown.
    assert set(masked) == {"X-Partner-Secret1", "X-Short"}
    assert masked["X-Partner-Secret1"] != PARTNER_SECRET
    assert masked["X-Short"] != SHORT_SECRET


def test_put_with_masked_values_keeps_the_stored_ones(
    client: httpx.Client, event_type: str
) -> None:
    """A partner GETs the webhook, changes one thing and PUTs the whole body back: the masked
    header values it sends back must not replace the real ones."""
    with Receiver() as rx:
        hook = _create(
            client,
            rx.url,
            headers={"X-Partner-Secret1": PARTNER_SECRET, "X-Short": SHORT_SECRET},
        )
        fetched = client.get(f"/v1/webhooks/{hook['id']}").json()
        body = {
            "url": fetched["url"],
            "eventTypes": fetched["eventTypes"],
            "headers": fetched["headers"],  # masked, as the API showed them
            "description": "now with a description",
            "sslVerificationDisabled": fetched["sslVerificationDisabled"],
            "status": fetched["status"],
        }
        replaced = client.put(f"/v1/webhooks/{hook['id']}", json=body)
        assert replaced.status_code == 200, replaced.text
        assert replaced.json()["headers"] == fetched["headers"]
        assert replaced.json()["description"] == "now with a description"

        published = client.post(
            "/v1/events",
            json={"eventType": event_type, "eventData": {"paymentId": "p1", "status": "pending"}},
        )
        assert published.status_code == 202, published.text
        [got] = rx.wait(1)
    headers = {k.lower(): v for k, v in got.headers.items()}
    assert headers["x-partner-secret1"] == PARTNER_SECRET
    assert headers["x-short"] == SHORT_SECRET


def test_patch_with_a_new_header_value_replaces_it(client: httpx.Client, event_type: str) -> None:
    with Receiver() as rx:
        hook = _create(client, rx.url, headers={"X-Partner-Secret1": PARTNER_SECRET})
        patched = client.patch(
            f"/v1/webhooks/{hook['id']}",
            json={"headers": {"X-Partner-Secret1": "X-Test-Partner-Secret1_new_value"}},
        )
        assert patched.status_code == 200, patched.text
        assert "X-Test-Partner-Secret1_new_value" not in patched.text
        published = client.post(
            "/v1/events",
            json={"eventType": event_type, "eventData": {"paymentId": "p1", "status": "pending"}},
        )
        assert published.status_code == 202, published.text
        [got] = rx.wait(1)
    headers = {k.lower(): v for k, v in got.headers.items()}
    assert headers["x-partner-secret1"] == "X-Test-Partner-Secret1_new_value"


def test_url_credentials_are_masked_in_every_response(client: httpx.Client) -> None:
    """DESIGN §5: URL user/password are secret-bearing and masked in every response."""
    password = "hunter2-basic-auth-password"
    created = client.post(
        "/v1/webhooks", json={"url": f"https://partner:{password}@hooks.example.com/basic"}
    )
    assert created.status_code == 201, created.text
    hook_id = created.json()["id"]
    for response in (
        created,
        client.get(f"/v1/webhooks/{hook_id}"),
        client.get("/v1/webhooks"),
        client.patch(f"/v1/webhooks/{hook_id}", json={"description": "basic auth"}),
    ):
        assert response.status_code in (200, 201), response.text
        assert password not in response.text
    assert "hooks.example.com/basic" in client.get(f"/v1/webhooks/{hook_id}").json()["url"]


# --- read and list ----------------------------------------------------------------------


def test_get_returns_what_create_returned_without_the_secret(client: httpx.Client) -> None:
    hook = _create(client, eventTypes=["payment.updated"], category="Payments")
    response = client.get(f"/v1/webhooks/{hook['id']}")
    assert response.status_code == 200, response.text
    fetched = response.json()
    assert fetched == {k: v for k, v in hook.items() if k != "secret"}
    # The secret is shown only on explicit request.
    assert hook["secret"] not in response.text


def test_get_unknown_webhook_is_404(client: httpx.Client) -> None:
    error = api_error(client.get("/v1/webhooks/wh_doesnotexist"), 404)
    assert error["type"] == "not_found"


def test_list_walks_every_page_with_the_cursor(client: httpx.Client) -> None:
    created = {_create(client, f"{URL}/{i}")["id"] for i in range(5)}
    seen: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"limit": 2}
        if cursor:
            params["cursor"] = cursor
        response = client.get("/v1/webhooks", params=params)
        assert response.status_code == 200, response.text
        page = response.json()
        assert set(page) == {"data", "nextCursor"}
        assert len(page["data"]) <= 2
        seen += [h["id"] for h in page["data"]]
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
        assert pages < 10, "the cursor never ran out"
    assert len(seen) == len(set(seen)), "a webhook appeared on two pages"
    assert set(seen) == created
    assert pages == 3


def test_list_default_page_holds_all_of_a_few(client: httpx.Client) -> None:
    created = {_create(client, f"{URL}/{i}")["id"] for i in range(3)}
    page = client.get("/v1/webhooks").json()
    assert {h["id"] for h in page["data"]} == created
    assert page["nextCursor"] is None


@pytest.mark.parametrize("limit", [0, 251, -1])
def test_list_limit_out_of_range_names_limit(client: httpx.Client, limit: int) -> None:
    response = client.get("/v1/webhooks", params={"limit": limit})
    assert error_fields(response, 422) == ["limit"]


def test_list_limit_250_is_allowed(client: httpx.Client) -> None:
    assert client.get("/v1/webhooks", params={"limit": 250}).status_code == 200


def test_list_filters_by_status(client: httpx.Client) -> None:
    active = _create(client, f"{URL}/active")
    disabled = _create(client, f"{URL}/disabled", status="Disabled")
    assert [h["id"] for h in _list_all(client, status="Disabled")] == [disabled["id"]]
    assert [h["id"] for h in _list_all(client, status="Active")] == [active["id"]]


# --- replace and patch ------------------------------------------------------------------


def test_put_replaces_every_field_and_omitted_ones_take_defaults(client: httpx.Client) -> None:
    hook = _create(
        client,
        eventTypes=["payment.updated"],
        description="old",
        category="Payments",
        headers={"X-Partner-Secret1": PARTNER_SECRET},
        sslVerificationDisabled=True,
        status="Disabled",
    )
    response = client.put(
        f"/v1/webhooks/{hook['id']}", json={"url": URL + "/new", "eventTypes": []}
    )
    assert response.status_code == 200, response.text
    replaced = response.json()
    assert replaced["id"] == hook["id"]
    assert replaced["url"] == URL + "/new"
    assert replaced["eventTypes"] == []
    assert replaced["description"] is None
    assert replaced["category"] is None
    assert replaced["headers"] == {}
    assert replaced["sslVerificationDisabled"] is False
    assert replaced["status"] == "Active"
    assert replaced["disabledReason"] is None
    assert replaced["createdAt"] == hook["createdAt"]
    assert client.get(f"/v1/webhooks/{hook['id']}").json() == replaced


def test_put_with_the_seed_001_update_body(client: httpx.Client) -> None:
    hook = _create(client, **{k: v for k, v in SEED_001_CREATE.items() if k != "url"})
    body = {
        "eventTypes": ["ReportImported", "TransactionsImported", "AccountCreated"],
        "url": "https://example.de/your_new_callback_url",
        "headers": {
            "X-Partner-Secret1": "X-Test-Partner-Secret1_new_value",
            "X-Partner-Secret2": "X-Test-Partner-Secret2_new_value",
        },
        "status": "Active",
        "sslVerificationDisabled": False,
    }
    response = client.put(f"/v1/webhooks/{hook['id']}", json=body)
    assert response.status_code == 200, response.text
    replaced = response.json()
    assert replaced["eventTypes"] == body["eventTypes"]
    assert replaced["url"] == body["url"]
    assert replaced["status"] == "Active"
    assert replaced["sslVerificationDisabled"] is False
    assert set(replaced["headers"]) == {"X-Partner-Secret1", "X-Partner-Secret2"}


def test_put_without_url_is_422_naming_url(client: httpx.Client) -> None:
    hook = _create(client)
    response = client.put(
        f"/v1/webhooks/{hook['id']}", json={"description": "no url", "eventTypes": []}
    )
    assert error_fields(response, 422) == ["url"]


def test_patch_changes_only_the_given_fields(client: httpx.Client) -> None:
    hook = _create(
        client,
        eventTypes=["ReportImported"],  # uncategorised: it may move to any category
        description="kept",
        category="Payments",
        headers={"X-Partner-Secret1": PARTNER_SECRET},
        sslVerificationDisabled=True,
    )
    response = client.patch(
        f"/v1/webhooks/{hook['id']}", json={"url": URL + "/moved", "category": "Ledger"}
    )
    assert response.status_code == 200, response.text
    patched = response.json()
    assert patched["url"] == URL + "/moved"
    assert patched["category"] == "Ledger"
    unchanged = ("eventTypes", "description", "headers", "sslVerificationDisabled", "status")
    for key in unchanged:
        assert patched[key] == hook[key], key
    assert client.get(f"/v1/webhooks/{hook['id']}").json() == patched


def test_patch_can_clear_description(client: httpx.Client) -> None:
    hook = _create(client, description="to be cleared")
    patched = client.patch(f"/v1/webhooks/{hook['id']}", json={"description": None})
    assert patched.status_code == 200, patched.text
    assert patched.json()["description"] is None


def test_patch_url_to_null_is_422_naming_url(client: httpx.Client) -> None:
    hook = _create(client)
    assert error_fields(client.patch(f"/v1/webhooks/{hook['id']}", json={"url": None}), 422) == [
        "url"
    ]
    assert client.get(f"/v1/webhooks/{hook['id']}").json()["url"] == URL


def test_last_modified_at_moves_on_update(client: httpx.Client) -> None:
    hook = _create(client)
    time.sleep(0.01)  # timestamps have millisecond resolution
    patched = client.patch(f"/v1/webhooks/{hook['id']}", json={"description": "changed"}).json()
    assert patched["lastModifiedAt"] > hook["lastModifiedAt"]
    assert patched["createdAt"] == hook["createdAt"]
    time.sleep(0.01)
    replaced = client.put(f"/v1/webhooks/{hook['id']}", json={"url": URL, "eventTypes": []}).json()
    assert replaced["lastModifiedAt"] > patched["lastModifiedAt"]
    assert replaced["createdAt"] == hook["createdAt"]


# --- enable and disable -----------------------------------------------------------------


def test_disable_then_enable(client: httpx.Client) -> None:
    hook = _create(client)
    disabled = client.post(f"/v1/webhooks/{hook['id']}/disable")
    assert disabled.status_code == 200, disabled.text
    assert disabled.json()["status"] == "Disabled"
    assert disabled.json()["disabledReason"]
    fetched = client.get(f"/v1/webhooks/{hook['id']}").json()
    assert fetched["status"] == "Disabled"
    assert fetched["disabledReason"] == disabled.json()["disabledReason"]

    enabled = client.post(f"/v1/webhooks/{hook['id']}/enable")
    assert enabled.status_code == 200, enabled.text
    assert enabled.json()["status"] == "Active"
    assert enabled.json()["disabledReason"] is None
    assert client.get(f"/v1/webhooks/{hook['id']}").json()["status"] == "Active"


def test_patch_status_disables_and_enables(client: httpx.Client) -> None:
    hook = _create(client)
    disabled = client.patch(f"/v1/webhooks/{hook['id']}", json={"status": "Disabled"}).json()
    assert disabled["status"] == "Disabled"
    assert disabled["disabledReason"]
    enabled = client.patch(f"/v1/webhooks/{hook['id']}", json={"status": "Active"}).json()
    assert enabled["status"] == "Active"
    assert enabled["disabledReason"] is None


def test_unknown_status_is_422_naming_status(client: httpx.Client) -> None:
    assert error_fields(
        client.post("/v1/webhooks", json={"url": URL, "status": "Paused"}), 422
    ) == ["status"]


# --- delete -----------------------------------------------------------------------------


def test_delete_then_404(client: httpx.Client) -> None:
    hook = _create(client)
    deleted = client.delete(f"/v1/webhooks/{hook['id']}")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert client.get(f"/v1/webhooks/{hook['id']}").status_code == 404
    assert client.delete(f"/v1/webhooks/{hook['id']}").status_code == 404
    assert hook["id"] not in [h["id"] for h in _list_all(client)]
    # The URL is free again.
    _create(client)


# --- unique URLs ------------------------------------------------------------------------


def test_same_url_twice_in_an_account_is_409(client: httpx.Client) -> None:
    _create(client)
    response = client.post("/v1/webhooks", json={"url": URL})
    error = api_error(response, 409)
    assert error["type"] == "conflict"
    assert [d["field"] for d in error["details"]] == ["url"]
    assert len(_list_all(client)) == 1


def test_patch_or_put_to_another_webhooks_url_is_409(client: httpx.Client) -> None:
    first = _create(client, URL + "/first")
    second = _create(client, URL + "/second")
    assert error_fields(
        client.patch(f"/v1/webhooks/{second['id']}", json={"url": first["url"], "eventTypes": []}),
        409,
    ) == ["url"]
    assert error_fields(
        client.put(f"/v1/webhooks/{second['id']}", json={"url": first["url"], "eventTypes": []}),
        409,
    ) == ["url"]
    assert client.get(f"/v1/webhooks/{second['id']}").json()["url"] == URL + "/second"
    # Keeping one's own URL is no conflict.
    same = client.patch(f"/v1/webhooks/{second['id']}", json={"url": second["url"]})
    assert same.status_code == 200, same.text


def test_same_url_in_two_accounts_is_fine(client: httpx.Client, other_client: httpx.Client) -> None:
    mine = _create(client)
    theirs = _create(other_client)
    assert mine["id"] != theirs["id"]
    assert mine["url"] == theirs["url"] == URL


# --- secret -----------------------------------------------------------------------------


def test_get_secret_returns_the_signing_secret(client: httpx.Client) -> None:
    hook = _create(client)
    response = client.get(f"/v1/webhooks/{hook['id']}/secret")
    assert response.status_code == 200, response.text
    assert response.json() == {"secret": hook["secret"]}
    # Updating the webhook does not change its secret.
    client.patch(f"/v1/webhooks/{hook['id']}", json={"description": "x"})
    client.put(f"/v1/webhooks/{hook['id']}", json={"url": URL, "eventTypes": []})
    assert client.get(f"/v1/webhooks/{hook['id']}/secret").json()["secret"] == hook["secret"]


# --- bad input --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example.com/tidings",
        "https:///no-host",
        "http://",
        "https://hooks.example.com/with space",
        " https://hooks.example.com/leading-space",
        "hooks.example.com/no-scheme",
        "https://hooks.example.com:99999/bad-port",
        "https://hooks.example.com/nul\x00byte",
        "",
    ],
)
def test_invalid_url_is_422_naming_url(client: httpx.Client, url: str) -> None:
    response = client.post("/v1/webhooks", json={"url": url})
    error = api_error(response, 422)
    assert error["type"] == "validation_error"
    assert [d["field"] for d in error["details"]] == ["url"]
    assert "url" in error["message"]


def test_invalid_url_on_put_and_patch_is_422_naming_url(client: httpx.Client) -> None:
    hook = _create(client)
    bad = "ftp://hooks.example.com/tidings"
    assert error_fields(
        client.put(f"/v1/webhooks/{hook['id']}", json={"url": bad, "eventTypes": []}), 422
    ) == ["url"]
    assert error_fields(client.patch(f"/v1/webhooks/{hook['id']}", json={"url": bad}), 422) == [
        "url"
    ]
    assert client.get(f"/v1/webhooks/{hook['id']}").json()["url"] == URL


def test_missing_url_is_422_naming_url(client: httpx.Client) -> None:
    assert error_fields(client.post("/v1/webhooks", json={"eventTypes": []}), 422) == ["url"]


def test_unknown_field_is_422_naming_it(client: httpx.Client) -> None:
    response = client.post("/v1/webhooks", json={"url": URL, "colour": "blue"})
    error = api_error(response, 422)
    assert [d["field"] for d in error["details"]] == ["colour"]
    assert "colour" in error["message"]
    hook = _create(client)
    assert error_fields(
        client.patch(f"/v1/webhooks/{hook['id']}", json={"colour": "blue"}), 422
    ) == ["colour"]
    assert error_fields(
        client.put(f"/v1/webhooks/{hook['id']}", json={"url": URL, "eventTypes": [], "colour": 1}),
        422,
    ) == ["colour"]


def test_snake_case_field_is_refused(client: httpx.Client) -> None:
    """The API is camelCase; a snake_case name is an unknown field, not silently dropped."""
    response = client.post("/v1/webhooks", json={"url": URL, "event_types": ["a.b"]})
    assert error_fields(response, 422) == ["event_types"]


@pytest.mark.parametrize(
    "name", ["Host", "Content-Length", "webhook-signature", "X-Tidings-Foo", "x-tidings-event-type"]
)
def test_reserved_header_is_422_naming_it(client: httpx.Client, name: str) -> None:
    response = client.post("/v1/webhooks", json={"url": URL, "headers": {name: "value"}})
    error = api_error(response, 422)
    assert [d["field"] for d in error["details"]] == [f"headers.{name}"]
    assert _list_all(client) == []


def test_reserved_header_on_put_and_patch_is_422(client: httpx.Client) -> None:
    hook = _create(client)
    put = client.put(
        f"/v1/webhooks/{hook['id']}", json={"url": URL, "eventTypes": [], "headers": {"Host": "x"}}
    )
    assert error_fields(put, 422) == ["headers.Host"]
    patch = client.patch(f"/v1/webhooks/{hook['id']}", json={"headers": {"Host": "x"}})
    assert error_fields(patch, 422) == ["headers.Host"]
    assert client.get(f"/v1/webhooks/{hook['id']}").json()["headers"] == {}


def test_header_with_a_line_break_is_422(client: httpx.Client) -> None:
    response = client.post(
        "/v1/webhooks", json={"url": URL, "headers": {"X-Partner": "a\r\nX-Evil: 1"}}
    )
    assert error_fields(response, 422) == ["headers.X-Partner"]


def test_invalid_header_name_is_422(client: httpx.Client) -> None:
    response = client.post("/v1/webhooks", json={"url": URL, "headers": {"Bad Name": "v"}})
    assert error_fields(response, 422) == ["headers.Bad Name"]


def test_nul_in_description_is_stored_or_refused_never_a_500(client: httpx.Client) -> None:
    """JSON allows "\\u0000"; PostgreSQL text does not. Either way the answer is not a 500."""
    response = client.post("/v1/webhooks", json={"url": URL, "description": "a\x00b"})
    if response.status_code == 201:
        fetched = client.get(f"/v1/webhooks/{response.json()['id']}").json()
        assert fetched["description"] == "a\x00b"
    else:
        assert error_fields(response, 422) == ["description"]


def test_nul_in_a_webhook_id_is_404(client: httpx.Client) -> None:
    assert api_error(client.get("/v1/webhooks/wh_%00"), 404)["type"] == "not_found"
    assert api_error(client.delete("/v1/webhooks/wh_%00"), 404)["type"] == "not_found"


@pytest.mark.parametrize("cursor", ["not-a-cursor", "wh_\x00", "\u00e9\u00e9"])
def test_garbage_cursor_is_not_a_500(client: httpx.Client, cursor: str) -> None:
    _create(client)
    response = client.get("/v1/webhooks", params={"cursor": cursor})
    assert response.status_code in (200, 400, 422), response.text
    if response.status_code != 200:
        assert error_fields(response, response.status_code) == ["cursor"]


def test_malformed_json_is_400_not_500(client: httpx.Client) -> None:
    response = client.post(
        "/v1/webhooks", content=b'{"url": ', headers={"Content-Type": "application/json"}
    )
    assert api_error(response, 400)["details"][0]["field"] == "body"


# --- other accounts ---------------------------------------------------------------------


def test_another_accounts_webhook_is_404_everywhere(
    client: httpx.Client, other_client: httpx.Client
) -> None:
    hook = _create(client, headers={"X-Partner-Secret1": PARTNER_SECRET})
    path = f"/v1/webhooks/{hook['id']}"
    calls = [
        other_client.get(path),
        other_client.put(path, json={"url": URL + "/stolen", "eventTypes": []}),
        other_client.patch(path, json={"url": URL + "/stolen"}),
        other_client.post(f"{path}/enable"),
        other_client.post(f"{path}/disable"),
        other_client.get(f"{path}/secret"),
        other_client.delete(path),
    ]
    for response in calls:
        assert api_error(response, 404)["type"] == "not_found"
        assert hook["secret"] not in response.text
    assert hook["id"] not in [h["id"] for h in _list_all(other_client)]
    # Nothing changed for the owner.
    fetched = client.get(path)
    assert fetched.status_code == 200
    assert fetched.json() == {k: v for k, v in hook.items() if k != "secret"}
