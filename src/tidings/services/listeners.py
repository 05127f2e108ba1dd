"""``tidings listen``: a developer's laptop receives the account's events with no inbound port.

While a listener is connected (a stream the API holds open), it is a webhook of the account
like any other: events are matched to it, each becomes a notification, retried on its
schedule, with every attempt recorded. Only the transport differs: no worker sends these;
the stream hands each due notification to the listener (signed, with the headers a receiver
gets), the listener forwards it to its local URL and reports the answer back. When the
listener leaves, its webhook goes (its pending notifications end); one that vanished without
leaving (a crashed process) is removed once it has not been seen for ``STALE`` seconds.

The signing secret is derived from the API key, so it stays the same across restarts: a
local receiver configured once keeps verifying."""

from __future__ import annotations

import base64
import hmac
from dataclasses import dataclass
from typing import Any

from tidings.core import attempt
from tidings.core.access import Access
from tidings.core.clock import MICROS
from tidings.core.errors import DomainError, not_found
from tidings.core.ids import new_id
from tidings.core.sealing import open_webhook, seal_webhook
from tidings.core.signing import SECRET_PREFIX
from tidings.outbound.sender import Response
from tidings.runtime.context import Context
from tidings.services import deliveries
from tidings.services.event_types import check_subscription
from tidings.store import listeners as store
from tidings.store import notifications as notification_store
from tidings.store.db import Connection
from tidings.store.queue import claim as claims
from tidings.store.queue import transitions
from tidings.store.queue.jobs import Job

# How often a connected listener is marked seen, and after how long unseen it is removed.
HEARTBEAT = 15.0
STALE = 60.0
# Notifications handed to a listener at a time.
BATCH = 16


@dataclass(frozen=True)
class Listener:
    id: str
    account_id: str
    webhook_id: str
    secret: str


def _secret(ctx: Context, key_id: str) -> str:
    """A Standard Webhooks secret of the key's own: the same at every connection."""
    digest = hmac.digest(ctx.keyring.current, b"tidings-listen:" + key_id.encode(), "sha256")
    return SECRET_PREFIX + base64.b64encode(digest).decode()


async def connect(ctx: Context, access: Access, event_types: list[str]) -> Listener:
    """A webhook of the account for this listener, taking ``event_types`` (names or
    ``prefix.*`` patterns; none: every type)."""
    access.caller.require("webhooks", "write")
    key_id = access.caller.key_id or access.caller.user_id or "operator"
    await check_subscription(ctx, access.account_id, event_types, None)
    now = ctx.clock.now()
    listener_id = new_id("lsn")
    webhook_id = new_id("wh")
    secret = _secret(ctx, key_id)
    async with ctx.db.write() as conn:
        await _remove_stale(conn, access.account_id, now)
        await store.insert(
            conn,
            seal_webhook(
                {
                    "id": webhook_id,
                    "account_id": access.account_id,
                    "url": f"listen://{listener_id}",
                    "description": f"tidings listen ({key_id})",
                    "event_types": event_types,
                    "headers": {},
                    "secret": secret,
                    "status": "Active",
                    "listener_id": listener_id,
                    "created_at": now,
                    "updated_at": now,
                },
                ctx.keyring,
            ),
        )
    ctx.routes.changed()
    return Listener(listener_id, access.account_id, webhook_id, secret)


async def _remove_stale(conn: Connection, account_id: str | None, now: int) -> None:
    for webhook_id in await store.stale(conn, account_id, now - int(STALE * MICROS)):
        await _remove(conn, webhook_id, now)


async def _remove(conn: Connection, webhook_id: str, now: int) -> None:
    # Notification rows before the webhook row (store/queue/transitions.py).
    await transitions.end_pending(conn, webhook_id=webhook_id, reason="listener left", now=now)
    await store.delete(conn, webhook_id)


async def disconnect(ctx: Context, listener: Listener) -> None:
    """The listener left: its webhook goes, its pending notifications end."""
    async with ctx.db.write() as conn:
        await _remove(conn, listener.webhook_id, ctx.clock.now())
    ctx.routes.changed()


async def seen(ctx: Context, listener: Listener) -> None:
    async with ctx.db.write() as conn:
        await store.touch(conn, listener.webhook_id, ctx.clock.now())


async def remove_stale(ctx: Context) -> None:
    """Every account's listeners gone unseen (their process died): the scheduler's sweep."""
    async with ctx.db.write() as conn:
        await _remove_stale(conn, None, ctx.clock.now())


async def due(ctx: Context, listener: Listener) -> list[dict[str, Any]]:
    """The listener's due notifications, leased to it, each as the request a receiver gets."""
    now = ctx.clock.now()
    async with ctx.db.write() as conn:
        jobs = await claims.claim_listener(
            conn,
            webhook_id=listener.webhook_id,
            listener_id=listener.id,
            now=now,
            lease_until=now + int(ctx.settings.lease_seconds * MICROS),
            limit=BATCH,
            rules=deliveries.rules(ctx),
        )
    handed = []
    for job in jobs:
        if job.webhook is None:
            continue
        headers, body = attempt.build(
            job, open_webhook(job.webhook, ctx.keyring), ctx.settings.brand, now
        )
        handed.append(
            {
                "notification_id": job.notification_id,
                "event_type": job.event_type,
                "webhook_id": listener.webhook_id,
                "lease": job.lease_until,
                "headers": headers,
                "body": body.decode(),
            }
        )
    return handed


async def report(
    ctx: Context,
    access: Access,
    listener_id: str,
    notification_id: str,
    lease: int,
    response: Response,
) -> None:
    """What the listener's local URL answered to one notification it was handed: recorded as
    an attempt, with retries on the webhook's schedule while the listener stays."""
    now = ctx.clock.now()
    async with ctx.db.read() as conn:
        webhook = await store.of_listener(conn, access.account_id, listener_id)
        if webhook is None:
            raise not_found("listener", listener_id)
        row = await notification_store.get(conn, access.account_id, notification_id)
    if row is None or row.webhook_id != webhook.id:
        raise not_found("notification", notification_id)
    if row.status != "pending":
        raise DomainError(409, f"notification {notification_id!r} has ended already")
    job = Job.of(row, webhook, lease)
    started = now - int(response.duration_ms * 1000)
    outcome = deliveries.outcome_of(job, started, response, ctx.settings, now)
    await deliveries.record(ctx, listener_id, [outcome], deliveries.rules(ctx))
