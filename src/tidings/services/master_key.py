"""Re-encrypting every stored secret under the current master key (``tidings
rotate-master-key``). Rows are rewritten one batch per transaction, each readable throughout
with either key."""

from __future__ import annotations

from collections.abc import Callable

from tidings.core.crypto import Keyring
from tidings.core.sealing import needs_resealing, open_webhook, seal_webhook
from tidings.store import pulls as pull_store
from tidings.store import users as user_store
from tidings.store import webhooks as store
from tidings.store.db import Database

BATCH = 200


async def count_rows(db: Database) -> int:
    async with db.read() as conn:
        return await store.count_all(conn) + await pull_store.count_passwords(conn)


async def reseal_all(
    db: Database, keyring: Keyring, advance: Callable[[int], None] = lambda _n: None
) -> int:
    """Re-encrypt what is in clear or under an older key; returns how many rows changed."""
    changed = 0
    last = ""
    while True:
        async with db.write() as conn:
            rows = await store.batch_after(conn, last, BATCH)
            for row in rows:
                if not needs_resealing(row, keyring):
                    continue
                opened = open_webhook(row, keyring)
                values = {
                    "secret": opened.secret,
                    "password": opened.password,
                    "headers": opened.headers,
                    "old_secrets": opened.old_secrets,
                }
                await store.update(conn, row.id, seal_webhook(values, keyring))
                changed += 1
        if not rows:
            return (
                changed
                + await _reseal_pulls(db, keyring, advance)
                + await _reseal_seeds(db, keyring)
            )
        last = rows[-1].id
        advance(len(rows))


async def _reseal_pulls(db: Database, keyring: Keyring, advance: Callable[[int], None]) -> int:
    """Pull passwords (a run needs them back, so they are encrypted like webhook secrets)."""
    changed = 0
    last = ""
    while True:
        async with db.write() as conn:
            rows = await pull_store.sealed_passwords(conn, last, BATCH)
            for row in rows:
                if keyring.is_current(row.password):
                    continue
                password = keyring.encrypt(keyring.decrypt(row.password))
                await pull_store.update(conn, row.id, {"password": password})
                changed += 1
        if not rows:
            return changed
        last = rows[-1].id
        advance(len(rows))


async def _reseal_seeds(db: Database, keyring: Keyring) -> int:
    """Dashboard users' TOTP seeds, encrypted like webhook secrets."""
    changed = 0
    async with db.write() as conn:
        for row in await user_store.sealed_seeds(conn):
            if keyring.is_current(row.totp_secret):
                continue
            opened = keyring.decrypt(row.totp_secret)
            await user_store.update(conn, row.id, {"totp_secret": keyring.encrypt(opened)})
            changed += 1
    return changed
