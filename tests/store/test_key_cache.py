"""Authentication keeps keys it found for a moment (runtime/key_cache.py); a revoke, a roll or
an account deletion still takes effect at once, here and in every other process.

Here the caches keep what they found for a minute rather than a second, so that only the
announcement (NOTIFY) can explain a change seen within the generous bounds below: waiting the
cache out would take far longer, and a loaded machine is not mistaken for a lost announcement."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.databases import fresh_database, make_settings
from tests.support.partner import client_with_key, eventually, open_account
from tests.support.server import RunningServer
from tidings.core.ttl_cache import TtlCache
from tidings.runtime import key_cache, route_cache

# How long the caches keep an entry in these tests, and how long a change may take to arrive.
KEPT = 60.0
ANNOUNCED_WITHIN = 10.0


@pytest.fixture
def two_servers(
    postgres_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[tuple[RunningServer, RunningServer]]:
    """Two processes' worth of Tidings on one PostgreSQL database, their key and route caches
    keeping entries for a minute."""

    def kept_long(ttl: float, **kw: Any) -> TtlCache[Any, Any]:
        return TtlCache(KEPT if ttl else 0.0, **kw)

    monkeypatch.setattr(key_cache, "TtlCache", kept_long)
    monkeypatch.setattr(route_cache, "TtlCache", kept_long)
    with (
        fresh_database("postgresql", tmp_path) as url,
        RunningServer(make_settings(url, tmp_path / "a")) as first,
        RunningServer(make_settings(url, tmp_path / "b")) as second,
    ):
        yield first, second


def _status_on(server: RunningServer, key: str) -> int:
    return httpx.get(f"{server.base_url}/v1/webhooks", headers={"X-Api-Key": key}).status_code


def _until_refused(server: RunningServer, key: str) -> None:
    """The key is refused on ``server`` well before its cache entry could run out."""
    eventually(
        lambda: _status_on(server, key) == 401,
        ANNOUNCED_WITHIN,
        "the key refused on the other server",
    )


def test_a_revoke_on_one_server_stops_the_key_on_the_other_at_once(
    two_servers: tuple[RunningServer, RunningServer],
) -> None:
    first, second = two_servers
    with open_account(first) as client:
        made = client.post("/v1/api-keys", json={"name": "doomed"})
        assert made.status_code == 201, made.text
        key, key_id = made.json()["key"], made.json()["id"]
        # The second server has just authenticated it: it holds the key in its cache.
        assert _status_on(second, key) == 200
        assert client.delete(f"/v1/api-keys/{key_id}").status_code == 204
        # Well before the cache's minute: the change was announced, not waited out.
        _until_refused(second, key)
        assert _status_on(first, key) == 401


def test_a_roll_now_stops_the_old_key_on_the_other_server_at_once(
    two_servers: tuple[RunningServer, RunningServer],
) -> None:
    first, second = two_servers
    with open_account(first) as client:
        made = client.post("/v1/api-keys", json={"name": "rolled"})
        key, key_id = made.json()["key"], made.json()["id"]
        assert _status_on(second, key) == 200
        rolled = client.post(f"/v1/api-keys/{key_id}/roll", json={"expiresIn": "now"})
        assert rolled.status_code == 201, rolled.text
        _until_refused(second, key)
        assert _status_on(second, rolled.json()["key"]) == 200


def test_a_deleted_account_s_keys_stop_on_the_other_server_at_once(
    two_servers: tuple[RunningServer, RunningServer],
) -> None:
    first, second = two_servers
    with open_account(first) as client:
        key = str(client.headers["X-Api-Key"])
        assert _status_on(second, key) == 200
        operator = {"Authorization": f"Bearer {first.operator_key}"}
        # The database is this test's own: its newest account is the one just opened.
        listed = httpx.get(f"{first.base_url}/v1/accounts", headers=operator).json()["data"]
        deleted = httpx.delete(f"{first.base_url}/v1/accounts/{listed[0]['id']}", headers=operator)
        assert deleted.status_code == 204
        _until_refused(second, key)


def test_a_webhook_made_on_one_server_gets_the_next_event_published_on_the_other(
    two_servers: tuple[RunningServer, RunningServer],
) -> None:
    # Where events go is cached too (api/route_cache.py), and announced the same way.
    first, second = two_servers
    with open_account(first) as on_first:
        key = str(on_first.headers["X-Api-Key"])
        assert on_first.post("/v1/event-types", json={"name": "order.paid"}).status_code == 201
        with client_with_key(second.base_url, key) as on_second:
            event = {"eventType": "order.paid", "eventData": {}}

            def routed() -> list[str]:
                published = on_second.post("/v1/events", json=event)
                assert published.status_code == 202, published.text
                return [n["webhookId"] for n in published.json()["notifications"]]

            assert routed() == []

            hook = on_first.post("/v1/webhooks", json={"url": "https://example.com/hook"})
            assert hook.status_code == 201
            # The NOTIFY's way across, well before the cache's minute.
            hook_id = hook.json()["id"]
            eventually(lambda: routed() == [hook_id], ANNOUNCED_WITHIN, "the new webhook")

            disabled = on_first.post(f"/v1/webhooks/{hook_id}/disable")
            assert disabled.status_code == 200, disabled.text
            eventually(lambda: routed() == [], ANNOUNCED_WITHIN, "the webhook disabled")
