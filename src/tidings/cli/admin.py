"""``tidings accounts …`` and ``tidings keys …``: the operator's commands, run directly
against the store (no server needed), through the same services as the API."""

from __future__ import annotations

import asyncio
import functools
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Protocol, TypeVar, cast

import typer
from rich.console import Console
from rich.table import Table

from tidings.cli.params import extend, param
from tidings.config import settings_with
from tidings.core import access
from tidings.core.access import Caller
from tidings.core.durations import parse_expires_in
from tidings.core.errors import DomainError
from tidings.runtime import master_key
from tidings.runtime.context import Context
from tidings.services import accounts as account_service
from tidings.services import keys as key_service
from tidings.store.db import Database
from tidings.store.wakeups import announce_keys_changed

accounts_app = typer.Typer(help="Create and list accounts.", no_args_is_help=True)
keys_app = typer.Typer(help="Create, list, roll and revoke API keys.", no_args_is_help=True)

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

DataDir = Annotated[
    Path | None, typer.Option(help="The embedded SQLite store \\[env: TIDINGS_DATA_DIR]")
]
DatabaseUrl = Annotated[str | None, typer.Option(help="Database URL \\[env: TIDINGS_DATABASE_URL]")]

# Piped output (scripts, grep) gets whole lines rather than a table cut to 80 columns.
console = Console(width=None if sys.stdout.isatty() else 250)


def _run(
    data_dir: Path | None,
    database_url: str | None,
    work: Callable[[Context], Awaitable[T]],
) -> T:
    settings = settings_with(data_dir=data_dir, database_url=database_url)
    require_database(settings.resolved_database_url())

    async def main() -> T:
        db = Database(settings.resolved_database_url())
        ctx = Context(settings=settings, db=db, keyring=master_key.absent())
        try:
            result = await work(ctx)
            # Running servers forget the keys they cached (on SQLite they do not cache keys).
            await announce_keys_changed(db)
            return result
        except DomainError as exc:
            raise _fail(exc.message) from None
        finally:
            await db.dispose()

    return asyncio.run(main())


def require_database(url: str) -> None:
    """Stop, in one line and having created nothing, when there is no database to work on."""
    from tidings.store.migrate import missing_database

    problem = missing_database(url)
    if problem:
        raise _fail(f"{problem}; run `tidings migrate` (or `tidings serve`) first")


def _fail(message: str) -> typer.Exit:
    console.print(f"[red]error:[/red] {message}")
    return typer.Exit(2)


class Run(Protocol):
    """What a ``store`` command is given: ``run(work)`` does ``work(ctx)`` on the store."""

    def __call__(self, work: Callable[[Context], Awaitable[T]]) -> T: ...


def store(fn: F) -> F:
    """Give a command ``--data-dir`` and ``--database-url``; it receives ``run``, which works
    on that store (and stops, in one line, when there is no database or a domain error)."""

    def command(*args: Any, data_dir: Path | None, database_url: str | None, **kwargs: Any) -> Any:
        return fn(*args, run=functools.partial(_run, data_dir, database_url), **kwargs)

    added = [param("data_dir", DataDir, None), param("database_url", DatabaseUrl, None)]
    return cast(F, extend(fn, ("run",), added, command))


def acting_for(account: str | None, operator: bool) -> Caller:
    """The operator, for ``--account`` or as ``--operator``: one of the two."""
    if operator == (account is not None):
        raise _fail("give either --account or --operator")
    return access.operator(account)


def _show_key(shown: dict[str, Any], plaintext: str) -> None:
    owner = shown["account_id"] or "every account"
    console.print(f"Key {shown['id']} ({shown['type']}) for {owner}:")
    console.print(plaintext, style="bold", soft_wrap=True, highlight=False)
    console.print("It will not be shown again: store it somewhere safe now.")


@accounts_app.command("create")
@store
def accounts_create(
    run: Run,
    name: Annotated[str, typer.Argument(help="The account's name")],
) -> None:
    """Create an account and print its id."""
    shown = run(lambda ctx: account_service.create(ctx, access.operator(), name))
    console.print(shown["id"])


@accounts_app.command("list")
@store
def accounts_list(run: Run) -> None:
    """List the accounts, newest first."""
    table = Table("name", "created")
    table.add_column("id", no_wrap=True, min_width=30)
    for shown in run(lambda ctx: account_service.active(ctx, access.operator())):
        table.add_row(shown["name"], shown["created_at"], shown["id"])
    console.print(table)


def _permissions(permission: list[str] | None) -> dict[str, str] | None:
    if not permission:
        return None
    try:
        return dict(p.split("=", 1) for p in permission)
    except ValueError:
        raise _fail("--permission takes resource=level, e.g. webhooks=read") from None


def _expiry(expires_at: str | None) -> datetime | None:
    if expires_at is None:
        return None
    try:
        return datetime.fromisoformat(expires_at.replace("Z", "+00:00"))
    except ValueError:
        raise _fail("--expires-at must be an ISO 8601 time, e.g. 2027-01-31T00:00:00Z") from None


@keys_app.command("create")
@store
def keys_create(
    run: Run,
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
) -> None:
    """Create a key and print it, once."""
    caller = acting_for(account, operator)
    if len(name) > 200:
        raise _fail("--name must be at most 200 characters")
    if operator and (key_type != "secret" or permission or category):
        raise _fail(
            "an operator key holds every permission: --type, --permission and "
            "--category apply to account keys only"
        )
    wanted = _permissions(permission)
    expires = _expiry(expires_at)

    def work(ctx: Context) -> Awaitable[tuple[dict[str, Any], str]]:
        if operator:
            return key_service.create_operator(ctx, caller, name=name, expires_at=expires)
        return key_service.create(
            ctx,
            caller,
            name=name,
            key_type=key_type,
            wanted=wanted,
            categories=category,
            expires_at=expires,
        )

    _show_key(*run(work))


@keys_app.command("list")
@store
def keys_list(
    run: Run,
    account: Annotated[
        str | None, typer.Option("--account", "-a", help="The account id; omit for operator keys")
    ] = None,
) -> None:
    """List keys (never their plaintext), newest first."""
    table = Table("name", "type", "key")
    table.add_column("status", no_wrap=True, min_width=8)
    table.add_column("created")
    table.add_column("last used")
    table.add_column("expires")
    # The id is what roll and revoke take: never cut it.
    table.add_column("id", no_wrap=True, min_width=30)
    for key in run(lambda ctx: key_service.of_owner(ctx, access.operator(), account)):
        table.add_row(
            key["name"],
            key["type"],
            f"{key['prefix']}…{key['last4']}",
            key["status"],
            key["created_at"],
            key["last_used_at"] or "",
            key["expires_at"] or "",
            key["id"],
        )
    console.print(table)


@keys_app.command("roll")
@store
def keys_roll(
    run: Run,
    key_id: Annotated[str, typer.Argument(help="The key's id (key_…)")],
    expires_in: Annotated[
        str, typer.Option(help="When the old key stops: now, 1h, 2h, 24h or seconds (≤ 7 days)")
    ] = "24h",
) -> None:
    """Make a new key like this one; the old one keeps working for --expires-in."""
    try:
        seconds = parse_expires_in(int(expires_in) if expires_in.isdigit() else expires_in)
    except ValueError as exc:
        raise _fail(f"--expires-in: {exc}") from None
    _show_key(*run(lambda ctx: key_service.roll(ctx, access.operator(), key_id, seconds)))


@keys_app.command("revoke")
@store
def keys_revoke(
    run: Run,
    key_id: Annotated[str, typer.Argument(help="The key's id (key_…)")],
) -> None:
    """Revoke a key at once."""
    run(lambda ctx: key_service.revoke(ctx, access.operator(), key_id))
    console.print(f"Revoked {key_id}.")
