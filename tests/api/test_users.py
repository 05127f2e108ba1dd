"""``/v1/users`` and portal links over the API: invites answer a single-use link, users are
scoped to their account, deleting one ends its sessions, and a portal link signs in once."""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest

from tests.support.partner import call, create_account
from tests.support.server import RunningServer


def _invite(client: httpx.Client, email: str) -> dict[str, Any]:
    response = client.post("/v1/users", json={"email": email})
    assert response.status_code == 201, response.text
    return dict(response.json())


def _token(url: str) -> str:
    match = re.search(r"/dashboard/invite/([A-Za-z0-9_-]+)$", url)
    assert match, url
    return match.group(1)


def test_invite_answers_a_link_and_the_user_is_listed(
    server: RunningServer, client: httpx.Client, other_client: httpx.Client
) -> None:
    user = _invite(client, "Ana@Example.com")
    assert user["id"].startswith("usr_")
    assert user["email"] == "ana@example.com"
    assert user["status"] == "invited"
    assert user["twoFactorEnabled"] is False
    assert user["inviteUrl"].startswith(f"{server.base_url}/dashboard/invite/")
    assert "inviteUrl" not in client.get(f"/v1/users/{user['id']}").json()
    assert [u["id"] for u in client.get("/v1/users").json()["data"]] == [user["id"]]
    # Another account sees neither the user nor the list entry.
    assert other_client.get(f"/v1/users/{user['id']}").status_code == 404
    assert other_client.get("/v1/users").json()["data"] == []
    assert other_client.delete(f"/v1/users/{user['id']}").status_code == 404


def test_invite_refuses_a_bad_or_taken_email(client: httpx.Client) -> None:
    bad = client.post("/v1/users", json={"email": "not-an-address"})
    assert bad.status_code == 422
    assert bad.json()["error"]["details"][0]["field"] == "email"
    _invite(client, "bo@example.com")
    again = client.post("/v1/users", json={"email": "BO@example.com"})
    assert again.status_code == 409


def test_operator_invites_for_a_named_account(server: RunningServer) -> None:
    account = create_account(server.base_url, server.operator_key, "Initech")
    response = call(
        server.base_url,
        server.operator_key,
        "POST",
        "/v1/users",
        json={"email": "op-made@example.com"},
        headers={"Tidings-Account": account["id"]},
    )
    assert response.status_code == 201, response.text
    assert response.json()["accountId"] == account["id"]
    without = call(
        server.base_url, server.operator_key, "POST", "/v1/users", json={"email": "x@example.com"}
    )
    assert without.status_code == 400


def test_restricted_key_needs_users_write(server: RunningServer, client: httpx.Client) -> None:
    made = client.post(
        "/v1/api-keys",
        json={"type": "restricted", "permissions": {"users": "read", "webhooks": "write"}},
    )
    assert made.status_code == 201, made.text
    key = made.json()["key"]
    assert call(server.base_url, key, "GET", "/v1/users").status_code == 200
    refused = call(server.base_url, key, "POST", "/v1/users", json={"email": "r@example.com"})
    assert refused.status_code == 403
    assert "users:write" in refused.text


def test_invite_link_sets_a_password_once(server: RunningServer, client: httpx.Client) -> None:
    user = _invite(client, "cy@example.com")
    page = httpx.get(user["inviteUrl"])
    assert page.status_code == 200
    assert "cy@example.com" in page.text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    form = {
        "csrf_token": csrf.group(1),
        "password": "a long password",
        "confirm_password": "a long password",
    }
    cookies = page.cookies
    done = httpx.post(user["inviteUrl"], data=form, cookies=cookies)
    assert done.status_code == 303, done.text
    assert client.get(f"/v1/users/{user['id']}").json()["status"] == "active"
    # Single use: the link is spent.
    assert httpx.get(user["inviteUrl"]).status_code == 404
    assert httpx.post(user["inviteUrl"], data=form, cookies=cookies).status_code == 404


def test_deleting_a_user_ends_its_sessions(server: RunningServer, client: httpx.Client) -> None:
    user = _invite(client, "di@example.com")
    page = httpx.get(user["inviteUrl"])
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert csrf
    password = "another long password"
    httpx.post(
        user["inviteUrl"],
        data={"csrf_token": csrf.group(1), "password": password, "confirm_password": password},
        cookies=page.cookies,
    )
    with httpx.Client(base_url=server.base_url) as browser:
        login = browser.get("/dashboard/login")
        csrf = re.search(r'name="csrf_token" value="([^"]+)"', login.text)
        assert csrf
        signed = browser.post(
            "/dashboard/login",
            data={"csrf_token": csrf.group(1), "email": "di@example.com", "password": password},
        )
        assert signed.status_code == 303
        assert signed.headers["location"].endswith("/dashboard/two-step/enrol")
        assert browser.get("/dashboard/two-step/enrol").status_code == 200
        assert client.delete(f"/v1/users/{user['id']}").status_code == 204
        after = browser.get("/dashboard/two-step/enrol")
        assert after.status_code == 303
        assert after.headers["location"].endswith("/dashboard/login")
    assert client.get(f"/v1/users/{user['id']}").status_code == 404


def test_portal_link_signs_in_once(server: RunningServer, account: dict[str, Any]) -> None:
    path = f"/v1/accounts/{account['id']}/portal-links"
    made = call(server.base_url, server.operator_key, "POST", path)
    assert made.status_code == 201, made.text
    link = made.json()
    assert link["url"].startswith(f"{server.base_url}/dashboard/portal/")
    assert link["expiresAt"].endswith("Z")
    with httpx.Client() as browser:
        first = browser.get(link["url"])
        assert first.status_code == 303
        assert first.headers["location"].endswith("/dashboard")
        assert "HttpOnly" in first.headers["set-cookie"]
        assert "SameSite=lax" in first.headers["set-cookie"].replace("Lax", "lax")
        home = browser.get(f"{server.base_url}/dashboard")
        assert home.status_code == 200
        assert "Portal session" in home.text
    with httpx.Client() as again:
        assert again.get(link["url"]).status_code == 404
    # Only the operator makes them.
    refused = call(server.base_url, account["key"], "POST", path)
    assert refused.status_code == 403


@pytest.mark.parametrize("expires_in", ["0", "-5", "8d"])
def test_portal_link_expiry_is_checked(
    server: RunningServer, account: dict[str, Any], expires_in: str
) -> None:
    response = call(
        server.base_url,
        server.operator_key,
        "POST",
        f"/v1/accounts/{account['id']}/portal-links",
        json={"expiresIn": expires_in},
    )
    assert response.status_code == 422, response.text
