"""Pulls: scheduled fetches of a partner URL, always read within one account, and the leases
that let exactly one process run a given pull at a time.

A lease is ``leased_by`` (the process) and ``lease_until``: while it lasts no other process
claims the pull; once it has passed (the process was killed) any process may take it over. On
PostgreSQL the claim skips rows another transaction is claiming (``FOR UPDATE SKIP LOCKED``);
on SQLite a write transaction holds the database's one write lock, so the conditional update
alone decides."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.store.owned import Owned
from tidings.store.tables import pull_runs, pull_seen, pulls

_rows = Owned(pulls)
get = _rows.get
by_id = _rows.by_id
page = _rows.page
insert = _rows.insert
update = _rows.update


async def delete(conn: AsyncConnection, pull_id: str) -> None:
    """The pull, its runs and the record ids it has seen (the events it made stay)."""
    await conn.execute(pull_seen.delete().where(pull_seen.c.pull_id == pull_id))
    await conn.execute(pull_runs.delete().where(pull_runs.c.pull_id == pull_id))
    await conn.execute(pulls.delete().where(pulls.c.id == pull_id))


async def disable_all(conn: AsyncConnection, account_id: str, reason: str, now: int) -> None:
    """Stop every pull of an account (it was deleted): none runs again."""
    values = {"status": "Disabled", "disabled_reason": reason, "next_run_at": None}
    await _rows.disable_all(conn, account_id, {**values, "updated_at": now})


def _lease_free(now: int) -> sa.ColumnElement[bool]:
    return sa.or_(pulls.c.lease_until.is_(None), pulls.c.lease_until <= now)


async def claim_due(
    conn: AsyncConnection, runner_id: str, *, now: int, lease_until: int, limit: int
) -> list[Row[Any]]:
    """Lease up to ``limit`` Active pulls whose next run is due and which no live lease holds;
    the rows as leased."""
    query = (
        sa.select(pulls.c.id)
        .where(
            sa.and_(
                pulls.c.status == "Active",
                pulls.c.next_run_at.is_not(None),
                pulls.c.next_run_at <= now,
                _lease_free(now),
            )
        )
        .order_by(pulls.c.next_run_at)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    chosen = list((await conn.execute(query)).scalars())
    if not chosen:
        return []
    # Conditional again: on SQLite nothing was locked, and the lease must still be free.
    await conn.execute(
        pulls.update()
        .where(sa.and_(pulls.c.id.in_(chosen), _lease_free(now)))
        .values(leased_by=runner_id, lease_until=lease_until)
    )
    query_rows = pulls.select().where(
        sa.and_(pulls.c.id.in_(chosen), pulls.c.leased_by == runner_id)
    )
    return list((await conn.execute(query_rows)).all())


async def claim_one(
    conn: AsyncConnection, account_id: str, pull_id: str, runner_id: str, *, now: int, until: int
) -> bool:
    """Lease one pull now (a run asked for by the API), unless a live lease holds it."""
    result = await conn.execute(
        pulls.update()
        .where(sa.and_(pulls.c.id == pull_id, pulls.c.account_id == account_id, _lease_free(now)))
        .values(leased_by=runner_id, lease_until=until)
    )
    return bool(result.rowcount)


async def renew(conn: AsyncConnection, pull_id: str, runner_id: str, until: int) -> bool:
    """Extend the lease ``runner_id`` holds; False when it holds it no more (taken over)."""
    result = await conn.execute(
        pulls.update()
        .where(sa.and_(pulls.c.id == pull_id, pulls.c.leased_by == runner_id))
        .values(lease_until=until)
    )
    return bool(result.rowcount)


async def finish(
    conn: AsyncConnection, pull_id: str, runner_id: str, values: dict[str, Any]
) -> bool:
    """Release the lease with the run's outcome in ``values``; False (nothing written) when
    the lease was lost, so the caller rolls its transaction back."""
    result = await conn.execute(
        pulls.update()
        .where(sa.and_(pulls.c.id == pull_id, pulls.c.leased_by == runner_id))
        .values({**values, "leased_by": None, "lease_until": None})
    )
    return bool(result.rowcount)


async def release(conn: AsyncConnection, pull_id: str, runner_id: str) -> None:
    """Hand a lease back without a run (shutting down, or the run could not start)."""
    await conn.execute(
        pulls.update()
        .where(sa.and_(pulls.c.id == pull_id, pulls.c.leased_by == runner_id))
        .values(leased_by=None, lease_until=None)
    )


async def sealed_passwords(conn: AsyncConnection, after: str, limit: int) -> list[Any]:
    """Pulls with a password, by id after ``after`` (re-encrypting under a new master key)."""
    query = (
        sa.select(pulls.c.id, pulls.c.password)
        .where(sa.and_(pulls.c.id > after, pulls.c.password.is_not(None)))
        .order_by(pulls.c.id)
        .limit(limit)
    )
    return list((await conn.execute(query)).all())


async def count_passwords(conn: AsyncConnection) -> int:
    query = sa.select(sa.func.count()).select_from(pulls).where(pulls.c.password.is_not(None))
    return int((await conn.execute(query)).scalar_one())
