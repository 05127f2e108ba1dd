"""First start: make sure an operator key exists."""

from __future__ import annotations

from tidings.config import Settings
from tidings.core.clock import Clock
from tidings.store import keys as store
from tidings.store.db import Database


async def ensure_operator_key(db: Database, settings: Settings, clock: Clock) -> str | None:
    """Install ``TIDINGS_OPERATOR_KEY`` if given, or generate a key when none exists yet.
    Returns the plaintext of a newly generated key (to show once), else None."""
    async with db.write() as conn:
        # Processes starting together take turns: one key, installed once.
        await store.bootstrap_lock(conn)
        if settings.operator_key:
            if await store.find(conn, settings.operator_key) is None:
                await store.create(
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
        _row, plaintext = await store.create(
            conn, account_id=None, key_type="operator", name="operator", now=clock.now()
        )
        return plaintext
