"""Authentication keeps keys it found for a moment (runtime/key_cache.py); a revoke, a roll or
an account deletion still takes effect at once, here and in every other process.

Here the caches keep what they found for a minute rather than a second, so that only the
announcement (NOTIFY) can explain a change seen within the generous bounds below: waiting the
cache out would take far longer, and a loaded machine is not mistaken for a lost announcement."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tidings_client import UnauthorizedError

from tests.support.databases import fresh_database, make_settings
from tests.support.partner import eventually, open_partner, tidings_at
from tests.support.processes import tidings
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


def _accepted_on(server: RunningServer, key: str) -> bool:
    """Whether ``server`` takes ``key``: it answers a call made with it, or refuses the key
    (401); any other answer fails the test."""
    with tidings_at(server.base_url, key) as holder:
        try:
            holder.webhooks.list().first()
        except UnauthorizedError:
            return False
    return True


def _until_refused(server: RunningServer, key: str) -> None:
    """The key is refused on ``server`` well before its cache entry could run out."""
    eventually(
        lambda: not _accepted_on(server, key),
        ANNOUNCED_WITHIN,
        "the key refused on the other server",
    )


def test_a_revoke_on_one_server_stops_the_key_on_the_other_at_once(
    two_servers: tuple[RunningServer, RunningServer],
) -> None:
    first, second = two_servers
    with open_partner(first) as partner:
        made = partner.api_keys.create("doomed")
        key, key_id = made["key"], made["id"]
        # The second server has just authenticated it: it holds the key in its cache.
        assert _accepted_on(second, key)
        partner.api_keys.revoke(key_id)
        # Well before the cache's minute: the change was announced, not waited out.
        _until_refused(second, key)
        assert not _accepted_on(first, key)


def test_a_roll_now_stops_the_old_key_on_the_other_server_at_once(
    two_servers: tuple[RunningServer, RunningServer],
) -> None:
    first, second = two_servers
    with open_partner(first) as partner:
        made = partner.api_keys.create("rolled")
        key, key_id = made["key"], made["id"]
        assert _accepted_on(second, key)
        rolled = partner.api_keys.roll(key_id, "now")
        _until_refused(second, key)
        assert _accepted_on(second, rolled["key"])


def test_a_deleted_account_s_keys_stop_on_the_other_server_at_once(
    two_servers: tuple[RunningServer, RunningServer],
) -> None:
    first, second = two_servers
    with (
        open_partner(first) as partner,
        tidings_at(first.base_url, first.operator_key) as operator,
    ):
        key = partner.api_key
        assert _accepted_on(second, key)
        # The database is this test's own: its newest account is the one just opened.
        newest = operator.accounts.list().first()
        operator.accounts.delete(newest["id"])
        _until_refused(second, key)


def test_a_webhook_made_on_one_server_gets_the_next_event_published_on_the_other(
    two_servers: tuple[RunningServer, RunningServer],
) -> None:
    # Where events go is cached too (api/route_cache.py), and announced the same way.
    first, second = two_servers
    with (
        open_partner(first, event_types=["order.paid"]) as on_first,
        tidings_at(second.base_url, on_first.api_key) as on_second,
    ):

        def routed() -> list[str]:
            published = on_second.events.publish("order.paid", {})
            return [n["webhookId"] for n in published["notifications"]]

        assert routed() == []

        hook_id = on_first.webhooks.create("https://example.com/hook")["id"]
        # The NOTIFY's way across, well before the cache's minute.
        eventually(lambda: routed() == [hook_id], ANNOUNCED_WITHIN, "the new webhook")

        on_first.webhooks.disable(hook_id)
        eventually(lambda: routed() == [], ANNOUNCED_WITHIN, "the webhook disabled")


@pytest.mark.parametrize("command", [["keys", "revoke"], ["keys", "roll", "--expires-in", "now"]])
def test_a_change_with_the_command_line_stops_the_key_on_a_sqlite_server_at_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: list[str]
) -> None:
    """No NOTIFY on SQLite: the command line replaces a marker file the server checks on each
    request, so a key it holds in its cache (for a minute here) is refused on the next one."""
    monkeypatch.setattr(key_cache, "TtlCache", lambda ttl, **kw: TtlCache(KEPT if ttl else 0.0))
    url = f"sqlite:///{tmp_path / 'data' / 'tidings.db'}"
    with RunningServer(make_settings(url, tmp_path / "data")) as server, open_partner(server) as p:
        made = p.api_keys.create("doomed")
        assert _accepted_on(server, made["key"])
        verb, *options = command[1:]
        ran = tidings("keys", verb, made["id"], *options, "--database-url", url)
        assert ran.code == 0, ran.text
        assert not _accepted_on(server, made["key"])  # the very next request
