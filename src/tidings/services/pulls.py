"""Pulls ("Pull", seed 000): Tidings fetches a partner's URL on the partner's schedule and
makes an event of each record not seen before. Every rule about what a pull is made of is
here; services/pull_runs.py runs them.

A pull's password is encrypted at rest with the master key (like webhook secrets: a run needs
it back) and masked in every answer. ``nextRunAt`` is computed in the pull's time zone
(core/schedule.py) whenever its schedule or status changes, and after every run."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from tidings.core import pointer, schedule
from tidings.core.access import Access
from tidings.core.clock import MICROS, from_datetime, to_iso
from tidings.core.errors import invalid, not_found
from tidings.core.ids import new_id
from tidings.core.masking import mask
from tidings.runtime.context import Context
from tidings.services.event_types import require_type
from tidings.services.paging import Page, account_page
from tidings.services.webhooks import check_reachable, check_target, check_url
from tidings.store import pulls as store
from tidings.store.db import Connection

STATUSES = ("Active", "Disabled")
PATCHABLE = {
    "name",
    "category",
    "url",
    "username",
    "password",
    "timezone",
    "frequency",
    "schedule",
    "event_type",
    "records_pointer",
    "id_pointer",
    "status",
}
# Changing any of these moves the next run.
_TIMING = {"timezone", "frequency", "schedule", "status"}


def view(row: Any) -> dict[str, Any]:
    """A pull as shown: its password masked."""
    return {
        "id": row.id,
        "name": row.name,
        "category": row.category,
        "url": row.url,
        "username": row.username,
        "password": _masked(row.password),
        "timezone": row.timezone,
        "frequency": row.frequency,
        "schedule": row.schedule,
        "event_type": row.event_type,
        "records_pointer": row.records_pointer,
        "id_pointer": row.id_pointer,
        "status": row.status,
        "next_run_at": to_iso(row.next_run_at),
        "disabled_reason": row.disabled_reason,
        "last_run_at": to_iso(row.last_run_at),
        "consecutive_failures": row.consecutive_failures,
        "created_at": to_iso(row.created_at),
        "updated_at": to_iso(row.updated_at),
    }


def _masked(sealed: str | None) -> str | None:
    # The stored value is ciphertext: its length says nothing of the password's.
    return mask("") if sealed else None


def next_run_at(values: Any, now: int) -> int | None:
    """When an Active pull runs next after ``now`` (None when Disabled)."""
    if _get(values, "status") != "Active":
        return None
    after = datetime.fromtimestamp(now / MICROS, tz=UTC)
    moment = schedule.next_run(
        _get(values, "timezone"), _get(values, "frequency"), _get(values, "schedule"), after
    )
    return from_datetime(moment)


def _get(values: Any, name: str) -> Any:
    return values[name] if isinstance(values, dict) else getattr(values, name)


async def _check(ctx: Context, access: Access, values: dict[str, Any]) -> None:
    """The rules every pull keeps, on create and after each change."""
    if not (values.get("name") or "").strip():
        raise invalid("name", "name must not be empty")
    if values["status"] not in STATUSES:
        raise invalid("status", "status must be Active or Disabled")
    access.may_place(values.get("category"))
    check_url(values["url"])
    parts = urlsplit(values["url"])
    if parts.username is not None or parts.password is not None:
        raise invalid("url", "url must not hold credentials: give username and password")
    check_target(values["url"], ctx.settings)
    if values.get("password") is not None and values.get("username") is None:
        raise invalid("username", "a password needs a username (basic auth)")
    fault = schedule.problem(values["timezone"], values["frequency"], values.get("schedule"))
    if fault:
        raise invalid(*fault)
    await require_type(ctx, access.account_id, values["event_type"], values.get("category"))
    for field, name in (("records_pointer", "recordsPointer"), ("id_pointer", "idPointer")):
        problem = pointer.check(values.get(field) or "")
        if problem:
            raise invalid(name, f"{name}: {problem}")


async def create(ctx: Context, access: Access, fields: dict[str, Any]) -> dict[str, Any]:
    defaults = {
        "category": None,
        "username": None,
        "password": None,
        "timezone": "UTC",
        "schedule": None,
        "records_pointer": None,
        "id_pointer": None,
        "status": "Active",
    }
    values = {**defaults, **fields}
    await _check(ctx, access, values)
    await check_reachable(values["url"], ctx.settings)
    now = ctx.clock.now()
    pull_id = new_id("pull")
    sealed = ctx.keyring.encrypt(values["password"]) if values["password"] else None
    async with ctx.db.write() as conn:
        await store.insert(
            conn,
            {
                **values,
                "password": sealed,
                "id": pull_id,
                "account_id": access.account_id,
                "next_run_at": next_run_at(values, now),
                "consecutive_failures": 0,
                "created_at": now,
                "updated_at": now,
            },
        )
        return view(await existing(conn, access, pull_id))


async def existing(conn: Connection, access: Access, pull_id: str) -> Any:
    """The pull, when the caller may see it; else a 404 (also for a category-limited key
    asking for a pull outside its categories)."""
    row = await store.get(conn, access.account_id, pull_id)
    if row is None or not access.sees(row.category):
        raise not_found("pull", pull_id)
    return row


async def page(ctx: Context, access: Access, *, limit: int, cursor: str | None = None) -> Page:
    return await account_page(ctx, access, store.page, view, limit=limit, cursor=cursor)


async def get(ctx: Context, access: Access, pull_id: str) -> dict[str, Any]:
    async with ctx.db.read() as conn:
        return view(await existing(conn, access, pull_id))


async def update(
    ctx: Context, access: Access, pull_id: str, changes: dict[str, Any]
) -> dict[str, Any]:
    """Change the given fields. A password sent back masked keeps the stored one; enabling
    a pull starts its count of failed runs again."""
    unknown = set(changes) - PATCHABLE
    if unknown:
        raise invalid(sorted(unknown)[0], f"{sorted(unknown)[0]} cannot be changed")
    if "url" in changes:
        check_url(changes["url"])
        await check_reachable(changes["url"], ctx.settings)
    now = ctx.clock.now()
    async with ctx.db.write() as conn:
        row = await existing(conn, access, pull_id)
        changes = dict(changes)
        if changes.get("password") == _masked(row.password):
            del changes["password"]
        current = dict(row._mapping)
        # Checked in clear: "password set" is all the rules need of the stored one.
        merged = {**current, "password": "set" if row.password else None, **changes}
        await _check(ctx, access, merged)
        if "password" in changes:
            password = changes["password"]
            changes["password"] = ctx.keyring.encrypt(password) if password else None
        if changes.get("url", row.url) != row.url or "username" in changes:
            changes["etag"] = None  # another resource, or another view of it
        if "status" in changes and changes["status"] != row.status:
            changes["disabled_reason"] = None
            changes["consecutive_failures"] = 0
        if _TIMING & set(changes):
            changes["next_run_at"] = next_run_at(merged, now)
        await store.update(conn, row.id, {**changes, "updated_at": now})
        return view(await existing(conn, access, pull_id))


async def set_status(ctx: Context, access: Access, pull_id: str, status: str) -> dict[str, Any]:
    return await update(ctx, access, pull_id, {"status": status})


async def delete(ctx: Context, access: Access, pull_id: str) -> None:
    """Delete the pull with its runs; the events it made stay."""
    async with ctx.db.write() as conn:
        row = await existing(conn, access, pull_id)
        await store.delete(conn, row.id)
