"""Authentication keeps keys it found for a moment (api/key_cache.py); a revoke, a roll or an
account deletion still takes effect at once, here and in every other process."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import fresh_database, make_settings
from tests.partner import open_account
from tests.server import RunningServer


@pytest.fixture
def two_servers(postgres_url: str, tmp_path: Path) -> Iterator[tuple[RunningServer, RunningServer]]:
    """Two processes' worth of Tidings on one PostgreSQL database."""
    with (
        fresh_database("postgresql", tmp_path) as url,
        RunningServer(make_settings(url, tmp_path / "a")) as first,
        RunningServer(make_settings(url, tmp_path / "b")) as second,
    ):
        yield first, second


def _status_on(server: RunningServer, key: str) -> int:
    return httpx.get(f"{server.base_url}/v1/webhooks", headers={"X-Api-Key": key}).status_code


def _until_refused(server: RunningServer, key: str, within: float) -> float:
    started = time.monotonic()
    while time.monotonic() - started < within:
        if _status_on(server, key) == 401:
            return time.monotonic() - started
        time.sleep(0.01)
    raise AssertionError(f"the key still worked on the other server after {within}s")


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
        # Well under the cache's one second: the change was announced, not waited out.
        assert _until_refused(second, key, within=0.5) < 0.5
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
        _until_refused(second, key, within=0.5)
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
        _until_refused(second, key, within=0.5)


def test_a_webhook_made_on_one_server_gets_the_next_event_published_on_the_other(
    two_servers: tuple[RunningServer, RunningServer],
) -> None:
    # Where events go is cached too (api/route_cache.py), and announced the same way.
    first, second = two_servers
    with open_account(first) as on_first:
        key = str(on_first.headers["X-Api-Key"])
        assert on_first.post("/v1/event-types", json={"name": "order.paid"}).status_code == 201
        with httpx.Client(base_url=second.base_url, headers={"X-Api-Key": key}) as on_second:
            event = {"eventType": "order.paid", "eventData": {}}
            before = on_second.post("/v1/events", json=event)
            assert before.status_code == 202, before.text
            assert before.json()["notifications"] == []

            hook = on_first.post("/v1/webhooks", json={"url": "https://example.com/hook"})
            assert hook.status_code == 201
            time.sleep(0.2)  # the NOTIFY's way across, far below the cache's second
            after = on_second.post("/v1/events", json=event).json()["notifications"]
            assert [n["webhookId"] for n in after] == [hook.json()["id"]]

            disabled = on_first.post(f"/v1/webhooks/{hook.json()['id']}/disable")
            assert disabled.status_code == 200, disabled.text
            time.sleep(0.2)
            assert on_second.post("/v1/events", json=event).json()["notifications"] == []
