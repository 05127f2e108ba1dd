"""Webhooks: a partner's endpoints, their subscriptions, settings and signing secrets.

Every rule about a webhook is here: where it may point, its headers, its limits, one URL per
account, masking of what it holds secret, and what a roll of its secret keeps alive."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from tidings.config import Settings
from tidings.core.access import Access
from tidings.core.addresses import literal_ip
from tidings.core.clock import MICROS, to_iso
from tidings.core.errors import DomainError, invalid, not_found
from tidings.core.headers import header_problem
from tidings.core.ids import new_id
from tidings.core.masking import MASK, mask, unmask_headers
from tidings.core.retry import check_schedule
from tidings.core.sealing import open_webhook, seal_webhook
from tidings.core.signing import new_secret
from tidings.core.urls import normalized
from tidings.outbound import resolve
from tidings.runtime.context import Context
from tidings.services.event_types import check_subscription
from tidings.services.paging import Page, account_page
from tidings.store import webhooks as store
from tidings.store.db import Connection
from tidings.store.queue import transitions

# Every field a webhook has, with the value a create (or a PUT leaving it out) gives it.
DEFAULTS: dict[str, Any] = {
    "event_types": [],
    "description": None,
    "category": None,
    "headers": {},
    "ssl_verification_disabled": False,
    "status": "Active",
    "format": "full",
    "signature_scheme": "standard",
    "username": None,
    "password": None,
    "retry_schedule": None,
    "rate_limit": None,
    "ordered": False,
}


def view(row: Any) -> dict[str, Any]:
    """An opened webhook row as shown: secret-bearing values masked."""
    return {
        "id": row.id,
        "url": _shown_url(row),
        "event_types": row.event_types,
        "description": row.description,
        "category": row.category,
        "headers": {k: mask(v) for k, v in row.headers.items()},
        "ssl_verification_disabled": row.ssl_verification_disabled,
        "status": row.status,
        "disabled_reason": row.disabled_reason,
        "format": row.format,
        "signature_scheme": row.signature_scheme,
        "username": mask(row.username) if row.username else None,
        "password": mask(row.password) if row.password else None,
        "retry_schedule": row.retry_schedule,
        "rate_limit": row.rate_limit,
        "ordered": row.ordered,
        "created_at": to_iso(row.created_at),
        "last_modified_at": to_iso(row.updated_at),
    }


def _shown_url(row: Any) -> str:
    """The URL, with ``****:****@`` where basic-auth credentials apply (seed 003)."""
    if not row.username:
        return str(row.url)
    parts = urlsplit(row.url)
    userinfo = MASK + (f":{MASK}" if row.password else "")
    return str(urlunsplit(parts._replace(netloc=f"{userinfo}@{parts.netloc}")))


def check_url(url: str) -> None:
    """A URL a delivery can be made to, or a 422 naming ``url``."""
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise invalid("url", "url must not contain whitespace or control characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise invalid("url", "url must be an http:// or https:// URL")
    if not parts.hostname:
        raise invalid("url", "url must name a host")
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError as exc:
        raise invalid("url", f"url has an invalid port: {exc}") from None


def check_target(url: str, settings: Settings) -> None:
    """Refuse at once what delivery would refuse anyway: plain http when HTTPS is required,
    and a literal private address (names are checked when connecting, as they may change)."""
    parts = urlsplit(url)
    if settings.require_https and parts.scheme != "https":
        raise invalid("url", "url must be https:// (TIDINGS_REQUIRE_HTTPS is set)")
    ip = literal_ip(parts.hostname or "")
    refusal = settings.address_policy().refusal(ip) if ip is not None else None
    if refusal:
        raise invalid("url", f"url: {refusal}")


def _prepared(changes: dict[str, Any], current: Any, settings: Settings) -> dict[str, Any]:
    """Checked, ready-to-store values: URL credentials move to username/password (which are
    encrypted at rest), and masked values sent back as they were shown keep the stored ones."""
    if "url" in changes:
        check_url(changes["url"])
        parts = urlsplit(changes["url"])
        if parts.username is not None or parts.password is not None:
            changes["url"] = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
            # Credentials shown masked (****) and sent back unchanged keep the stored ones.
            if parts.username and changes.get("username") is None and parts.username != MASK:
                changes["username"] = unquote(parts.username)
            if parts.password and changes.get("password") is None and parts.password != MASK:
                changes["password"] = unquote(parts.password)
        check_target(changes["url"], settings)
    if changes.get("retry_schedule") is not None:
        try:
            check_schedule(changes["retry_schedule"])
        except ValueError as exc:
            raise invalid("retrySchedule", f"retrySchedule: {exc}") from None
    if len(changes.get("event_types") or []) > settings.max_event_types_per_webhook:
        raise invalid(
            "eventTypes", f"at most {settings.max_event_types_per_webhook} event types per webhook"
        )
    if len(changes.get("headers") or {}) > settings.max_headers_per_webhook:
        raise invalid("headers", f"at most {settings.max_headers_per_webhook} headers per webhook")
    if "headers" in changes:
        if current is not None:
            changes["headers"] = unmask_headers(changes["headers"], current.headers)
        for name, value in changes["headers"].items():
            problem = header_problem(name, value, settings.brand)
            if problem:
                raise invalid(f"headers.{name}", problem)
    for field in ("username", "password"):
        stored = getattr(current, field, None)
        if changes.get(field) and stored and changes[field] == mask(stored):
            changes[field] = stored
    return changes


async def _existing(conn: Connection, ctx: Context, access: Access, webhook_id: str) -> Any:
    """The account's webhook with its secrets readable, or a 404 (also for one outside a
    category-limited key's categories)."""
    row = await store.get(conn, access.account_id, webhook_id)
    if row is None or not access.sees(row.category):
        raise not_found("webhook", webhook_id)
    return open_webhook(row, ctx.keyring)


async def check_reachable(url: str, settings: Settings) -> None:
    """A host name that resolves only to refused addresses is a 422 now, rather than a failed
    delivery later (names are checked again at each connection)."""
    refused = await resolve.refusal(urlsplit(url).hostname or "", settings.address_policy())
    if refused:
        raise invalid("url", f"url: {refused}")


async def _ensure_url_free(
    conn: Connection, account_id: str, url: str, except_id: str | None = None
) -> None:
    """One webhook per URL and account, URLs compared normalised (case of scheme and host,
    default port, trailing slash)."""
    wanted = normalized(url)
    for webhook_id, taken in await store.urls(conn, account_id):
        if webhook_id != except_id and normalized(taken) == wanted:
            raise DomainError(
                409,
                f"another webhook of this account already uses this URL ({webhook_id})",
                field="url",
            )


async def _check_routing(ctx: Context, access: Access, values: Any) -> None:
    """Its category is the caller's to use, and each eventTypes entry names an existing type
    of that category, or is a pattern."""
    access.may_place(values["category"])
    await check_subscription(ctx, access.account_id, values["event_types"], values["category"])


async def create(ctx: Context, access: Access, fields: dict[str, Any]) -> dict[str, Any]:
    """A new webhook; its view carries the signing secret (``secret``)."""
    values = _prepared({**DEFAULTS, **fields}, None, ctx.settings)
    await _check_routing(ctx, access, values)
    await check_reachable(values["url"], ctx.settings)
    now = ctx.clock.now()
    webhook_id = new_id("wh")
    secret = new_secret()
    limit = ctx.settings.max_webhooks_per_account
    async with ctx.db.write() as conn:
        await _ensure_url_free(conn, access.account_id, values["url"])
        if await store.count(conn, access.account_id) >= limit:
            raise invalid(
                "webhooks",
                f"this account has {limit} webhooks, the most allowed "
                "(TIDINGS_MAX_WEBHOOKS_PER_ACCOUNT)",
            )
        await store.insert(
            conn,
            seal_webhook(
                {
                    **values,
                    "id": webhook_id,
                    "account_id": access.account_id,
                    "secret": secret,
                    "created_at": now,
                    "updated_at": now,
                },
                ctx.keyring,
            ),
        )
        row = await _existing(conn, ctx, access, webhook_id)
    ctx.routes.changed()
    return {**view(row), "secret": secret}


async def page(
    ctx: Context, access: Access, *, limit: int, cursor: str | None = None, **filters: Any
) -> Page:
    """``filters``: status, category (see store/webhooks.py)."""
    view_of = lambda r: view(open_webhook(r, ctx.keyring))  # noqa: E731
    return await account_page(
        ctx, access, store.page, view_of, limit=limit, cursor=cursor, **filters
    )


async def get(ctx: Context, access: Access, webhook_id: str) -> dict[str, Any]:
    async with ctx.db.read() as conn:
        return view(await _existing(conn, ctx, access, webhook_id))


async def replace(
    ctx: Context, access: Access, webhook_id: str, fields: dict[str, Any]
) -> dict[str, Any]:
    """Replace every field; a field left out takes its default."""
    return await update(ctx, access, webhook_id, {**DEFAULTS, **fields})


async def update(
    ctx: Context, access: Access, webhook_id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """Change the given fields (status included: Active clears disabledReason, Disabled sets
    it to manual)."""
    if "url" in changes:
        # Before the transaction: resolving a name may take a moment.
        check_url(changes["url"])
        await check_reachable(changes["url"], ctx.settings)
    async with ctx.db.write() as conn:
        row = await _existing(conn, ctx, access, webhook_id)
        changes = _prepared(dict(changes), row, ctx.settings)
        if "event_types" in changes or "category" in changes:
            await _check_routing(
                ctx,
                access,
                {
                    "event_types": changes.get("event_types", row.event_types),
                    "category": changes.get("category", row.category),
                },
            )
        if "url" in changes:
            await _ensure_url_free(conn, access.account_id, changes["url"], except_id=webhook_id)
        if changes.get("status") == "Active":
            changes["disabled_reason"] = None
        elif changes.get("status") == "Disabled" and row.status != "Disabled":
            changes["disabled_reason"] = "manual"
        changes["updated_at"] = ctx.clock.now()
        await store.update(conn, row.id, seal_webhook(changes, ctx.keyring))
        shown = view(await _existing(conn, ctx, access, webhook_id))
    ctx.routes.changed()
    return shown


async def set_status(ctx: Context, access: Access, webhook_id: str, status: str) -> dict[str, Any]:
    return await update(ctx, access, webhook_id, {"status": status})


async def delete(ctx: Context, access: Access, webhook_id: str) -> None:
    """Delete the webhook. Its notifications stay in the log; those still pending end failed."""
    now = ctx.clock.now()
    async with ctx.db.write() as conn:
        row = await _existing(conn, ctx, access, webhook_id)
        # Notification rows before the webhook row (store/queue/transitions.py).
        await transitions.end_pending(conn, webhook_id=row.id, reason="webhook deleted", now=now)
        await store.delete(conn, row.id)
    ctx.routes.changed()


async def secret(ctx: Context, access: Access, webhook_id: str) -> str:
    async with ctx.db.read() as conn:
        row = await _existing(conn, ctx, access, webhook_id)
    return str(row.secret)


async def roll_secret(
    ctx: Context, access: Access, webhook_id: str, expires_in: float
) -> tuple[str, str]:
    """A new signing secret, and when the current one stops signing. Until then every delivery
    carries a signature with each live secret, so a receiver can switch without losing one."""
    now = ctx.clock.now()
    expires_at = now + int(expires_in * MICROS)
    new = new_secret()
    async with ctx.db.write() as conn:
        row = await _existing(conn, ctx, access, webhook_id)
        live = [s for s in row.old_secrets or [] if s["expiresAt"] > now]
        if expires_at > now:
            live.append({"secret": row.secret, "expiresAt": expires_at})
        sealed = seal_webhook({"secret": new, "old_secrets": live or None}, ctx.keyring)
        await store.update(conn, row.id, {**sealed, "updated_at": now})
    # What is sent changed: whatever holds webhook rows (a worker's hand-off) reads it again.
    ctx.routes.changed()
    return new, to_iso(expires_at) or ""


async def replay(
    ctx: Context,
    access: Access,
    webhook_id: str,
    since: datetime,
    until: datetime | None,
    status: str,
) -> int:
    """Queue again this webhook's notifications created in [since, until) with the given
    status (failed, succeeded or all), as new attempts of the same notifications (same ids)."""
    now = ctx.clock.now()
    statuses = ("failed", "succeeded") if status == "all" else (status,)
    async with ctx.db.write() as conn:
        row = await _existing(conn, ctx, access, webhook_id)
        count = await transitions.requeue_window(conn, row.id, statuses, since, until, now)
    if count:
        ctx.wake_worker()
    return count
