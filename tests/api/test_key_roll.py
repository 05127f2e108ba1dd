"""Rolling, expiring and revoking API keys, on a server whose clock the test moves: the old key
of a roll works until its expiry and then answers 401 saying it expired; a revoked key stops at
once; ``lastUsedAt`` shows use at once."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.clock import FakeClock
from tests.support.databases import make_settings
from tests.support.partner import call, create_account, error_fields
from tests.support.server import RunningServer
from tidings.core.clock import MICROS, to_iso

NOWHERE = "http://127.0.0.1:9"
MILLI = 1000  # microseconds
BOOKING_FEED = {
    "name": "booking feed",
    "type": "restricted",
    "permissions": {
        "webhooks": "read",
        "events": "write",
        "event_types": "read",
        "api_keys": "read",
    },
    "categories": ["Booking"],
}


class Tenant:
    """An account on a running server, driven with its own secret key as a partner would."""

    def __init__(self, server: RunningServer, clock: FakeClock) -> None:
        self.server = server
        self.clock = clock
        account = create_account(server.base_url, server.operator_key, "PayDocker Partner")
        self.account_id = account["id"]
        self.admin_key: str = account["key"]

    def call(
        self, method: str, path: str, key: str, *, headers: dict[str, str] | None = None, **kw: Any
    ) -> httpx.Response:
        return call(self.server.base_url, key, method, path, headers=headers, **kw)

    def admin(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return self.call(method, path, self.admin_key, **kw)

    def create_key(self, **body: Any) -> dict[str, Any]:
        response = self.admin("POST", "/v1/api-keys", json=body)
        assert response.status_code == 201, response.text
        return dict(response.json())

    def shown(self, key_id: str) -> dict[str, Any]:
        """The key as GET /v1/api-keys/{id} shows it, checked against the list."""
        one = self.admin("GET", f"/v1/api-keys/{key_id}")
        assert one.status_code == 200, one.text
        listed = self.admin("GET", "/v1/api-keys")
        assert listed.status_code == 200, listed.text
        in_list = [k for k in listed.json()["data"] if k["id"] == key_id]
        assert in_list == [one.json()]
        return dict(one.json())

    def works(self, key: str) -> bool:
        """Whether the key authenticates: a read it is allowed to make answers 200."""
        response = self.call("GET", "/v1/event-types", key)
        assert response.status_code in (200, 401), response.text
        return response.status_code == 200

    def refused(self, key: str) -> dict[str, Any]:
        """The 401 answer to a key that no longer works."""
        response = self.call("GET", "/v1/event-types", key)
        assert response.status_code == 401, response.text
        error = response.json()["error"]
        assert error["type"] == "authentication_error"
        return dict(error)


@contextmanager
def serving(database_url: str, data_dir: Path, clock: FakeClock) -> Iterator[RunningServer]:
    with RunningServer(make_settings(database_url, data_dir), clock=clock) as running:
        yield running


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def tenant(own_database: str, tmp_path: Path, clock: FakeClock) -> Iterator[Tenant]:
    with serving(own_database, tmp_path / "data", clock) as running:
        yield Tenant(running, clock)


# --- roll ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expires_in", "seconds"),
    [
        ("now", 0),
        ("1h", 3600),
        ("2h", 7200),
        ("24h", 86400),
        (600, 600),
        (604800, 604800),
    ],
)
def test_roll_keeps_the_old_key_until_its_expiry(
    tenant: Tenant, clock: FakeClock, expires_in: str | int, seconds: int
) -> None:
    old = tenant.create_key(**BOOKING_FEED)
    assert tenant.works(old["key"])

    rolled_at = clock.advance(5)
    response = tenant.admin(
        "POST", f"/v1/api-keys/{old['id']}/roll", json={"expiresIn": expires_in}
    )
    assert response.status_code == 201, response.text
    new = response.json()

    # A new key, shown once, like the old one in every way that matters.
    assert new["id"] != old["id"]
    assert new["key"].startswith("rk_")
    assert new["key"] != old["key"]
    assert new["last4"] == new["key"][-4:]
    for field in ("type", "name", "permissions", "categories", "accountId"):
        assert new[field] == old[field], field
    assert new["status"] == "active"
    assert new["expiresAt"] is None
    assert new["createdAt"] == to_iso(rolled_at)

    # The new key works at once, with the same permissions and no more.
    assert tenant.works(new["key"])
    assert tenant.call("GET", "/v1/webhooks", new["key"]).status_code == 200
    write = tenant.call("POST", "/v1/webhooks", new["key"], json={"url": NOWHERE})
    assert write.status_code == 403, write.text
    assert "webhooks:write" in write.json()["error"]["message"]

    expiry = rolled_at + seconds * MICROS
    shown = tenant.shown(old["id"])
    assert shown["expiresAt"] == to_iso(expiry)
    assert shown["revokedAt"] is None
    assert "key" not in shown
    if seconds:
        assert shown["status"] == "expiring"
        assert tenant.works(old["key"])
        clock.set(expiry - MILLI)
        assert tenant.works(old["key"]), "the old key stopped before its expiry"
        assert tenant.shown(old["id"])["status"] == "expiring"
        clock.set(expiry + MILLI)

    # Past the expiry: 401, saying so.
    error = tenant.refused(old["key"])
    assert "expired" in error["message"].lower()
    assert tenant.shown(old["id"])["status"] == "expired"
    # The new key is untouched by the old one's expiry.
    assert tenant.works(new["key"])
    assert tenant.shown(new["id"])["status"] == "active"


def test_the_rolled_key_keeps_the_secret_type(tenant: Tenant) -> None:
    old = tenant.create_key(name="server")
    response = tenant.admin("POST", f"/v1/api-keys/{old['id']}/roll", json={"expiresIn": "1h"})
    assert response.status_code == 201, response.text
    new = response.json()
    assert new["type"] == "secret"
    assert new["key"].startswith("sk_")
    assert new["permissions"] == old["permissions"]
    # Full access, as before: it can write webhooks.
    made = tenant.call("POST", "/v1/webhooks", new["key"], json={"url": NOWHERE})
    assert made.status_code == 201, made.text


def test_the_new_key_can_be_rolled_in_turn(tenant: Tenant, clock: FakeClock) -> None:
    first = tenant.create_key(**BOOKING_FEED)
    second = tenant.admin(
        "POST", f"/v1/api-keys/{first['id']}/roll", json={"expiresIn": "now"}
    ).json()
    third = tenant.admin("POST", f"/v1/api-keys/{second['id']}/roll", json={"expiresIn": "1h"})
    assert third.status_code == 201, third.text
    assert third.json()["permissions"] == first["permissions"]
    assert third.json()["categories"] == ["Booking"]
    assert not tenant.works(first["key"])
    assert tenant.works(second["key"])
    assert tenant.works(third.json()["key"])
    clock.advance(3601)
    assert not tenant.works(second["key"])
    assert tenant.works(third.json()["key"])


def test_a_roll_never_extends_the_old_keys_life(tenant: Tenant, clock: FakeClock) -> None:
    ends = to_iso(clock.now() + 3600 * MICROS)
    old = tenant.create_key(name="short-lived", expiresAt=ends)
    response = tenant.admin("POST", f"/v1/api-keys/{old['id']}/roll", json={"expiresIn": "24h"})
    assert response.status_code == 201, response.text
    assert tenant.shown(old["id"])["expiresAt"] == ends
    clock.advance(3601)
    assert "expired" in tenant.refused(old["key"])["message"].lower()


@pytest.mark.parametrize(
    "expires_in",
    [604801, "8d", "169h", "604801", "soon", "", "1w", "-1h", -1, None, True, [600], {"h": 1}],
    ids=repr,
)
def test_roll_refuses_a_bad_expires_in(tenant: Tenant, expires_in: Any) -> None:
    old = tenant.create_key(name="server")
    before = tenant.admin("GET", "/v1/api-keys").json()["data"]

    response = tenant.admin(
        "POST", f"/v1/api-keys/{old['id']}/roll", json={"expiresIn": expires_in}
    )
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["type"] == "validation_error"
    assert "expiresIn" in error["message"]
    assert set(error_fields(response)) == {"expiresIn"}

    # Nothing changed: no new key, and the old one keeps working with no expiry.
    assert tenant.admin("GET", "/v1/api-keys").json()["data"] == before
    assert tenant.shown(old["id"])["status"] == "active"
    assert tenant.works(old["key"])


def test_roll_needs_expires_in(tenant: Tenant) -> None:
    old = tenant.create_key(name="server")
    response = tenant.admin("POST", f"/v1/api-keys/{old['id']}/roll", json={})
    assert response.status_code == 422, response.text
    assert error_fields(response) == ["expiresIn"]


def test_roll_refuses_nan(tenant: Tenant) -> None:
    """Python's json writes NaN; it is not a number of seconds and must not crash the roll."""
    old = tenant.create_key(name="server")
    response = tenant.admin(
        "POST",
        f"/v1/api-keys/{old['id']}/roll",
        content=b'{"expiresIn": NaN}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code in (400, 422), response.text
    if response.status_code == 422:
        assert "expiresIn" in response.json()["error"]["message"]
    assert tenant.shown(old["id"])["status"] == "active"


def test_rolling_a_revoked_key_is_409(tenant: Tenant) -> None:
    old = tenant.create_key(name="server")
    assert tenant.admin("DELETE", f"/v1/api-keys/{old['id']}").status_code == 204
    before = tenant.admin("GET", "/v1/api-keys").json()["data"]
    response = tenant.admin("POST", f"/v1/api-keys/{old['id']}/roll", json={"expiresIn": "1h"})
    assert response.status_code == 409, response.text
    assert response.json()["error"]["type"] == "conflict"
    assert "revoked" in response.json()["error"]["message"]
    assert tenant.admin("GET", "/v1/api-keys").json()["data"] == before


def test_rolling_an_unknown_key_is_404(tenant: Tenant) -> None:
    response = tenant.admin(
        "POST", "/v1/api-keys/key_01HZZZZZZZZZZZZZZZZZZZZZZZ/roll", json={"expiresIn": "1h"}
    )
    assert response.status_code == 404, response.text


# --- revoke --------------------------------------------------------------------------------


def test_revoke_stops_the_key_at_once(tenant: Tenant, clock: FakeClock) -> None:
    key = tenant.create_key(**BOOKING_FEED)
    assert tenant.works(key["key"])

    revoked_at = clock.advance(1)
    response = tenant.admin("DELETE", f"/v1/api-keys/{key['id']}")
    assert response.status_code == 204, response.text

    error = tenant.refused(key["key"])
    assert "revoked" in error["message"].lower()
    shown = tenant.shown(key["id"])
    assert shown["status"] == "revoked"
    assert shown["revokedAt"] == to_iso(revoked_at)
    # Still revoked later: a revoked key never comes back.
    clock.advance(30 * 86400)
    assert "revoked" in tenant.refused(key["key"])["message"].lower()
    assert tenant.shown(key["id"])["status"] == "revoked"


def test_revoking_the_old_key_of_a_roll_stops_it_at_once(tenant: Tenant) -> None:
    old = tenant.create_key(**BOOKING_FEED)
    new = tenant.admin("POST", f"/v1/api-keys/{old['id']}/roll", json={"expiresIn": "24h"}).json()
    assert tenant.works(old["key"])
    assert tenant.admin("DELETE", f"/v1/api-keys/{old['id']}").status_code == 204
    assert "revoked" in tenant.refused(old["key"])["message"].lower()
    assert tenant.shown(old["id"])["status"] == "revoked"
    assert tenant.works(new["key"])


def test_revoking_an_unknown_key_is_404(tenant: Tenant) -> None:
    response = tenant.admin("DELETE", "/v1/api-keys/key_01HZZZZZZZZZZZZZZZZZZZZZZZ")
    assert response.status_code == 404, response.text


# --- expiresAt at creation -----------------------------------------------------------------


@pytest.mark.parametrize("ago", [1, 0, 86400, 30 * 365 * 86400])
def test_expires_at_in_the_past_is_422(tenant: Tenant, clock: FakeClock, ago: int) -> None:
    before = tenant.admin("GET", "/v1/api-keys").json()["data"]
    response = tenant.admin(
        "POST",
        "/v1/api-keys",
        json={"name": "late", "expiresAt": to_iso(clock.now() - ago * MICROS)},
    )
    assert response.status_code == 422, response.text
    assert error_fields(response) == ["expiresAt"]
    assert "expiresAt" in response.json()["error"]["message"]
    assert tenant.admin("GET", "/v1/api-keys").json()["data"] == before


@pytest.mark.parametrize("value", ["tomorrow", "2030-13-01T00:00:00Z", 12.5e300, True])
def test_expires_at_that_is_no_time_is_422(tenant: Tenant, value: Any) -> None:
    response = tenant.admin("POST", "/v1/api-keys", json={"name": "odd", "expiresAt": value})
    assert response.status_code == 422, response.text
    assert error_fields(response) == ["expiresAt"]


@pytest.mark.parametrize("written", ["Z", "+02:00"])
def test_a_key_with_expires_at_works_until_then(
    tenant: Tenant, clock: FakeClock, written: str
) -> None:
    ends = clock.now() + 2 * 3600 * MICROS
    if written == "Z":
        text = to_iso(ends)
    else:  # the same moment, written in another zone
        moment = clock.as_datetime() + timedelta(hours=2)
        text = moment.astimezone(timezone(timedelta(hours=2))).isoformat()
    key = tenant.create_key(
        name="temporary", type="restricted", permissions={"webhooks": "read"}, expiresAt=text
    )
    assert key["expiresAt"] == to_iso(ends)
    assert key["status"] == "expiring"
    assert tenant.call("GET", "/v1/webhooks", key["key"]).status_code == 200

    clock.set(ends - MILLI)
    assert tenant.call("GET", "/v1/webhooks", key["key"]).status_code == 200
    assert tenant.shown(key["id"])["status"] == "expiring"

    clock.set(ends + MILLI)
    response = tenant.call("GET", "/v1/webhooks", key["key"])
    assert response.status_code == 401, response.text
    assert "expired" in response.json()["error"]["message"].lower()
    assert tenant.shown(key["id"])["status"] == "expired"


def test_a_key_without_expiry_is_active_for_good(tenant: Tenant, clock: FakeClock) -> None:
    key = tenant.create_key(name="forever")
    assert key["expiresAt"] is None
    assert key["status"] == "active"
    clock.advance(10 * 365 * 86400)
    assert tenant.works(key["key"])
    assert tenant.shown(key["id"])["status"] == "active"


# --- lastUsedAt ----------------------------------------------------------------------------


def test_last_used_at_shows_use_at_once_and_survives_a_restart(
    own_database: str, tmp_path: Path, clock: FakeClock
) -> None:
    with serving(own_database, tmp_path / "data", clock) as running:
        tenant = Tenant(running, clock)
        key = tenant.create_key(name="reporting")
        assert key["lastUsedAt"] is None
        assert tenant.shown(key["id"])["lastUsedAt"] is None

        first_use = clock.advance(10)
        assert tenant.works(key["key"])
        assert tenant.shown(key["id"])["lastUsedAt"] == to_iso(first_use)

        later_use = clock.advance(60)
        assert tenant.works(key["key"])
        clock.advance(60)  # reading the key with another one does not touch it
        assert tenant.shown(key["id"])["lastUsedAt"] == to_iso(later_use)

        # A refused request is no use of the key.
        assert tenant.admin("DELETE", f"/v1/api-keys/{key['id']}").status_code == 204
        clock.advance(60)
        tenant.refused(key["key"])
        assert tenant.shown(key["id"])["lastUsedAt"] == to_iso(later_use)

    # A graceful restart keeps what was shown.
    with serving(own_database, tmp_path / "data", clock) as running:
        tenant.server = running
        assert tenant.shown(key["id"])["lastUsedAt"] == to_iso(later_use)
