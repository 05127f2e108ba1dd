"""``/v1/api-keys`` and authentication: keys are shown once, stored hashed, and act for one
account; an operator key acts for the account it names in ``Tidings-Account``."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from tests.support.partner import error_fields
from tests.support.server import RunningServer

NOWHERE = "http://127.0.0.1:9"


def _new_account(operator: httpx.Client, name: str) -> str:
    response = operator.post("/v1/accounts", json={"name": name})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


@pytest.fixture
def created_key(operator: httpx.Client, account: dict[str, Any]) -> dict[str, Any]:
    response = operator.post(
        "/v1/api-keys", json={"name": "reporting"}, headers={"Tidings-Account": account["id"]}
    )
    assert response.status_code == 201, response.text
    return dict(response.json())


@pytest.fixture
def two_accounts(operator: httpx.Client) -> Iterator[tuple[str, str]]:
    yield _new_account(operator, "First Co"), _new_account(operator, "Second Co")


# --- creating and showing keys -------------------------------------------------------------


def test_operator_creates_a_secret_key_for_an_account(
    created_key: dict[str, Any], account: dict[str, Any]
) -> None:
    key = created_key["key"]
    assert key.startswith("sk_")
    assert len(key) >= 32
    assert created_key["id"].startswith("key_")
    assert created_key["accountId"] == account["id"]
    assert created_key["name"] == "reporting"
    assert created_key["type"] == "secret"
    assert created_key["prefix"] == "sk_"
    assert created_key["last4"] == key[-4:]
    assert created_key["status"] == "active"
    assert created_key["createdAt"].endswith("Z")


def test_each_key_is_different(operator: httpx.Client, account: dict[str, Any]) -> None:
    headers = {"Tidings-Account": account["id"]}
    keys = {operator.post("/v1/api-keys", json={}, headers=headers).json()["key"] for _ in range(5)}
    assert len(keys) == 5


def test_the_new_key_works(server: RunningServer, created_key: dict[str, Any]) -> None:
    response = httpx.get(
        f"{server.base_url}/v1/webhooks",
        headers={"Authorization": f"Bearer {created_key['key']}"},
    )
    assert response.status_code == 200, response.text


def test_list_and_get_never_show_the_plaintext(
    client: httpx.Client,
    operator: httpx.Client,
    account: dict[str, Any],
    created_key: dict[str, Any],
) -> None:
    plaintext = created_key["key"]
    secret_body = plaintext.partition("_")[2]

    listed = client.get("/v1/api-keys")
    assert listed.status_code == 200, listed.text
    assert plaintext not in listed.text
    assert secret_body not in listed.text
    assert account["key"] not in listed.text
    entries = {k["id"]: k for k in listed.json()["data"]}
    # The fixture's own key and the one made here.
    assert len(entries) == 2
    shown = entries[created_key["id"]]
    assert "key" not in shown
    assert shown["prefix"] == "sk_"
    assert shown["last4"] == plaintext[-4:]
    assert shown["name"] == "reporting"

    one = client.get(f"/v1/api-keys/{created_key['id']}")
    assert one.status_code == 200, one.text
    assert plaintext not in one.text
    assert secret_body not in one.text
    assert "key" not in one.json()
    assert one.json()["prefix"] == "sk_"
    assert one.json()["last4"] == plaintext[-4:]

    via_operator = operator.get("/v1/api-keys", headers={"Tidings-Account": account["id"]})
    assert via_operator.status_code == 200
    assert plaintext not in via_operator.text
    assert {k["id"] for k in via_operator.json()["data"]} == set(entries)


def test_another_accounts_key_is_404(
    operator: httpx.Client, client: httpx.Client, two_accounts: tuple[str, str]
) -> None:
    other, _ = two_accounts
    theirs = operator.post("/v1/api-keys", json={}, headers={"Tidings-Account": other}).json()
    response = client.get(f"/v1/api-keys/{theirs['id']}")
    assert response.status_code == 404, response.text
    assert response.json()["error"]["type"] == "not_found"
    assert theirs["id"] not in client.get("/v1/api-keys").text


def test_unknown_key_id_is_404(client: httpx.Client) -> None:
    response = client.get("/v1/api-keys/key_01HZZZZZZZZZZZZZZZZZZZZZZZ")
    assert response.status_code == 404
    assert response.json()["error"]["type"] == "not_found"


def test_bad_key_type_is_422(operator: httpx.Client, account: dict[str, Any]) -> None:
    response = operator.post(
        "/v1/api-keys", json={"type": "operator"}, headers={"Tidings-Account": account["id"]}
    )
    assert response.status_code == 422, response.text
    assert error_fields(response) == ["type"]


# --- presenting keys -----------------------------------------------------------------------


@pytest.mark.parametrize("style", ["bearer", "x-api-key", "lowercase-bearer"])
def test_both_auth_headers_work(server: RunningServer, account: dict[str, Any], style: str) -> None:
    headers = {
        "bearer": {"Authorization": f"Bearer {account['key']}"},
        "x-api-key": {"X-Api-Key": account["key"]},
        "lowercase-bearer": {"authorization": f"bearer {account['key']}"},
    }[style]
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as c:
        created = c.post("/v1/webhooks", json={"url": f"{NOWHERE}/{style}"})
        assert created.status_code == 201, created.text
        listed = c.get("/v1/webhooks")
        assert listed.status_code == 200, listed.text
        assert [w["id"] for w in listed.json()["data"]] == [created.json()["id"]]


@pytest.mark.parametrize("style", ["bearer", "x-api-key"])
def test_operator_key_works_with_both_headers(server: RunningServer, style: str) -> None:
    headers = (
        {"Authorization": f"Bearer {server.operator_key}"}
        if style == "bearer"
        else {"X-Api-Key": server.operator_key}
    )
    response = httpx.get(f"{server.base_url}/v1/accounts", headers=headers)
    assert response.status_code == 200, response.text


def test_operator_acting_for_an_account_sees_its_webhooks_only(
    operator: httpx.Client, two_accounts: tuple[str, str]
) -> None:
    first, second = two_accounts
    hook_first = operator.post(
        "/v1/webhooks", json={"url": f"{NOWHERE}/first"}, headers={"Tidings-Account": first}
    )
    assert hook_first.status_code == 201, hook_first.text
    hook_second = operator.post(
        "/v1/webhooks", json={"url": f"{NOWHERE}/second"}, headers={"Tidings-Account": second}
    )
    assert hook_second.status_code == 201, hook_second.text

    as_first = operator.get("/v1/webhooks", headers={"Tidings-Account": first})
    assert as_first.status_code == 200, as_first.text
    assert [w["id"] for w in as_first.json()["data"]] == [hook_first.json()["id"]]
    as_second = operator.get("/v1/webhooks", headers={"Tidings-Account": second})
    assert [w["id"] for w in as_second.json()["data"]] == [hook_second.json()["id"]]

    # One account's webhook is not found while acting for the other.
    crossed = operator.get(
        f"/v1/webhooks/{hook_second.json()['id']}", headers={"Tidings-Account": first}
    )
    assert crossed.status_code == 404, crossed.text


def test_operator_without_tidings_account_on_account_calls_is_400(
    operator: httpx.Client,
) -> None:
    for response in (
        operator.get("/v1/webhooks"),
        operator.post("/v1/webhooks", json={"url": f"{NOWHERE}/no-account"}),
        operator.post("/v1/events", json={"eventType": "payment.updated", "eventData": {}}),
        operator.get("/v1/events"),
        operator.get("/v1/notifications"),
        operator.get("/v1/api-keys"),
        operator.post("/v1/api-keys", json={}),
    ):
        assert response.status_code == 400, (response.request.url, response.text)
        error = response.json()["error"]
        assert error["type"] == "invalid_request"
        assert error_fields(response) == ["Tidings-Account"]
        assert "Tidings-Account" in error["message"]


def test_tidings_account_naming_an_unknown_account_is_404(operator: httpx.Client) -> None:
    unknown = {"Tidings-Account": "acc_01HZZZZZZZZZZZZZZZZZZZZZZZ"}
    for response in (
        operator.get("/v1/webhooks", headers=unknown),
        operator.post("/v1/api-keys", json={}, headers=unknown),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["error"]["type"] == "not_found"


def test_account_key_naming_another_account_is_404(
    client: httpx.Client, account: dict[str, Any], two_accounts: tuple[str, str]
) -> None:
    other, _ = two_accounts
    for response in (
        client.get("/v1/webhooks", headers={"Tidings-Account": other}),
        client.post("/v1/api-keys", json={}, headers={"Tidings-Account": other}),
        client.post("/v1/webhooks", json={"url": NOWHERE}, headers={"Tidings-Account": other}),
    ):
        assert response.status_code == 404, response.text
        assert response.json()["error"]["type"] == "not_found"
    # Naming its own account is fine.
    own = client.get("/v1/webhooks", headers={"Tidings-Account": account["id"]})
    assert own.status_code == 200, own.text


# --- storage -------------------------------------------------------------------------------


async def _every_stored_text(database_url: str) -> list[str]:
    """Every value of every column of every table, as text."""
    engine = create_async_engine(database_url)
    texts: list[str] = []
    try:
        async with engine.connect() as conn:
            metadata = sa.MetaData()
            await conn.run_sync(metadata.reflect)
            assert "api_keys" in metadata.tables
            for table in metadata.sorted_tables:
                for row in (await conn.execute(table.select())).all():
                    for value in row:
                        if isinstance(value, bytes | bytearray | memoryview):
                            texts.append(bytes(value).decode("utf-8", "replace"))
                        elif value is not None:
                            texts.append(str(value))
    finally:
        await engine.dispose()
    return texts


def test_keys_are_stored_hashed(
    server: RunningServer, created_key: dict[str, Any], account: dict[str, Any]
) -> None:
    stored = asyncio.run(_every_stored_text(server.settings.resolved_database_url()))
    assert any(created_key["id"] in text for text in stored)  # the row is there
    for plaintext in (created_key["key"], account["key"], server.operator_key):
        body = plaintext.partition("_")[2]
        leaks = [text[:80] for text in stored if plaintext in text or body in text]
        assert leaks == [], f"{plaintext[:6]}… is stored in clear"
