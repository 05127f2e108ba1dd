"""The databases runs use: a fresh PostgreSQL database per run (created and dropped here), and
the checks that every notification ended ``succeeded`` with one attempt recorded."""

from __future__ import annotations

import asyncio
import secrets
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

import asyncpg

from cluster import Deployment

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, ""))


async def postgres_problem(url: str) -> str | None:
    """Why PostgreSQL at ``url`` cannot be used, or None when it can."""
    try:
        conn = await asyncpg.connect(url, timeout=5)
    except Exception as exc:
        return f"PostgreSQL at {urlsplit(url).netloc} unreachable ({type(exc).__name__}: {exc})"
    try:
        await conn.execute("SELECT 1")
    finally:
        await conn.close()
    return None


@asynccontextmanager
async def fresh_postgres(admin_url: str, template: str | None = None) -> AsyncIterator[str]:
    """A new database on the server of ``admin_url``: empty, or a copy of the database at
    ``template`` (which nothing may be connected to); dropped afterwards."""
    name = "tidings_bench_" + secrets.token_hex(6)
    copy = f' TEMPLATE "{urlsplit(template).path.lstrip("/")}"' if template else ""
    conn = await asyncpg.connect(admin_url, timeout=10)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"{copy}')
    finally:
        await conn.close()
    try:
        yield with_database(admin_url, name)
    finally:
        conn = await asyncpg.connect(admin_url, timeout=10)
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


@dataclass
class Outcomes:
    """The notifications of one webhook by status, and their attempts."""

    by_status: dict[str, int] = field(default_factory=dict)
    attempts: int = 0
    # Notifications with exactly one attempt recorded.
    one_attempt: int = 0
    counted_attempts: bool = True

    @property
    def total(self) -> int:
        return sum(self.by_status.values())

    def all_succeeded_once(self, expected: int) -> bool:
        return (
            self.total == expected
            and self.by_status.get("succeeded", 0) == expected
            and self.one_attempt == expected
            and self.attempts == expected
        )

    def describe(self) -> str:
        statuses = ", ".join(f"{n:,} {s}" for s, n in sorted(self.by_status.items()))
        if not self.counted_attempts:
            return f"{self.total:,} notifications ({statuses or 'none'})"
        return (
            f"{self.total:,} notifications ({statuses or 'none'}); {self.attempts:,} attempts; "
            f"{self.one_attempt:,} with exactly one attempt"
        )


_OUTCOMES = """
SELECT n.status, count(*), sum(CASE WHEN a.c = 1 THEN 1 ELSE 0 END), coalesce(sum(a.c), 0)
FROM notifications n
LEFT JOIN (SELECT notification_id, count(*) AS c FROM attempts GROUP BY notification_id) a
  ON a.notification_id = n.id
{where}
GROUP BY n.status
"""

_STATUSES = "SELECT status, count(*) FROM notifications n {where} GROUP BY status"


async def _rows(
    deployment: Deployment, query: str, webhook_id: str | None
) -> list[tuple[int | str | None, ...]]:
    args = () if webhook_id is None else (webhook_id,)
    if deployment.database_url:
        where = "" if webhook_id is None else "WHERE n.webhook_id = $1"
        conn = await asyncpg.connect(deployment.database_url, timeout=10)
        try:
            records = await conn.fetch(query.format(where=where), *args)
        finally:
            await conn.close()
        return [tuple(r) for r in records]

    def read() -> list[tuple[int | str | None, ...]]:
        where = "" if webhook_id is None else "WHERE n.webhook_id = ?"
        uri = f"file:{deployment.sqlite_file}?mode=ro"
        with sqlite3.connect(uri, uri=True, timeout=30) as conn:
            return list(conn.execute(query.format(where=where), args))

    return await asyncio.to_thread(read)


async def outcomes(
    deployment: Deployment, webhook_id: str | None, attempts: bool = True
) -> Outcomes:
    """The notifications of ``webhook_id`` (None: of every webhook) by status; with
    ``attempts``, their attempts too (a join: slower on big tables)."""
    out = Outcomes(counted_attempts=attempts)
    if attempts:
        for status, n, one, tried in await _rows(deployment, _OUTCOMES, webhook_id):
            out.by_status[str(status)] = int(n or 0)
            out.one_attempt += int(one or 0)
            out.attempts += int(tried or 0)
    else:
        for status, n in await _rows(deployment, _STATUSES, webhook_id):
            out.by_status[str(status)] = int(n or 0)
    return out


async def settled(
    deployment: Deployment, webhook_id: str | None, expected: int, within: float = 30.0
) -> Outcomes:
    """The outcomes once every notification succeeded with one attempt, or as they are after
    ``within`` seconds (outcomes are written in batches a little after the receipts)."""
    deadline = time.monotonic() + within
    while True:
        found = await outcomes(deployment, webhook_id)
        if found.all_succeeded_once(expected) or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.25)


async def clone_notifications(
    url: str, template_id: str, count: int, now_micros: int, advance: Callable[[int], None]
) -> None:
    """``count - 1`` copies of notification ``template_id`` (so ``count`` in all), due at
    ``now_micros``, in chunks. Every column is copied from the template row as Tidings wrote
    it, except the id (``ntf_`` + the template's first 16 id characters + a 10-digit serial:
    unique, 26 characters, time-sortable like Tidings' own) and the due time."""
    conn = await asyncpg.connect(url, timeout=10)
    try:
        columns = [
            r["column_name"]
            for r in await conn.fetch(
                "SELECT column_name FROM information_schema.columns "
                "WHERE table_name = 'notifications' AND table_schema = current_schema() "
                "ORDER BY ordinal_position"
            )
        ]
        exprs = {
            "id": "'ntf_' || substr(t.id, 5, 16) || lpad(g::text, 10, '0')",
            "next_attempt_at": "$2::bigint",
        }
        select = ", ".join(exprs.get(c, f't."{c}"') for c in columns)
        names = ", ".join(f'"{c}"' for c in columns)
        chunk = 50_000
        done = 1
        advance(1)
        await conn.execute(
            "UPDATE notifications SET next_attempt_at = $2 WHERE id = $1", template_id, now_micros
        )
        while done < count:
            n = min(chunk, count - done)
            await conn.execute(
                f"INSERT INTO notifications ({names}) SELECT {select} "
                "FROM notifications t, generate_series($3::bigint, $4::bigint) g "
                "WHERE t.id = $1",
                template_id,
                now_micros,
                done,
                done + n - 1,
            )
            done += n
            advance(n)
        # What autovacuum would soon do for a table that grew this much.
        await conn.execute("ANALYZE notifications")
        await conn.execute("ANALYZE events")
    finally:
        await conn.close()
