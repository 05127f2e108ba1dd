"""Retention: logs, attempts and events older than their settings are deleted in batches;
younger rows stay, and so does an event that is still being delivered.

The rows are dated in 2001 and the clock is set just after, so the other tests' rows (dated
now) are younger than any cutoff here and the shared database keeps them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.support.clock import FakeClock
from tests.support.databases import make_settings
from tests.support.partner import eventually
from tests.support.server import RunningServer
from tidings.config import Settings
from tidings.core.clock import MICROS
from tidings.core.crypto import Keyring, new_key
from tidings.core.ids import new_id, new_request_id
from tidings.runtime.context import Context
from tidings.runtime.scheduler import run_retention
from tidings.store.db import Database
from tidings.store.migrate import upgrade
from tidings.store.tables import attempts, events, logs, notifications

DAY = 86400 * MICROS
NOW = 978_307_200 * MICROS  # 2001-01-01T00:00:00Z
# A pending notification's next try, far off: no test server's worker may claim it meanwhile.
LATER = 4_102_444_800 * MICROS  # 2100


def _log(at: int) -> dict[str, Any]:
    return {
        "id": new_request_id(),
        "account_id": "acc_retention",
        "key_id": None,
        "created_at": at,
        "type": "normal",
        "method": "GET",
        "path": "/v1/webhooks",
        "query": None,
        "status_code": 200,
        "outcome": "succeeded",
        "duration_ms": 1.0,
        "client_ip": "127.0.0.1",
        "request_headers": {},
        "request_body": None,
        "response_body": None,
        "event_ids": None,
    }


def _attempt(notification_id: str, at: int) -> dict[str, Any]:
    return {
        "id": new_id("att"),
        "notification_id": notification_id,
        "account_id": "acc_retention",
        "webhook_id": "wh_retention",
        "attempted_at": at,
        "status_code": 500,
        "response_body": None,
        "duration_ms": 1.0,
        "error": None,
        "outcome": "failed",
    }


def _event(at: int) -> dict[str, Any]:
    return {
        "id": new_id("evt"),
        "account_id": "acc_retention",
        "event_type": "payment.updated",
        "data": b"{}",
        "is_test": False,
        "created_at": at,
    }


def _notification(event_id: str, status: str, at: int) -> dict[str, Any]:
    return {
        "id": new_id("ntf"),
        "account_id": "acc_retention",
        "event_id": event_id,
        "webhook_id": "wh_retention",
        "event_type": "payment.updated",
        "is_test": False,
        "status": status,
        "attempt_count": 1,
        "retry_index": 0,
        "next_attempt_at": LATER if status == "pending" else None,
        "created_at": at,
        "updated_at": at,
    }


class Rows:
    """What a test inserted, by name, to look up after retention ran."""

    def __init__(self) -> None:
        self.by_table: dict[sa.Table, list[dict[str, Any]]] = {}
        self.names: dict[str, str] = {}

    def add(self, table: sa.Table, row: dict[str, Any], name: str | None = None) -> str:
        self.by_table.setdefault(table, []).append(row)
        if name:
            self.names[name] = row["id"]
        return str(row["id"])

    async def insert(self, db: Database) -> None:
        async with db.write() as conn:
            for table, rows in self.by_table.items():
                await conn.execute(table.insert(), rows)

    async def remaining(self, db: Database) -> set[str]:
        """The names whose rows are still stored."""
        left: set[str] = set()
        async with db.read() as conn:
            for table in (logs, attempts, events, notifications):
                query = sa.select(table.c.id).where(table.c.id.in_(list(self.names.values())))
                left |= set((await conn.execute(query)).scalars())
        return {name for name, ident in self.names.items() if ident in left}


def _context(server: RunningServer, tmp_path: Path, **settings: Any) -> Context:
    configured = make_settings(server.settings.database_url, tmp_path, **settings)
    return Context(
        settings=configured,
        db=Database(configured.resolved_database_url()),
        keyring=Keyring(new_key()),
        clock=FakeClock(start=NOW),
    )


def _scenario() -> Rows:
    rows = Rows()
    # Logs: kept 10 days in these tests; 1,000-row batches, so 2,500 old ones take three.
    for n in range(2500):
        rows.add(logs, _log(NOW - 11 * DAY - n), f"log_old_{n}")
    rows.add(logs, _log(NOW - 9 * DAY), "log_young")
    # Attempts: kept 20 days, whatever their notification's state.
    rows.add(attempts, _attempt("ntf_elsewhere", NOW - 21 * DAY), "attempt_old")
    rows.add(attempts, _attempt("ntf_elsewhere", NOW - 19 * DAY), "attempt_young")
    # Events: kept 30 days, with their notifications and attempts.
    done = rows.add(events, _event(NOW - 31 * DAY), "event_done")
    sent = rows.add(notifications, _notification(done, "succeeded", NOW - 31 * DAY), "event_done_n")
    rows.add(attempts, _attempt(sent, NOW - 1 * DAY), "event_done_a")  # young, but goes with it
    failed = rows.add(notifications, _notification(done, "failed", NOW - 31 * DAY), "event_done_f")
    rows.add(attempts, _attempt(failed, NOW - 2 * DAY), "event_done_fa")
    rows.add(events, _event(NOW - 40 * DAY), "event_bare")  # no webhook matched it
    busy = rows.add(events, _event(NOW - 31 * DAY), "keep_event_pending")
    rows.add(notifications, _notification(busy, "succeeded", NOW - 31 * DAY), "keep_pending_n1")
    waiting = rows.add(notifications, _notification(busy, "pending", NOW - 31 * DAY), "keep_pn2")
    rows.add(attempts, _attempt(waiting, NOW - 1 * DAY), "keep_pending_a")
    young = rows.add(events, _event(NOW - 29 * DAY), "keep_event_young")
    rows.add(notifications, _notification(young, "succeeded", NOW - 29 * DAY), "keep_young_n")
    return rows


@pytest.fixture
def settings_for_test() -> dict[str, Any]:
    return {
        "log_retention_days": 10,
        "attempt_retention_days": 20,
        "event_retention_days": 30,
        "retention_interval": 0,
    }


def test_old_rows_go_and_young_ones_stay(
    server: RunningServer, tmp_path: Path, settings_for_test: dict[str, Any]
) -> None:
    rows = _scenario()
    ctx = _context(server, tmp_path, **settings_for_test)

    async def run() -> tuple[dict[str, int], set[str]]:
        try:
            await rows.insert(ctx.db)
            counts = await run_retention(ctx)
            return counts, await rows.remaining(ctx.db)
        finally:
            await ctx.db.dispose()

    counts, left = asyncio.run(run())
    assert left == {
        "log_young",
        "attempt_young",
        "keep_event_pending",
        "keep_pending_n1",
        "keep_pn2",
        "keep_pending_a",
        "keep_event_young",
        "keep_young_n",
    }
    assert counts["logs"] >= 2500
    assert counts["attempts"] >= 1
    assert counts["events"] >= 2
    assert counts["notifications"] >= 2


def test_zero_keeps_forever(server: RunningServer, tmp_path: Path) -> None:
    rows = _scenario()
    ctx = _context(
        server,
        tmp_path,
        log_retention_days=0,
        attempt_retention_days=0,
        event_retention_days=0,
    )

    async def run() -> tuple[dict[str, int], set[str]]:
        try:
            await rows.insert(ctx.db)
            counts = await run_retention(ctx)
            return counts, await rows.remaining(ctx.db)
        finally:
            await ctx.db.dispose()

    counts, left = asyncio.run(run())
    assert counts == {"events": 0, "notifications": 0, "attempts": 0, "logs": 0}
    assert left == set(rows.names)


def test_the_server_runs_retention_by_itself(
    own_database: str, tmp_path: Path, settings_for_test: dict[str, Any]
) -> None:
    # A database of its own: on PostgreSQL, the one scheduler that runs is whichever process
    # took the lock first, and the suite's shared server would be that one.
    rows = Rows()
    rows.add(logs, _log(NOW - 11 * DAY), "log_old")
    rows.add(logs, _log(NOW - 9 * DAY), "log_young")
    settings = make_settings(
        own_database, tmp_path, **{**settings_for_test, "retention_interval": 0.2}
    )
    url = settings.resolved_database_url()

    async def insert() -> None:
        db = Database(url)
        try:
            await rows.insert(db)
        finally:
            await db.dispose()

    async def remaining() -> set[str]:
        db = Database(url)
        try:
            return await rows.remaining(db)
        finally:
            await db.dispose()

    upgrade(url)  # the fresh database has no tables yet
    asyncio.run(insert())
    with RunningServer(settings, clock=FakeClock(start=NOW)):
        eventually(lambda: asyncio.run(remaining()) == {"log_young"}, what="retention run")


@pytest.fixture
def retention_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TIDINGS_LOG_RETENTION_DAYS", "7")
    monkeypatch.setenv("TIDINGS_ATTEMPT_RETENTION_DAYS", "14")
    monkeypatch.setenv("TIDINGS_EVENT_RETENTION_DAYS", "90")
    monkeypatch.setenv("TIDINGS_RETENTION_INTERVAL", "15m")
    yield


def test_settings_come_from_the_environment(retention_env: None) -> None:
    settings = Settings()
    assert settings.log_retention_days == 7
    assert settings.attempt_retention_days == 14
    assert settings.event_retention_days == 90
    assert settings.retention_interval == 900


def test_settings_defaults() -> None:
    settings = Settings()
    assert (
        settings.log_retention_days,
        settings.attempt_retention_days,
        settings.event_retention_days,
        settings.retention_interval,
    ) == (30, 30, 30, 3600)
    with pytest.raises(ValueError):
        Settings(log_retention_days=-1)
