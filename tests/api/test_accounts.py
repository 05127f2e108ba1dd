"""``/v1/accounts``: the operator's partners; account keys cannot see them."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.support.partner import error_fields


def _create(operator: httpx.Client, name: str) -> dict[str, Any]:
    response = operator.post("/v1/accounts", json={"name": name})
    assert response.status_code == 201, response.text
    return response.json()


def test_operator_creates_an_account(operator: httpx.Client) -> None:
    before = datetime.now(UTC)
    account = _create(operator, "Acme Payments")
    assert account["id"].startswith("acc_")
    assert account["name"] == "Acme Payments"
    created = datetime.fromisoformat(account["createdAt"].replace("Z", "+00:00"))
    assert account["createdAt"].endswith("Z")
    assert before - timedelta(seconds=5) <= created <= datetime.now(UTC) + timedelta(seconds=5)
    assert account["updatedAt"] == account["createdAt"]


def test_get_account_by_id(operator: httpx.Client) -> None:
    account = _create(operator, "Globex Ünïcode ☕")
    response = operator.get(f"/v1/accounts/{account['id']}")
    assert response.status_code == 200, response.text
    assert response.json() == account


def test_unknown_account_is_404(operator: httpx.Client) -> None:
    response = operator.get("/v1/accounts/acc_01HZZZZZZZZZZZZZZZZZZZZZZZ")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["type"] == "not_found"
    assert error["message"]


def test_list_accounts_newest_first_with_cursor_pagination(operator: httpx.Client) -> None:
    made = []
    for n in range(3):
        made.append(_create(operator, f"Paged {n}")["id"])
        time.sleep(0.005)

    first = operator.get("/v1/accounts", params={"limit": 2})
    assert first.status_code == 200, first.text
    page = first.json()
    assert [a["id"] for a in page["data"]] == [made[2], made[1]]
    assert page["nextCursor"]

    second = operator.get("/v1/accounts", params={"limit": 2, "cursor": page["nextCursor"]})
    assert second.status_code == 200, second.text
    assert second.json()["data"][0]["id"] == made[0]

    # Walking every page visits each account once, ending with a null cursor.
    seen: list[str] = []
    cursor: str | None = None
    for _ in range(1000):
        params: dict[str, Any] = {"limit": 250}
        if cursor:
            params["cursor"] = cursor
        body = operator.get("/v1/accounts", params=params).json()
        seen += [a["id"] for a in body["data"]]
        cursor = body["nextCursor"]
        if cursor is None:
            break
    assert cursor is None
    assert len(seen) == len(set(seen))
    assert set(made) <= set(seen)


def test_list_accounts_default_page_is_at_most_50(operator: httpx.Client) -> None:
    body = operator.get("/v1/accounts").json()
    assert set(body) == {"data", "nextCursor"}
    assert len(body["data"]) <= 50


def test_account_key_cannot_manage_accounts(client: httpx.Client, account: dict[str, Any]) -> None:
    created = client.post("/v1/accounts", json={"name": "Sneaky"})
    assert created.status_code == 403, created.text
    assert created.json()["error"]["type"] == "permission_error"

    listed = client.get("/v1/accounts")
    assert listed.status_code == 403, listed.text
    assert listed.json()["error"]["type"] == "permission_error"

    own = client.get(f"/v1/accounts/{account['id']}")
    assert own.status_code == 403, own.text


def test_account_key_attempt_creates_nothing(operator: httpx.Client, client: httpx.Client) -> None:
    client.post("/v1/accounts", json={"name": "Should Not Exist 7f3a"})
    names = [a["name"] for a in operator.get("/v1/accounts", params={"limit": 250}).json()["data"]]
    assert "Should Not Exist 7f3a" not in names


def test_name_missing_is_422_naming_it(operator: httpx.Client) -> None:
    response = operator.post("/v1/accounts", json={})
    assert response.status_code == 422, response.text
    assert error_fields(response) == ["name"]
    assert response.json()["error"]["type"] == "validation_error"


def test_name_invalid_is_422_naming_it(operator: httpx.Client) -> None:
    for name in ("", None, 42, ["Acme"], "x" * 201):
        response = operator.post("/v1/accounts", json={"name": name})
        assert response.status_code == 422, (name, response.text)
        assert error_fields(response) == ["name"]


def test_unknown_account_field_is_422(operator: httpx.Client) -> None:
    response = operator.post("/v1/accounts", json={"name": "Acme", "plan": "gold"})
    assert response.status_code == 422, response.text
    assert error_fields(response) == ["plan"]
