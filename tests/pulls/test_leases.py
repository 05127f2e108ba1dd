"""The lease on a pull (store/pulls.py), on the database itself: one claimer at a time, many
concurrent claimers taking each due pull once, and a killed process's lease taken over once
it has run out (the killed process then writes nothing)."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

from tests.support.databases import make_settings
from tidings.store import pulls
from tidings.store.db import Database
from tidings.store.migrate import upgrade

NOW = 1_800_000_000_000_000
LEASE = 60_000_000


def _engine_url(database_url: str, tmp_path: Path) -> str:
    """The database migrated, and its URL as the store's engine takes it."""
    url = make_settings(database_url, tmp_path).resolved_database_url()
    upgrade(url)
    return url


def _row(n: int, next_run_at: int = NOW) -> dict[str, Any]:
    return {
        "id": f"pull_{n:026d}",
        "account_id": "acc_test",
        "name": f"pull {n}",
        "url": "http://partner.example/feed",
        "timezone": "UTC",
        "frequency": "hourly",
        "schedule": ":00",
        "event_type": "booking.created",
        "status": "Active",
        "next_run_at": next_run_at,
        "consecutive_failures": 0,
        "created_at": NOW,
        "updated_at": NOW,
    }


async def _claim(db: Database, runner: str, now: int, limit: int = 10) -> list[str]:
    async with db.write() as conn:
        rows = await pulls.claim_due(conn, runner, now=now, lease_until=now + LEASE, limit=limit)
    return [r.id for r in rows]


def test_a_lease_holds_until_it_runs_out_then_is_taken_over(
    own_database: str, tmp_path: Path
) -> None:
    url = _engine_url(own_database, tmp_path)

    async def scenario() -> None:
        db = Database(url)
        try:
            async with db.write() as conn:
                await pulls.insert(conn, _row(1))
                await pulls.insert(conn, _row(2, next_run_at=NOW + 10 * LEASE))  # not due
                await pulls.insert(conn, {**_row(3), "status": "Disabled"})
            assert await _claim(db, "prn_a", NOW) == [_row(1)["id"]]
            # Held: nobody else gets it, even as time passes within the lease.
            assert await _claim(db, "prn_b", NOW + LEASE - 1) == []
            async with db.write() as conn:
                assert not await pulls.claim_one(
                    conn, "acc_test", _row(1)["id"], "prn_api", now=NOW, until=NOW + LEASE
                )
            # "prn_a" was killed: once its lease has run out, another takes the pull over ...
            assert await _claim(db, "prn_b", NOW + LEASE) == [_row(1)["id"]]
            # ... and the killed one, come back, can neither renew nor record its run.
            async with db.write() as conn:
                assert not await pulls.renew(conn, _row(1)["id"], "prn_a", NOW + 2 * LEASE)
                assert not await pulls.finish(conn, _row(1)["id"], "prn_a", {"etag": "x"})
                assert await pulls.finish(
                    conn, _row(1)["id"], "prn_b", {"next_run_at": NOW + 10 * LEASE}
                )
                row = await pulls.by_id(conn, _row(1)["id"])
            assert row is not None and row.leased_by is None and row.etag is None
        finally:
            await db.dispose()

    asyncio.run(scenario())


def test_concurrent_claimers_take_each_due_pull_once(own_database: str, tmp_path: Path) -> None:
    url = _engine_url(own_database, tmp_path)

    async def scenario() -> Counter[str]:
        # Separate engines, as separate processes would have.
        dbs = [Database(url) for _ in range(4)]
        try:
            async with dbs[0].write() as conn:
                for n in range(40):
                    await pulls.insert(conn, _row(n))
            claimed: Counter[str] = Counter()

            async def claimer(index: int) -> None:
                for _ in range(10):
                    for pull_id in await _claim(dbs[index], f"prn_{index}", NOW, limit=3):
                        claimed[pull_id] += 1

            await asyncio.gather(*(claimer(i) for i in range(4)))
            return claimed
        finally:
            for db in dbs:
                await db.dispose()

    claimed = asyncio.run(scenario())
    assert len(claimed) == 40
    assert set(claimed.values()) == {1}
