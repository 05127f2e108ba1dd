"""Re-encrypting every stored secret under the current master key (``tidings
rotate-master-key``). Rows are rewritten one batch per transaction, each readable throughout
with either key."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from tidings.core.crypto import Keyring
from tidings.core.sealing import needs_resealing, open_webhook, seal_webhook
from tidings.store.db import Database
from tidings.store.tables import webhooks

BATCH = 200


async def count_rows(db: Database) -> int:
    async with db.read() as conn:
        return int(
            (await conn.execute(sa.select(sa.func.count()).select_from(webhooks))).scalar_one()
        )


async def reseal_all(
    db: Database, keyring: Keyring, advance: Callable[[int], None] = lambda _n: None
) -> int:
    """Re-encrypt what is in clear or under an older key; returns how many rows changed."""
    changed = 0
    last = ""
    while True:
        async with db.write() as conn:
            rows = (
                await conn.execute(
                    webhooks.select()
                    .where(webhooks.c.id > last)
                    .order_by(webhooks.c.id)
                    .limit(BATCH)
                )
            ).all()
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
                await conn.execute(
                    webhooks.update()
                    .where(webhooks.c.id == row.id)
                    .values(seal_webhook(values, keyring))
                )
                changed += 1
        if not rows:
            return changed
        last = rows[-1].id
        advance(len(rows))
