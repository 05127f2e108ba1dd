"""``/v1/webhooks``: a partner's endpoints, their subscriptions and signing secrets."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit, urlunsplit

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Response
from pydantic import AfterValidator, Field, field_validator
from pydantic.alias_generators import to_camel
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.api.deps import Ctx, account_for
from tidings.api.errors import ApiError, not_found
from tidings.api.event_types import Name
from tidings.api.model import ApiModel, ApiOut, ExpiresIn, NotNull, Page
from tidings.api.timerange import within
from tidings.config import Settings
from tidings.core.addresses import literal_ip
from tidings.core.clock import MICROS, to_iso
from tidings.core.headers import header_problem
from tidings.core.masking import MASK, mask, unmask_headers
from tidings.core.retry import check_schedule
from tidings.core.sealing import open_webhook, seal_webhook
from tidings.core.signing import new_secret
from tidings.ids import new_id
from tidings.store import webhooks as store
from tidings.store.paging import DEFAULT_LIMIT, MAX_LIMIT, fetch_page
from tidings.store.tables import notifications, webhooks

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

Read = Annotated[str, Depends(account_for("webhooks", "read"))]
# Reading the signing secret needs write: with it one can forge deliveries.
Write = Annotated[str, Depends(account_for("webhooks", "write"))]

Status = Literal["Active", "Disabled"]
# The error statuses common to every call are documented in api/errors.py; this one is ours.
URL_TAKEN: dict[int | str, dict[str, Any]] = {
    409: {"description": "Another webhook of this account already uses this URL"}
}


def _check_url(url: str) -> str:
    if any(c.isspace() or ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise ValueError("must not contain whitespace or control characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError("must be an http:// or https:// URL")
    if not parts.hostname:
        raise ValueError("must name a host")
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError as exc:
        raise ValueError(f"has an invalid port: {exc}") from None
    return url


Format = Literal["full", "compact", "raw"]
Scheme = Literal["standard", "hmac-sha256-hex"]
Schedule = Annotated[
    list[str],
    AfterValidator(check_schedule),
    Field(description='Delays between attempts, e.g. ["1m", "5m", "15m", "1h", "3h"]'),
]
Credential = Annotated[str, Field(min_length=1, max_length=200)]


class WebhookFields(ApiModel):
    url: Annotated[str, Field(max_length=2048, description="Where notifications are POSTed")]
    event_types: list[Name] = Field(
        default_factory=list, max_length=500, description="Empty means every event type"
    )
    description: str | None = Field(default=None, max_length=4000)
    category: str | None = Field(default=None, max_length=200)
    headers: dict[str, str] = Field(default_factory=dict, max_length=50)
    ssl_verification_disabled: bool = False
    status: Status = "Active"
    format: Format = Field(default="full", description="full, compact {event,data} or raw")
    signature_scheme: Scheme = Field(
        default="standard",
        description="hmac-sha256-hex adds X-<Brand>-Signature: hex HMAC of the body",
    )
    username: Credential | None = Field(default=None, description="Basic auth for the receiver")
    password: Credential | None = None
    retry_schedule: Schedule | None = Field(
        default=None, description="Overrides the deployment's schedule"
    )
    rate_limit: int | None = Field(
        default=None, ge=1, le=100_000, description="Deliveries per second, at most"
    )
    ordered: bool = Field(
        default=False,
        description="Deliver strictly in event order: each waits for the one before to end",
    )

    _url_ok = field_validator("url")(_check_url)


class WebhookPatch(ApiModel):
    url: Annotated[str | None, Field(max_length=2048), NotNull] = None
    event_types: Annotated[list[Name] | None, NotNull] = Field(default=None, max_length=500)
    description: str | None = Field(default=None, max_length=4000)
    category: str | None = Field(default=None, max_length=200)
    headers: Annotated[dict[str, str] | None, NotNull] = Field(default=None, max_length=50)
    ssl_verification_disabled: Annotated[bool | None, NotNull] = None
    status: Annotated[Status | None, NotNull] = None
    format: Annotated[Format | None, NotNull] = None
    signature_scheme: Annotated[Scheme | None, NotNull] = None
    username: Credential | None = None
    password: Credential | None = None
    retry_schedule: Schedule | None = None
    rate_limit: int | None = Field(default=None, ge=1, le=100_000)
    ordered: Annotated[bool | None, NotNull] = None

    @field_validator("url")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        return None if value is None else _check_url(value)


# PATCH may set these to null; the others need a value.
NULLABLE = {"description", "category", "username", "password", "retry_schedule", "rate_limit"}


class WebhookOut(ApiOut):
    id: str
    url: str = Field(description="User and password in it are masked")
    event_types: list[str]
    description: str | None
    category: str | None
    headers: dict[str, str] = Field(description="Values are masked")
    ssl_verification_disabled: bool
    status: Status
    disabled_reason: str | None = Field(description="manual, gone, failing or account deleted")
    format: Format
    signature_scheme: Scheme
    username: str | None = Field(description="Masked")
    password: str | None = Field(description="Masked")
    retry_schedule: list[str] | None
    rate_limit: int | None
    ordered: bool
    created_at: str
    last_modified_at: str


class WebhookCreated(WebhookOut):
    secret: str = Field(description="The signing secret (whsec_…); also at GET /secret")


class SecretOut(ApiOut):
    secret: str


class SecretRolled(SecretOut):
    previous_secret_expires_at: str = Field(
        description="Until then deliveries are signed with both secrets"
    )


class RollIn(ApiModel):
    expires_in: ExpiresIn = Field(description="When the current secret stops signing")


class ReplayIn(ApiModel):
    since: datetime
    until: datetime | None = None
    status: Literal["failed", "succeeded", "all"] = "failed"


class ReplayOut(ApiOut):
    count: int = Field(description="Notifications queued again (same ids, new attempts)")


def _fields(row: Any) -> dict[str, Any]:
    """Response fields of an opened webhook row, secret-bearing values masked."""
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


def _out(row: Any) -> WebhookOut:
    return WebhookOut(**_fields(row))


def _check_target(url: str, settings: Settings) -> None:
    """Refuse at once what delivery would refuse anyway: plain http when HTTPS is required,
    and a literal private address (names are checked when connecting, as they may change)."""
    parts = urlsplit(url)
    if settings.require_https and parts.scheme != "https":
        raise ApiError(422, "url must be https:// (TIDINGS_REQUIRE_HTTPS is set)", field="url")
    ip = literal_ip(parts.hostname or "")
    refusal = settings.address_policy().refusal(ip) if ip is not None else None
    if refusal:
        raise ApiError(422, f"url: {refusal}", field="url")


def _check_headers(headers: dict[str, str], brand: str) -> None:
    for name, value in headers.items():
        problem = header_problem(name, value, brand)
        if problem:
            raise ApiError(422, problem, field=f"headers.{name}")


async def _existing(conn: AsyncConnection, ctx: Ctx, account_id: str, webhook_id: str) -> Any:
    """The account's webhook with its secrets readable, or a 404."""
    row = await store.get(conn, account_id, webhook_id)
    if row is None:
        raise not_found("webhook", webhook_id)
    return open_webhook(row, ctx.keyring)


async def _ensure_url_free(
    conn: AsyncConnection, account_id: str, url: str, except_id: str | None = None
) -> None:
    if await store.url_taken(conn, account_id, url, except_id):
        raise ApiError(409, "another webhook of this account already uses this URL", field="url")


@router.post("", status_code=201, response_model=WebhookCreated, responses=URL_TAKEN)
async def create_webhook(body: WebhookFields, ctx: Ctx, account_id: Write) -> WebhookCreated:
    values = _prepared(body.model_dump(), None, ctx)
    now = ctx.clock.now()
    webhook_id = new_id("wh")
    secret = new_secret()
    async with ctx.db.write() as conn:
        await _ensure_url_free(conn, account_id, values["url"])
        if await store.count(conn, account_id) >= ctx.settings.max_webhooks_per_account:
            raise ApiError(
                422,
                f"this account has {ctx.settings.max_webhooks_per_account} webhooks, the most "
                "allowed (TIDINGS_MAX_WEBHOOKS_PER_ACCOUNT)",
                field="webhooks",
            )
        await conn.execute(
            webhooks.insert().values(
                seal_webhook(
                    {
                        **values,
                        "id": webhook_id,
                        "account_id": account_id,
                        "secret": secret,
                        "created_at": now,
                        "updated_at": now,
                    },
                    ctx.keyring,
                )
            )
        )
        row = await _existing(conn, ctx, account_id, webhook_id)
    return WebhookCreated(**_fields(row), secret=secret)


def _prepared(changes: dict[str, Any], current: Any, ctx: Ctx) -> dict[str, Any]:
    """Checked, ready-to-store values: URL credentials move to username/password (which are
    encrypted at rest), and masked values sent back as they were shown keep the stored ones."""
    if "url" in changes:
        parts = urlsplit(changes["url"])
        if parts.username is not None or parts.password is not None:
            changes["url"] = urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))
            # Credentials shown masked (****) and sent back unchanged keep the stored ones.
            if parts.username and changes.get("username") is None and parts.username != MASK:
                changes["username"] = unquote(parts.username)
            if parts.password and changes.get("password") is None and parts.password != MASK:
                changes["password"] = unquote(parts.password)
        _check_target(changes["url"], ctx.settings)
    limits = ctx.settings
    if len(changes.get("event_types") or []) > limits.max_event_types_per_webhook:
        raise ApiError(
            422,
            f"at most {limits.max_event_types_per_webhook} event types per webhook",
            field="eventTypes",
        )
    if len(changes.get("headers") or {}) > limits.max_headers_per_webhook:
        raise ApiError(
            422, f"at most {limits.max_headers_per_webhook} headers per webhook", field="headers"
        )
    if "headers" in changes:
        if current is not None:
            changes["headers"] = unmask_headers(changes["headers"], current.headers)
        _check_headers(changes["headers"], ctx.settings.brand)
    for field in ("username", "password"):
        stored = getattr(current, field, None)
        if changes.get(field) and stored and changes[field] == mask(stored):
            changes[field] = stored
    return changes


@router.get("", response_model=Page[WebhookOut])
async def list_webhooks(
    ctx: Ctx,
    account_id: Read,
    status: Status | None = None,
    category: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[WebhookOut]:
    query = webhooks.select().where(webhooks.c.account_id == account_id)
    if status is not None:
        query = query.where(webhooks.c.status == status)
    if category is not None:
        query = query.where(webhooks.c.category == category)
    async with ctx.db.read() as conn:
        rows, next_cursor = await fetch_page(conn, query, webhooks.c.id, limit, cursor)
    return Page(data=[_out(open_webhook(r, ctx.keyring)) for r in rows], next_cursor=next_cursor)


@router.get("/{webhook_id}", response_model=WebhookOut)
async def get_webhook(webhook_id: str, ctx: Ctx, account_id: Read) -> WebhookOut:
    async with ctx.db.read() as conn:
        return _out(await _existing(conn, ctx, account_id, webhook_id))


async def _update(
    ctx: Ctx, account_id: str, webhook_id: str, changes: dict[str, Any]
) -> WebhookOut:
    async with ctx.db.write() as conn:
        row = await _existing(conn, ctx, account_id, webhook_id)
        changes = _prepared(changes, row, ctx)
        if "url" in changes:
            await _ensure_url_free(conn, account_id, changes["url"], except_id=webhook_id)
        if changes.get("status") == "Active":
            changes["disabled_reason"] = None
        elif changes.get("status") == "Disabled" and row.status != "Disabled":
            changes["disabled_reason"] = "manual"
        changes["updated_at"] = ctx.clock.now()
        await conn.execute(
            webhooks.update()
            .where(webhooks.c.id == row.id)
            .values(seal_webhook(changes, ctx.keyring))
        )
        return _out(await _existing(conn, ctx, account_id, webhook_id))


@router.put("/{webhook_id}", response_model=WebhookOut, responses=URL_TAKEN)
async def replace_webhook(
    webhook_id: str, body: WebhookFields, ctx: Ctx, account_id: Write
) -> WebhookOut:
    """Replace every field; a field left out takes its default."""
    return await _update(ctx, account_id, webhook_id, body.model_dump())


@router.patch("/{webhook_id}", response_model=WebhookOut, responses=URL_TAKEN)
async def patch_webhook(
    webhook_id: str, body: WebhookPatch, ctx: Ctx, account_id: Write
) -> WebhookOut:
    """Change only the fields given."""
    changes = body.model_dump(exclude_unset=True)
    for field in changes:
        if field not in NULLABLE and changes[field] is None:
            raise ApiError(422, f"{to_camel(field)} cannot be null", field=to_camel(field))
    return await _update(ctx, account_id, webhook_id, changes)


@router.post("/{webhook_id}/enable", response_model=WebhookOut)
async def enable_webhook(webhook_id: str, ctx: Ctx, account_id: Write) -> WebhookOut:
    return await _update(ctx, account_id, webhook_id, {"status": "Active"})


@router.post("/{webhook_id}/disable", response_model=WebhookOut)
async def disable_webhook(webhook_id: str, ctx: Ctx, account_id: Write) -> WebhookOut:
    return await _update(ctx, account_id, webhook_id, {"status": "Disabled"})


@router.delete("/{webhook_id}", status_code=204)
async def delete_webhook(webhook_id: str, ctx: Ctx, account_id: Write) -> Response:
    """Delete the webhook. Its notifications stay in the log; those still pending end failed."""
    now = ctx.clock.now()
    async with ctx.db.write() as conn:
        row = await _existing(conn, ctx, account_id, webhook_id)
        await conn.execute(webhooks.delete().where(webhooks.c.id == row.id))
        await conn.execute(
            notifications.update()
            .where(
                sa.and_(notifications.c.webhook_id == row.id, notifications.c.status == "pending")
            )
            .values(
                status="failed",
                next_attempt_at=None,
                leased_by=None,
                last_error="webhook deleted",
                updated_at=now,
            )
        )
    return Response(status_code=204)


@router.get("/{webhook_id}/secret", response_model=SecretOut)
async def get_webhook_secret(webhook_id: str, ctx: Ctx, account_id: Write) -> SecretOut:
    async with ctx.db.read() as conn:
        row = await _existing(conn, ctx, account_id, webhook_id)
    return SecretOut(secret=row.secret)


@router.post("/{webhook_id}/secret/roll", response_model=SecretRolled)
async def roll_webhook_secret(
    webhook_id: str, body: RollIn, ctx: Ctx, account_id: Write
) -> SecretRolled:
    """A new signing secret. Until ``expiresIn`` has passed every delivery carries a signature
    with each live secret, so a receiver can switch without losing a message."""
    now = ctx.clock.now()
    expires_at = now + int(body.expires_in * MICROS)
    secret = new_secret()
    async with ctx.db.write() as conn:
        row = await _existing(conn, ctx, account_id, webhook_id)
        live = [s for s in row.old_secrets or [] if s["expiresAt"] > now]
        if expires_at > now:
            live.append({"secret": row.secret, "expiresAt": expires_at})
        await conn.execute(
            webhooks.update()
            .where(webhooks.c.id == row.id)
            .values(
                {
                    **seal_webhook({"secret": secret, "old_secrets": live or None}, ctx.keyring),
                    "updated_at": now,
                }
            )
        )
    return SecretRolled(secret=secret, previous_secret_expires_at=to_iso(expires_at))


@router.post("/{webhook_id}/replay", status_code=202, response_model=ReplayOut)
async def replay_webhook(webhook_id: str, body: ReplayIn, ctx: Ctx, account_id: Write) -> ReplayOut:
    """Queue again this webhook's notifications created in [since, until) with the given
    status (default: failed), as new attempts of the same notifications (same ids)."""
    now = ctx.clock.now()
    statuses = ("failed", "succeeded") if body.status == "all" else (body.status,)
    async with ctx.db.write() as conn:
        row = await _existing(conn, ctx, account_id, webhook_id)
        result = await conn.execute(
            notifications.update()
            .where(
                sa.and_(
                    notifications.c.webhook_id == row.id,
                    notifications.c.status.in_(statuses),
                    *within(notifications.c.created_at, body.since, body.until),
                )
            )
            .values(
                status="pending", retry_index=0, next_attempt_at=now, leased_by=None, updated_at=now
            )
        )
    if result.rowcount:
        ctx.wake_worker()
    return ReplayOut(count=result.rowcount)
