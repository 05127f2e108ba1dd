"""``/v1/webhooks``: a partner's endpoints, their subscriptions and signing secrets."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Response
from pydantic import Field

from tidings.api.deps import Ctx, allow
from tidings.api.model import DEFAULT_LIMIT, MAX_LIMIT, ApiModel, ApiOut, ExpiresIn, NotNull, Page
from tidings.core.access import Access
from tidings.services import webhooks as service
from tidings.services.event_types import NAME_PATTERN

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

Read = Annotated[Access, Depends(allow("webhooks", "read"))]
# Reading the signing secret needs write: with it one can forge deliveries.
Write = Annotated[Access, Depends(allow("webhooks", "write"))]

Status = Literal["Active", "Disabled"]
# The error statuses common to every call are documented in api/errors.py; this one is ours.
URL_TAKEN: dict[int | str, dict[str, Any]] = {
    409: {"description": "Another webhook of this account already uses this URL"}
}


Format = Literal["full", "compact", "raw"]
Scheme = Literal["standard", "hmac-sha256-hex"]
Schedule = Annotated[
    list[str],
    Field(description='Delays between attempts, e.g. ["1m", "5m", "15m", "1h", "3h"]'),
]
Credential = Annotated[str, Field(min_length=1, max_length=200)]
# An event type's name, or a pattern: ``payment.*`` takes every type under ``payment.``.
Subscription = Annotated[
    str,
    Field(
        pattern=NAME_PATTERN.removesuffix("$") + r"(\.\*)?$",
        description="An event type, or a pattern such as payment.*",
    ),
]


class WebhookFields(ApiModel):
    url: Annotated[str, Field(max_length=2048, description="Where notifications are POSTed")]
    event_types: list[Subscription] = Field(
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


class WebhookReplace(WebhookFields):
    """A PUT replaces every field: the subscription must be given, so that leaving it out
    never silently means "every event type"."""

    event_types: list[Subscription] = Field(
        max_length=500, description="Required: [] for every event type"
    )


class WebhookPatch(ApiModel):
    url: Annotated[str | None, Field(max_length=2048), NotNull] = None
    event_types: Annotated[list[Subscription] | None, NotNull] = Field(default=None, max_length=500)
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


@router.post("", status_code=201, response_model=WebhookCreated, responses=URL_TAKEN)
async def create_webhook(body: WebhookFields, ctx: Ctx, access: Write) -> WebhookCreated:
    return WebhookCreated(**await service.create(ctx, access, body.model_dump()))


@router.get("", response_model=Page[WebhookOut])
async def list_webhooks(
    ctx: Ctx,
    access: Read,
    status: Status | None = None,
    category: str | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_LIMIT)] = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page[WebhookOut]:
    rows, next_cursor = await service.page(
        ctx, access, status=status, category=category, limit=limit, cursor=cursor
    )
    return Page(data=[WebhookOut(**r) for r in rows], next_cursor=next_cursor)


@router.get("/{webhook_id}", response_model=WebhookOut)
async def get_webhook(webhook_id: str, ctx: Ctx, access: Read) -> WebhookOut:
    return WebhookOut(**await service.get(ctx, access, webhook_id))


@router.put("/{webhook_id}", response_model=WebhookOut, responses=URL_TAKEN)
async def replace_webhook(
    webhook_id: str, body: WebhookReplace, ctx: Ctx, access: Write
) -> WebhookOut:
    """Replace every field: `url` and `eventTypes` must be given; another field left out
    takes its default."""
    return WebhookOut(**await service.replace(ctx, access, webhook_id, body.model_dump()))


@router.patch("/{webhook_id}", response_model=WebhookOut, responses=URL_TAKEN)
async def patch_webhook(webhook_id: str, body: WebhookPatch, ctx: Ctx, access: Write) -> WebhookOut:
    """Change only the fields given."""
    changes = body.changes(NULLABLE)
    return WebhookOut(**await service.update(ctx, access, webhook_id, changes))


@router.post("/{webhook_id}/enable", response_model=WebhookOut)
async def enable_webhook(webhook_id: str, ctx: Ctx, access: Write) -> WebhookOut:
    return WebhookOut(**await service.set_status(ctx, access, webhook_id, "Active"))


@router.post("/{webhook_id}/disable", response_model=WebhookOut)
async def disable_webhook(webhook_id: str, ctx: Ctx, access: Write) -> WebhookOut:
    return WebhookOut(**await service.set_status(ctx, access, webhook_id, "Disabled"))


@router.delete("/{webhook_id}", status_code=204)
async def delete_webhook(webhook_id: str, ctx: Ctx, access: Write) -> Response:
    """Delete the webhook. Its notifications stay in the log; those still pending end failed."""
    await service.delete(ctx, access, webhook_id)
    return Response(status_code=204)


@router.get("/{webhook_id}/secret", response_model=SecretOut)
async def get_webhook_secret(webhook_id: str, ctx: Ctx, access: Write) -> SecretOut:
    return SecretOut(secret=await service.secret(ctx, access, webhook_id))


@router.post("/{webhook_id}/secret/roll", response_model=SecretRolled)
async def roll_webhook_secret(
    webhook_id: str, body: RollIn, ctx: Ctx, access: Write
) -> SecretRolled:
    """A new signing secret. Until ``expiresIn`` has passed every delivery carries a signature
    with each live secret, so a receiver can switch without losing a message."""
    secret, expires_at = await service.roll_secret(ctx, access, webhook_id, body.expires_in)
    return SecretRolled(secret=secret, previous_secret_expires_at=expires_at)


@router.post("/{webhook_id}/replay", status_code=202, response_model=ReplayOut)
async def replay_webhook(webhook_id: str, body: ReplayIn, ctx: Ctx, access: Write) -> ReplayOut:
    """Queue again this webhook's notifications created in [since, until) with the given
    status (default: failed), as new attempts of the same notifications (same ids)."""
    count = await service.replay(ctx, access, webhook_id, body.since, body.until, body.status)
    return ReplayOut(count=count)
