"""Sources ("Push", seed 000): inbound endpoints a partner sends events to, at
``<public base>/in/src_…``. Every rule about a source is here: what it is made of, how a push
proves who sent it, which event type a push becomes, and what a roll of its key keeps alive.

A push is authenticated before anything else; a push that fails stores nothing but its
request's log record. One that passes is published through services/publish.py, like every
other event."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Mapping
from typing import Any

from tidings.core import pointer
from tidings.core.access import Access, Caller
from tidings.core.clock import MICROS, to_iso
from tidings.core.errors import DomainError, invalid, not_found
from tidings.core.ids import new_id
from tidings.core.masking import MASK
from tidings.core.passwords import hash_password, verify_password
from tidings.core.signing import new_secret, verify_hex, verify_standard
from tidings.runtime.context import Context
from tidings.services import publish
from tidings.services.event_types import require_type
from tidings.services.paging import Page, account_page
from tidings.store import sources as store
from tidings.store.db import Connection

KEY_PREFIX = "whk_"
AUTH_TYPES = ("api-key", "basic", "hmac")
SCHEMES = ("standard", "hmac-sha256-hex")
STATUSES = ("Active", "Disabled")

# Fields a PATCH may change (the way a source authenticates is fixed at create).
PATCHABLE = {
    "name",
    "category",
    "event_type",
    "event_type_pointer",
    "status",
    "username",
    "password",
    "signature_scheme",
}


def _new_key() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(32)


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def ingest_url(ctx: Context, source_id: str) -> str:
    return f"{ctx.settings.public_base()}/in/{source_id}"


def view(ctx: Context, row: Any) -> dict[str, Any]:
    """A source as shown: its key or secret masked (its last four characters kept)."""
    current = (row.credentials or [{}])[0]
    shown = MASK + current["last4"] if "last4" in current else None
    return {
        "id": row.id,
        "name": row.name,
        "category": row.category,
        "event_type": row.event_type,
        "event_type_pointer": row.event_type_pointer,
        "status": row.status,
        "auth_type": row.auth_type,
        "signature_scheme": row.signature_scheme,
        "username": row.username,
        "password": MASK if row.password_hash else None,
        "key": shown if row.auth_type == "api-key" else None,
        "secret": shown if row.auth_type == "hmac" else None,
        "url": ingest_url(ctx, row.id),
        "created_at": to_iso(row.created_at),
        "updated_at": to_iso(row.updated_at),
    }


def _credential(ctx: Context, auth_type: str) -> tuple[str, dict[str, Any]]:
    """A new key (api-key) or secret (hmac) and how it is kept: a key hashed, a secret
    encrypted (verifying a signature needs it back)."""
    if auth_type == "api-key":
        key = _new_key()
        return key, {"value": _key_hash(key), "last4": key[-4:], "expiresAt": None}
    secret = new_secret()
    return secret, {"value": ctx.keyring.encrypt(secret), "last4": secret[-4:], "expiresAt": None}


async def _check(ctx: Context, access: Access, values: dict[str, Any]) -> None:
    """The rules every source keeps, on create and after each change."""
    if not values.get("name", "").strip():
        raise invalid("name", "name must not be empty")
    if values["status"] not in STATUSES:
        raise invalid("status", "status must be Active or Disabled")
    access.may_place(values.get("category"))
    await require_type(ctx, access.account_id, values["event_type"], values.get("category"))
    problem = pointer.check(values.get("event_type_pointer") or "")
    if problem:
        raise invalid("eventTypePointer", f"eventTypePointer: {problem}")
    auth_type = values["auth_type"]
    if auth_type == "basic":
        if not values.get("username"):
            raise invalid("username", "a basic source needs a username")
        if not values.get("password_hash"):
            raise invalid("password", "a basic source needs a password")
    elif values.get("username") is not None or values.get("password_hash") is not None:
        field = "username" if values.get("username") is not None else "password"
        raise invalid(field, f"{field} applies to basic sources only")
    if auth_type == "hmac":
        if values.get("signature_scheme") not in SCHEMES:
            raise invalid("signatureScheme", "signatureScheme must be standard or hmac-sha256-hex")
    elif values.get("signature_scheme") is not None:
        raise invalid("signatureScheme", "signatureScheme applies to hmac sources only")


def _password(values: dict[str, Any]) -> dict[str, Any]:
    """A password given in clear becomes its argon2 hash."""
    values = dict(values)
    password = values.pop("password", None)
    if password is not None:
        if len(password) < 8:
            raise invalid("password", "password must be at least 8 characters")
        values["password_hash"] = hash_password(password)
    return values


async def create(ctx: Context, access: Access, fields: dict[str, Any]) -> dict[str, Any]:
    """A new source; its view carries the ingest ``url`` and, once, the ``key`` (api-key) or
    ``secret`` (hmac) in clear."""
    auth_type = fields.get("auth_type", "api-key")
    if auth_type not in AUTH_TYPES:
        raise invalid("authType", "authType must be api-key, basic or hmac")
    defaults = {
        "category": None,
        "event_type_pointer": None,
        "status": "Active",
        "username": None,
        "signature_scheme": "standard" if auth_type == "hmac" else None,
    }
    values = _password({**defaults, **fields, "auth_type": auth_type})
    await _check(ctx, access, values)
    plaintext, credential = (None, None)
    if auth_type != "basic":
        plaintext, credential = _credential(ctx, auth_type)
    now = ctx.clock.now()
    source_id = new_id("src")
    async with ctx.db.write() as conn:
        await store.insert(
            conn,
            {
                **values,
                "id": source_id,
                "account_id": access.account_id,
                "credentials": [credential] if credential else [],
                "created_at": now,
                "updated_at": now,
            },
        )
        row = await _existing(conn, access, source_id)
    shown = view(ctx, row)
    if auth_type == "api-key":
        shown["key"] = plaintext
    elif auth_type == "hmac":
        shown["secret"] = plaintext
    return shown


async def _existing(conn: Connection, access: Access, source_id: str) -> Any:
    row = await store.get(conn, access.account_id, source_id)
    if row is None or not access.sees(row.category):
        raise not_found("source", source_id)
    return row


async def page(ctx: Context, access: Access, *, limit: int, cursor: str | None = None) -> Page:
    return await account_page(
        ctx, access, store.page, lambda r: view(ctx, r), limit=limit, cursor=cursor
    )


async def get(ctx: Context, access: Access, source_id: str) -> dict[str, Any]:
    async with ctx.db.read() as conn:
        return view(ctx, await _existing(conn, access, source_id))


async def update(
    ctx: Context, access: Access, source_id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """Change the given fields; a basic source changes its password here."""
    unknown = set(changes) - PATCHABLE
    if unknown:
        raise invalid(sorted(unknown)[0], f"{sorted(unknown)[0]} cannot be changed")
    async with ctx.db.write() as conn:
        row = await _existing(conn, access, source_id)
        changes = _password(changes)
        merged = {**dict(row._mapping), **changes}
        await _check(ctx, access, merged)
        await store.update(conn, row.id, {**changes, "updated_at": ctx.clock.now()})
        return view(ctx, await _existing(conn, access, source_id))


async def set_status(ctx: Context, access: Access, source_id: str, status: str) -> dict[str, Any]:
    return await update(ctx, access, source_id, {"status": status})


async def delete(ctx: Context, access: Access, source_id: str) -> None:
    """Delete the source: its ingest URL answers 404 from now on. Its events stay."""
    async with ctx.db.write() as conn:
        row = await _existing(conn, access, source_id)
        await store.delete(conn, row.id)


async def roll(ctx: Context, access: Access, source_id: str, expires_in: float) -> dict[str, Any]:
    """A new key (api-key) or secret (hmac), shown once; the current one keeps working for
    ``expires_in`` seconds. A basic source changes its password with a PATCH instead."""
    now = ctx.clock.now()
    expires_at = now + int(expires_in * MICROS)
    async with ctx.db.write() as conn:
        row = await _existing(conn, access, source_id)
        if row.auth_type == "basic":
            raise DomainError(
                409, "a basic source has no key to roll: change its password with PATCH"
            )
        plaintext, credential = _credential(ctx, row.auth_type)
        kept = []
        for old in row.credentials or []:
            until = old["expiresAt"]
            if until is None:
                until = expires_at  # the current one: until the roll's expiry
            if until > now:
                kept.append({**old, "expiresAt": until})
        await store.update(conn, row.id, {"credentials": [credential, *kept], "updated_at": now})
        shown = view(ctx, await _existing(conn, access, source_id))
    shown["key" if row.auth_type == "api-key" else "secret"] = plaintext
    shown["previous_expires_at"] = to_iso(expires_at)
    return shown


# --- pushes -----------------------------------------------------------------------------------


def _live(row: Any, now: int) -> list[str]:
    """The stored values of the credentials that still work."""
    return [
        c["value"] for c in row.credentials or [] if c["expiresAt"] is None or c["expiresAt"] > now
    ]


def _authenticate(
    ctx: Context, row: Any, headers: Mapping[str, str], body: bytes, now: int
) -> None:
    """401 unless the push proves it comes from the source's partner."""
    live = _live(row, now)
    if row.auth_type == "api-key":
        presented = headers.get("x-api-key") or _bearer(headers.get("authorization"))
        if not presented:
            raise DomainError(401, "missing key: send X-Api-Key or Authorization: Bearer")
        digest = _key_hash(presented.strip())
        if not any(hmac.compare_digest(digest, value) for value in live):
            raise DomainError(401, "invalid or expired source key")
    elif row.auth_type == "basic":
        username, password = _basic(headers.get("authorization"))
        if username is None or password is None:
            raise DomainError(
                401,
                "missing credentials: send Authorization: Basic",
                headers={"WWW-Authenticate": 'Basic realm="tidings"'},
            )
        same_user = hmac.compare_digest(username.encode(), (row.username or "").encode())
        if not (verify_password(row.password_hash or "", password) and same_user):
            raise DomainError(401, "invalid username or password")
    else:
        keys = [ctx.keyring.decrypt(value) for value in live]
        if row.signature_scheme == "hmac-sha256-hex":
            name = f"x-{ctx.settings.brand.lower()}-signature"
            signature = headers.get(name)
            if not signature:
                raise DomainError(401, f"missing {name} header")
            if not verify_hex(keys, signature, body):
                raise DomainError(401, "invalid signature")
        else:
            parts = [
                headers.get(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature")
            ]
            msg_id, timestamp, signatures = parts
            if not (msg_id and timestamp and signatures):
                raise DomainError(
                    401, "missing webhook-id, webhook-timestamp or webhook-signature header"
                )
            refusal = verify_standard(keys, msg_id, timestamp, signatures, body, now // MICROS)
            if refusal:
                raise DomainError(401, refusal)


def _bearer(value: str | None) -> str | None:
    if not value:
        return None
    scheme, _, token = value.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


def _basic(value: str | None) -> tuple[str | None, str | None]:
    if not value:
        return None, None
    scheme, _, token = value.partition(" ")
    if scheme.lower() != "basic":
        return None, None
    try:
        decoded = base64.b64decode(token.strip(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None, None
    username, sep, password = decoded.partition(":")
    return (username, password) if sep else (None, None)


async def receiving(ctx: Context, source_id: str) -> Any:
    """The source an ingest URL names, or a 404."""
    async with ctx.db.read() as conn:
        row = await store.by_id(conn, source_id)
    if row is None:
        raise not_found("source", source_id)
    return row


async def push(
    ctx: Context,
    row: Any,
    headers: Mapping[str, str],
    body: bytes,
    parse: Any,
    *,
    log_id: str | None = None,
) -> publish.Publication:
    """Take one push to ``row`` (the source ``receiving`` found): authenticate it, then
    publish ``parse(body)`` (a JSON object) as an event of the source's account. ``headers``
    with lower-case names."""
    now = ctx.clock.now()
    _authenticate(ctx, row, headers, body, now)
    if row.status != "Active":
        raise not_found("source", row.id)
    data = parse(body)
    event_type = await _event_type(ctx, row, data)
    caller = Caller(
        key_id=None,
        key_type="source",
        account_id=row.account_id,
        permissions={"events": "write"},
        categories=None,
    )
    key = headers.get("webhook-id") or headers.get("idempotency-key")
    return await publish.publish(
        ctx,
        Access(account_id=row.account_id, caller=caller),
        event_type,
        data,
        idempotency_key=key[:200] if key else None,
        log_id=log_id,
        source_id=row.id,
    )


async def _event_type(ctx: Context, row: Any, data: dict[str, Any]) -> str:
    """The type the push names at the source's pointer, when it is one the source may make
    (it exists, and is of the source's category if it has one); else the source's type."""
    if row.event_type_pointer:
        named = pointer.resolve(data, row.event_type_pointer)
        if isinstance(named, str) and named:
            found = await ctx.routes.event_type(ctx.db, row.account_id, named)
            if found is not None and (row.category is None or found.category == row.category):
                return named
    return str(row.event_type)
