"""First start: make sure an operator key exists."""

from __future__ import annotations

import sqlalchemy as sa

from tidings.config import Settings
from tidings.core.clock import Clock
from tidings.store import accounts as store
from tidings.store.db import Database

BOOTSTRAP_LOCK = 0x74696469_626F6F


async def ensure_operator_key(db: Database, settings: Settings, clock: Clock) -> str | None:
    """Install ``TIDINGS_OPERATOR_KEY`` if given, or generate a key when none exists yet.
    Returns the plaintext of a newly generated key (to show once), else None."""
    async with db.write() as conn:
        if conn.dialect.name == "postgresql":
            # Processes starting together take turns: one key, installed once.
            await conn.execute(sa.text("SELECT pg_advisory_xact_lock(:k)"), {"k": BOOTSTRAP_LOCK})
        if settings.operator_key:
            if await store.find_key(conn, settings.operator_key) is None:
                await store.create_key(
                    conn,
                    account_id=None,
                    key_type="operator",
                    name="operator (from TIDINGS_OPERATOR_KEY)",
                    now=clock.now(),
                    plaintext=settings.operator_key,
                )
            return None
        if await store.has_operator_key(conn):
            return None
        _row, plaintext = await store.create_key(
            conn, account_id=None, key_type="operator", name="operator", now=clock.now()
        )
        return plaintext
