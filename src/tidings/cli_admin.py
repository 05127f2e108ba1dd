"""``tidings accounts …`` and ``tidings keys …``: the same rules as the API, run directly
against the store by whoever operates the deployment."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import sqlalchemy as sa
import typer
from pydantic import ValidationError
from rich.console import Console
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncConnection

from tidings.config import settings_with
from tidings.core.clock import MICROS, Clock, from_datetime, to_iso
from tidings.core.durations import parse_expires_in
from tidings.store import accounts as store
from tidings.store.db import Database
from tidings.store.tables import accounts, api_keys
from tidings.store.wakeups import KEYS_CHANNEL

accounts_app = typer.Typer(help="Create and list accounts.", no_args_is_help=True)
keys_app = typer.Typer(help="Create, list, roll and revoke API keys.", no_args_is_help=True)

T = TypeVar("T")

DataDir = Annotated[
    Path | None, typer.Option(help="The embedded SQLite store \\[env: TIDINGS_DATA_DIR]")
]
DatabaseUrl = Annotated[str | None, typer.Option(help="Database URL \\[env: TIDINGS_DATABASE_URL]")]
Account = Annotated[str, typer.Option("--account", "-a", help="The account id (acc_…)")]

# Piped output (scripts, grep) gets whole lines rather than a table cut to 80 columns.
console = Console(width=None if sys.stdout.isatty() else 250)


def _run(
    data_dir: Path | None,
    database_url: str | None,
    work: Callable[[AsyncConnection, int], Awaitable[T]],
) -> T:
    settings = settings_with(data_dir=data_dir, database_url=database_url)

    async def main() -> T:
        db = Database(settings.resolved_database_url())
        try:
            async with db.write() as conn:
                result = await work(conn, Clock().now())
                if not db.is_sqlite:
                    # Running servers forget the keys they cached, at this commit
                    # (store/wakeups.py); on SQLite they do not cache keys.
                    await conn.execute(sa.text(f"NOTIFY {KEYS_CHANNEL}"))
                return result
        finally:
            await db.dispose()

    return asyncio.run(main())


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(2)


def _show_key(row: Any, plaintext: str) -> None:
    console.print(f"Key {row.id} ({row.type}) for {row.account_id or 'every account'}:")
    console.print(plaintext, style="bold", soft_wrap=True, highlight=False)
    console.print("It will not be shown again: store it somewhere safe now.")


@accounts_app.command("create")
def accounts_create(
    name: Annotated[str, typer.Argument(help="The account's name")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create an account and print its id."""
    if not name.strip() or len(name) > 200:
        raise _fail("name must be 1 to 200 characters")
    row = _run(data_dir, database_url, lambda conn, now: store.create_account(conn, name, now))
    console.print(row.id)


@accounts_app.command("list")
def accounts_list(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """List the accounts, newest first."""

    async def work(conn: AsyncConnection, _now: int) -> list[Any]:
        query = accounts.select().where(accounts.c.deleted_at.is_(None))
        return list(await conn.execute(query.order_by(accounts.c.id.desc())))

    table = Table("name", "created")
    table.add_column("id", no_wrap=True, min_width=30)
    for row in _run(data_dir, database_url, work):
        table.add_row(row.name, to_iso(row.created_at), row.id)
    console.print(table)


@keys_app.command("create")
def keys_create(
    account: Annotated[
        str | None, typer.Option("--account", "-a", help="The account id (acc_…)")
    ] = None,
    key_type: Annotated[
        str, typer.Option("--type", help="secret, restricted or publishable")
    ] = "secret",
    name: Annotated[str, typer.Option(help="A name to recognise the key by")] = "",
    permission: Annotated[
        list[str] | None,
        typer.Option(help="Restricted keys: resource=level, e.g. webhooks=read (repeatable)"),
    ] = None,
    category: Annotated[
        list[str] | None,
        typer.Option(help="Restricted keys: limit to this event-type category (repeatable)"),
    ] = None,
    expires_at: Annotated[
        str | None, typer.Option(help="ISO 8601 time after which the key stops working")
    ] = None,
    operator: Annotated[
        bool, typer.Option("--operator", help="An operator key, acting for every account")
    ] = False,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Create a key and print it, once."""
    from tidings.api.api_keys import ApiKeyIn

    if operator == (account is not None):
        raise _fail("give either --account or --operator")
    permissions: dict[str, str] | None = None
    if permission:
        try:
            permissions = dict(p.split("=", 1) for p in permission)
        except ValueError:
            raise _fail("--permission takes resource=level, e.g. webhooks=read") from None
    try:
        body = ApiKeyIn.model_validate(
            {
                "name": name,
                "type": "secret" if operator else key_type,
                "permissions": permissions,
                "categories": category,
                "expiresAt": expires_at,
            }
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise _fail(problems) from None
    problem = body.shape_problem()
    if problem:
        raise _fail(problem[1])
    expires = from_datetime(body.expires_at) if body.expires_at else None

    async def work(conn: AsyncConnection, now: int) -> tuple[Any, str]:
        if account is not None and await store.get_account(conn, account) is None:
            raise _fail(f"account {account!r} not found")
        if expires is not None and expires <= now:
            raise _fail("--expires-at must be in the future")
        return await store.create_key(
            conn,
            account_id=account,
            key_type="operator" if operator else body.type,
            name=body.name,
            now=now,
            permissions=permissions,
            categories=body.categories,
            expires_at=expires,
        )

    _show_key(*_run(data_dir, database_url, work))


@keys_app.command("list")
def keys_list(
    account: Annotated[
        str | None, typer.Option("--account", "-a", help="The account id; omit for operator keys")
    ] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """List keys (never their plaintext), newest first."""

    async def work(conn: AsyncConnection, now: int) -> list[tuple[Any, str]]:
        owner = api_keys.c.account_id == account if account else api_keys.c.account_id.is_(None)
        rows = await conn.execute(api_keys.select().where(owner).order_by(api_keys.c.id.desc()))
        return [(row, store.key_status(row, now)) for row in rows]

    table = Table("name", "type", "key")
    table.add_column("status", no_wrap=True, min_width=8)
    table.add_column("created")
    table.add_column("last used")
    table.add_column("expires")
    # The id is what roll and revoke take: never cut it.
    table.add_column("id", no_wrap=True, min_width=30)
    for row, status in _run(data_dir, database_url, work):
        table.add_row(
            row.name,
            row.type,
            f"{row.lookup.split('_', 1)[0]}_…{row.last4}",
            status,
            to_iso(row.created_at),
            to_iso(row.last_used_at) or "",
            to_iso(row.expires_at) or "",
            row.id,
        )
    console.print(table)


@keys_app.command("roll")
def keys_roll(
    key_id: Annotated[str, typer.Argument(help="The key's id (key_…)")],
    expires_in: Annotated[
        str, typer.Option(help="When the old key stops: now, 1h, 2h, 24h or seconds (≤ 7 days)")
    ] = "24h",
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Make a new key like this one; the old one keeps working for --expires-in."""
    try:
        seconds = parse_expires_in(int(expires_in) if expires_in.isdigit() else expires_in)
    except ValueError as exc:
        raise _fail(f"--expires-in: {exc}") from None

    async def work(conn: AsyncConnection, now: int) -> tuple[Any, str]:
        old = await store.get_key(conn, key_id)
        if old is None:
            raise _fail(f"API key {key_id!r} not found")
        if old.revoked_at is not None:
            raise _fail("a revoked key cannot be rolled")
        return await store.roll_key(
            conn, old, old_expires_at=now + int(seconds * MICROS), now=now, created_by=None
        )

    _show_key(*_run(data_dir, database_url, work))


@keys_app.command("revoke")
def keys_revoke(
    key_id: Annotated[str, typer.Argument(help="The key's id (key_…)")],
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
) -> None:
    """Revoke a key at once."""

    async def work(conn: AsyncConnection, now: int) -> None:
        if await store.get_key(conn, key_id) is None:
            raise _fail(f"API key {key_id!r} not found")
        await store.revoke_key(conn, key_id, now)

    _run(data_dir, database_url, work)
    console.print(f"Revoked {key_id}.")
