"""Dashboard sessions: sign-in with a password then a TOTP code (or a recovery code, once),
a 12-hour idle expiry, step-up for sensitive writes, and single-use portal links.

A session's cookie holds a random token; the store keeps its hash. The CSRF token of its
forms lives with it."""

from __future__ import annotations

import math
import secrets
from dataclasses import dataclass
from typing import Any

from tidings.core import passwords, permissions, two_factor
from tidings.core.access import Caller
from tidings.core.clock import MICROS, to_iso
from tidings.core.errors import DomainError, invalid, not_found
from tidings.core.ids import new_id
from tidings.core.tokens import hash_token, new_token
from tidings.runtime.context import Context
from tidings.services.users import normal_email
from tidings.store import accounts as account_store
from tidings.store import sessions as store
from tidings.store import users as user_store
from tidings.store.db import Connection

IDLE_SECONDS = 12 * 3600
STEP_UP_SECONDS = 5 * 60
PORTAL_LINK_SECONDS = 3600
MAX_PORTAL_LINK_SECONDS = 7 * 86400
# Five wrong passwords for one email (or wrong codes for one user) within 15 minutes: the
# rest of the window answers 429.
MAX_FAILURES = 5
FAILURE_WINDOW = 15 * 60
# last_seen_at is written at most this often (a page load is not a write each time).
TOUCH_SECONDS = 60
# A hash to verify against when the email is unknown: the answer takes as long either way.
_DUMMY_HASH = passwords.hash_password("not a password of anyone")


@dataclass(frozen=True)
class Session:
    id: str
    kind: str  # user | portal
    user_id: str | None
    email: str | None
    # None for an operator user until an account is picked.
    account_id: str | None
    is_operator: bool
    csrf_token: str
    # The second factor was given in this session (always true of portal sessions).
    verified: bool
    two_factor_enabled: bool
    verified_at: int | None
    user_permissions: dict[str, str] | None

    @property
    def is_portal(self) -> bool:
        return self.kind == "portal"

    @property
    def signed_in(self) -> bool:
        """Past every step of signing in: the pages are open."""
        return self.verified

    def caller(self) -> Caller:
        """Who the session acts as: the user's permissions on the account it acts for."""
        key_type = "operator" if self.is_operator else "user"
        return Caller(
            key_id=None,
            key_type=key_type,
            account_id=self.account_id,
            permissions=permissions.effective(key_type, self.user_permissions),
            categories=None,
            user_id=self.user_id,
        )


async def _limit(conn: Connection, ctx: Context, subject: str, what: str) -> None:
    """429 while ``subject`` has MAX_FAILURES failures in the window, saying until when."""
    now = ctx.clock.now()
    failures = await user_store.failures_since(conn, subject, now - FAILURE_WINDOW * MICROS)
    if len(failures) >= MAX_FAILURES:
        free_at = failures[-MAX_FAILURES] + FAILURE_WINDOW * MICROS
        minutes = max(1, math.ceil((free_at - now) / MICROS / 60))
        raise DomainError(
            429,
            f"Too many {what}: try again in {minutes} minute{'s' if minutes > 1 else ''}.",
            headers={"Retry-After": str(max(1, math.ceil((free_at - now) / MICROS)))},
        )


async def _fail(ctx: Context, subject: str) -> None:
    now = ctx.clock.now()
    async with ctx.db.write() as conn:
        await user_store.record_failure(conn, subject, now)
        await user_store.forget_failures(conn, now - FAILURE_WINDOW * MICROS)


async def _new_session(
    conn: Connection, ctx: Context, *, kind: str, user: Any, account_id: str | None
) -> str:
    token = new_token()
    now = ctx.clock.now()
    # Sessions idle past their expiry go as new ones come.
    await store.delete_idle(conn, now - IDLE_SECONDS * MICROS)
    await store.insert(
        conn,
        {
            "id": new_id("ses"),
            "token_hash": hash_token(token),
            "kind": kind,
            "user_id": user.id if user is not None else None,
            "account_id": account_id,
            "csrf_token": secrets.token_urlsafe(24),
            "verified_at": now if kind == "portal" else None,
            "created_at": now,
            "last_seen_at": now,
        },
    )
    return token


async def sign_in(ctx: Context, email: str, password: str) -> str:
    """A new session's token once the password is right; the second factor comes next."""
    try:
        address = normal_email(email)
    except DomainError:
        raise DomainError(401, "Wrong email or password.") from None
    subject = f"email:{address}"
    async with ctx.db.read() as conn:
        await _limit(conn, ctx, subject, "failed sign-ins for this email")
        user = await user_store.by_email(conn, address)
    hashed = user.password_hash if user is not None and user.password_hash else _DUMMY_HASH
    if not passwords.verify_password(hashed, password) or user is None or not user.password_hash:
        await _fail(ctx, subject)
        raise DomainError(401, "Wrong email or password.")
    async with ctx.db.write() as conn:
        return await _new_session(conn, ctx, kind="user", user=user, account_id=user.account_id)


async def resolve(ctx: Context, token: str | None) -> Session | None:
    """The live session behind a cookie's token, or None (unknown, idle 12 h, user gone)."""
    if not token:
        return None
    now = ctx.clock.now()
    async with ctx.db.read() as conn:
        row = await store.by_token(conn, hash_token(token))
        user = await user_store.get(conn, row.user_id) if row and row.user_id else None
    if row is None:
        return None
    if now - row.last_seen_at > IDLE_SECONDS * MICROS or (row.kind == "user" and user is None):
        async with ctx.db.write() as conn:
            await store.delete(conn, row.id)
        return None
    if now - row.last_seen_at > TOUCH_SECONDS * MICROS:
        async with ctx.db.write() as conn:
            await store.update(conn, row.id, {"last_seen_at": now})
    return Session(
        id=row.id,
        kind=row.kind,
        user_id=row.user_id,
        email=user.email if user is not None else None,
        account_id=row.account_id,
        is_operator=user is not None and user.account_id is None,
        csrf_token=row.csrf_token,
        verified=row.verified_at is not None,
        two_factor_enabled=user is not None and user.totp_enabled_at is not None,
        verified_at=row.verified_at,
        user_permissions=user.permissions if user is not None else None,
    )


async def sign_out(ctx: Context, session: Session) -> None:
    async with ctx.db.write() as conn:
        await store.delete(conn, session.id)


async def enrolment(ctx: Context, session: Session) -> tuple[str, str, str]:
    """The TOTP seed being enrolled (made on first call, kept encrypted), its otpauth URI and
    QR code as SVG. Only before two-step verification is enabled."""
    if session.user_id is None or session.two_factor_enabled:
        raise DomainError(409, "two-step verification is enabled already")
    async with ctx.db.write() as conn:
        user = await user_store.get(conn, session.user_id)
        if user is None:
            raise not_found("user", session.user_id)
        if user.totp_secret:
            seed = ctx.keyring.decrypt(user.totp_secret)
        else:
            seed = two_factor.new_seed()
            await user_store.update(
                conn,
                user.id,
                {"totp_secret": ctx.keyring.encrypt(seed), "updated_at": ctx.clock.now()},
            )
    uri = two_factor.provisioning_uri(seed, user.email, ctx.settings.brand)
    return seed, uri, two_factor.qr_svg(uri)


async def enable(ctx: Context, session: Session, code: str) -> list[str]:
    """Enable two-step verification with a first code; the ten recovery codes, shown once."""
    if session.user_id is None or session.two_factor_enabled:
        raise DomainError(409, "two-step verification is enabled already")
    await _check_code(ctx, session.user_id, code, allow_recovery=False)
    codes = two_factor.new_recovery_codes()
    now = ctx.clock.now()
    async with ctx.db.write() as conn:
        await user_store.update(
            conn,
            session.user_id,
            {
                "totp_enabled_at": now,
                "recovery_codes": [two_factor.hash_recovery_code(c) for c in codes],
                "updated_at": now,
            },
        )
        await store.update(conn, session.id, {"verified_at": now, "last_seen_at": now})
    return codes


async def verify(ctx: Context, session: Session, code: str) -> None:
    """The second factor, at sign-in or for a step-up: a TOTP code not used before, or an
    unused recovery code (which is then spent)."""
    if session.is_portal:
        return
    if session.user_id is None or not session.two_factor_enabled:
        raise DomainError(409, "two-step verification is not enabled yet")
    await _check_code(ctx, session.user_id, code, allow_recovery=True)
    now = ctx.clock.now()
    async with ctx.db.write() as conn:
        await store.update(conn, session.id, {"verified_at": now, "last_seen_at": now})


async def _check_code(ctx: Context, user_id: str, code: str, *, allow_recovery: bool) -> None:
    subject = f"user:{user_id}"
    now = ctx.clock.now()
    async with ctx.db.write() as conn:
        await _limit(conn, ctx, subject, "wrong codes")
        user = await user_store.get(conn, user_id)
        if user is None or not user.totp_secret:
            raise not_found("user", user_id)
        seed = ctx.keyring.decrypt(user.totp_secret)
        step = two_factor.matching_step(seed, code, now / MICROS)
        if step is not None:
            if await user_store.use_totp_step(conn, user_id, step, now):
                return
            used = "This code was used already: wait for the next one."
        else:
            used = ""
            hashed = two_factor.hash_recovery_code(code)
            remaining = list(user.recovery_codes or [])
            if allow_recovery and code.strip() and hashed in remaining:
                remaining.remove(hashed)
                await user_store.update(
                    conn, user_id, {"recovery_codes": remaining, "updated_at": now}
                )
                return
    await _fail(ctx, subject)
    raise invalid("otp", used or "Wrong code: check your authenticator app and try again.")


def needs_step_up(ctx: Context, session: Session) -> bool:
    """Whether a sensitive write must first ask for a fresh code (the last is > 5 min old)."""
    if session.is_portal:
        return False
    last = session.verified_at or 0
    return ctx.clock.now() - last > STEP_UP_SECONDS * MICROS


async def switch_account(ctx: Context, session: Session, account_id: str) -> None:
    """An operator user picks the account the session acts for."""
    if not session.is_operator:
        raise DomainError(403, "only operator users switch accounts")
    async with ctx.db.write() as conn:
        if await account_store.get(conn, account_id) is None:
            raise not_found("account", account_id)
        await store.update(conn, session.id, {"account_id": account_id})


async def create_portal_link(
    ctx: Context, caller: Caller, account_id: str, expires_in: float | None = None
) -> dict[str, Any]:
    """A single-use sign-in link to a session of ``account_id`` (operator only)."""
    caller.require_operator()
    seconds = PORTAL_LINK_SECONDS if expires_in is None else expires_in
    if not 0 < seconds <= MAX_PORTAL_LINK_SECONDS:
        raise invalid("expiresIn", "expiresIn must be between 1 second and 7 days")
    token = new_token()
    now = ctx.clock.now()
    expires_at = now + int(seconds * MICROS)
    async with ctx.db.write() as conn:
        if await account_store.get(conn, account_id) is None:
            raise not_found("account", account_id)
        await store.insert_link(
            conn,
            {
                "id": new_id("pl"),
                "token_hash": hash_token(token),
                "account_id": account_id,
                "created_by": caller.key_id,
                "created_at": now,
                "expires_at": expires_at,
            },
        )
    return {
        "url": f"{ctx.settings.public_base()}/dashboard/portal/{token}",
        "expires_at": to_iso(expires_at),
    }


async def redeem_portal_link(ctx: Context, token: str) -> str:
    """A portal session's token for an unused, unexpired link (which is then spent)."""
    now = ctx.clock.now()
    async with ctx.db.write() as conn:
        link = await store.link_by_token(conn, hash_token(token))
        if link is None or link.expires_at <= now or not await store.use_link(conn, link.id, now):
            raise DomainError(404, "This sign-in link is not valid, has expired or was used.")
        if await account_store.get(conn, link.account_id) is None:
            raise DomainError(404, "This sign-in link is not valid, has expired or was used.")
        return await _new_session(conn, ctx, kind="portal", user=None, account_id=link.account_id)
