"""The ``tidings`` command."""

from __future__ import annotations

import asyncio
import contextlib
import math
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Annotated

import typer
import uvicorn

from tidings import __version__
from tidings.cli import (
    api_keys,
    event_types,
    events,
    logs,
    notifications,
    pulls,
    sources,
    webhooks,
)
from tidings.cli.admin import accounts_app, keys_app, require_database
from tidings.cli.listen import listen
from tidings.cli.users import users_app
from tidings.config import Settings, settings_with
from tidings.runtime import gc_tuning
from tidings.store.db import shown_url

app = typer.Typer(
    help="Tidings: a self-hosted webhook platform.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

app.command("listen")(listen)
app.add_typer(accounts_app, name="accounts")
app.add_typer(keys_app, name="keys")
app.add_typer(users_app, name="users")
# Over the API, with the Python client (--api-url, --api-key):
app.add_typer(webhooks.app, name="webhooks")
app.add_typer(event_types.app, name="event-types")
app.add_typer(events.app, name="events")
app.add_typer(notifications.app, name="notifications")
app.add_typer(logs.app, name="logs")
app.add_typer(api_keys.app, name="api-keys")
app.add_typer(sources.app, name="sources")
app.add_typer(pulls.app, name="pulls")
app.command("trigger")(events.trigger)

DataDir = Annotated[
    Path | None,
    typer.Option(help="Where the embedded SQLite store lives \\[env: TIDINGS_DATA_DIR]"),
]
DatabaseUrl = Annotated[
    str | None,
    typer.Option(
        help="sqlite:///path or postgresql://user@host/db; default: SQLite in the data dir "
        "\\[env: TIDINGS_DATABASE_URL]",
    ),
]


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tidings {__version__}")
        raise typer.Exit()


@app.callback()
def main(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Print version.")
    ] = False,
) -> None:
    """Tidings: API keys, signed and retried webhooks, an event catalog and logs."""


def _where(settings: Settings) -> str:
    if settings.database_url:
        return shown_url(settings.resolved_database_url())
    return f"{settings.data_dir.resolve()} (SQLite)"


@app.command()
def migrate(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Create or upgrade the database schema to this version."""
    from tidings.store.migrate import upgrade

    settings = settings_with(data_dir=data_dir, database_url=database_url)
    upgrade(settings.resolved_database_url())
    typer.echo(f"Database is up to date: {_where(settings)}")


@app.command()
def serve(
    host: Annotated[str | None, typer.Option(help="Interface \\[env: TIDINGS_HOST]")] = None,
    port: Annotated[int | None, typer.Option(help="Port \\[env: TIDINGS_PORT]")] = None,
    data_dir: DataDir = None,
    database_url: DatabaseUrl = None,
    role: Annotated[
        str | None,
        typer.Option(help="api, worker, scheduler or all \\[env: TIDINGS_ROLE]"),
    ] = None,
    migrate_first: Annotated[
        bool, typer.Option("--migrate/--no-migrate", help="Upgrade the schema before serving")
    ] = True,
) -> None:
    """Serve the API, the delivery worker and the scheduler (--role: one of them, or all).

    Every role answers /healthz, /readyz and /metrics on --port. SIGTERM or SIGINT: stop
    claiming, finish in-flight deliveries (TIDINGS_SHUTDOWN_GRACE), exit 0."""
    from tidings.app import create_app
    from tidings.core.clock import Clock
    from tidings.runtime import log_config, master_key
    from tidings.runtime.bootstrap import ensure_operator_key
    from tidings.store.db import Database
    from tidings.store.migrate import upgrade

    if role is not None and role not in ("api", "worker", "scheduler", "all"):
        raise typer.BadParameter("use api, worker, scheduler or all", param_hint="--role")
    settings = settings_with(
        host=host, port=port, data_dir=data_dir, database_url=database_url, role=role
    )
    log_config.configure(settings.log_level)
    gc_tuning.tune()
    url = settings.resolved_database_url()
    if migrate_first:
        upgrade(url)

    async def _bootstrap() -> str | None:
        db = Database(url)
        try:
            return await ensure_operator_key(db, settings, Clock())
        finally:
            await db.dispose()

    new_key = asyncio.run(_bootstrap())
    _keyring, key_source = master_key.load(settings)
    base = f"http://{settings.host}:{settings.port}"
    lines = [
        f"Tidings {__version__}",
        f"  API:   {base}  (docs: {base}/docs)",
        f"  Data:  {_where(settings)}",
        f"  Master key: {key_source}",
        f"  Role:  {settings.role}",
    ]
    if new_key:
        lines += [
            f"  Operator API key: {new_key}",
            "  This key will not be shown again: store it somewhere safe now.",
        ]
    typer.echo("\n".join(lines))
    config = uvicorn.Config(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        lifespan="on",
        # Requests still running at SIGTERM get this long; then the worker gets as long.
        timeout_graceful_shutdown=max(1, math.ceil(settings.shutdown_grace)),
    )
    with _exit_zero_on_signals():
        _Server(config).run()


class _Server(uvicorn.Server):
    """uvicorn's server, telling the app at SIGTERM/SIGINT that it is stopping: open streams
    (tidings listen) end at once instead of holding the shutdown for its whole grace."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        # The app is built, its lifespan has started the worker and the caches: what exists
        # now lives as long as the process (runtime/gc_tuning.py).
        gc_tuning.freeze_startup()

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        ctx = getattr(getattr(self.config.app, "state", None), "ctx", None)
        if ctx is not None:
            ctx.stopping.set()
        super().handle_exit(sig, frame)


@contextlib.contextmanager
def _exit_zero_on_signals() -> Iterator[None]:
    """uvicorn handles SIGTERM and SIGINT with a graceful shutdown, then raises the signal
    again for the handler that was there before it. Make that handler a no-op: a shutdown
    that finished cleanly exits 0, as process managers expect."""
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@app.command("rotate-master-key")
def rotate_master_key(data_dir: DataDir = None, database_url: DatabaseUrl = None) -> None:
    """Encrypt every stored secret under a new master key, while the service keeps running.

    With the key file in the data dir (the default), a new key is made and the old one kept
    for reading. With TIDINGS_MASTER_KEY, set it to the new key and TIDINGS_PREVIOUS_MASTER_KEYS
    to the old one on every process first; this command then re-encrypts under the new key."""
    from rich.progress import Progress

    from tidings.core.crypto import new_key
    from tidings.runtime import master_key
    from tidings.services import master_key as rotation
    from tidings.store.db import DATABASE_ERRORS, Database

    settings = settings_with(data_dir=data_dir, database_url=database_url)
    # Before the key file: with no database there is nothing to re-encrypt, nor to create.
    require_database(settings.resolved_database_url())
    if not settings.master_key:
        path = master_key.key_file(settings)
        current, _ = master_key.load(settings, create=True)
        old = [current.current, *current.older]
        master_key.write_file(path, new_key(), tuple(old))
        typer.echo(f"New master key written to {path.resolve()}; the old one still decrypts.")
    keyring, source = master_key.load(settings, create=False)

    async def run() -> int:
        db = Database(settings.resolved_database_url())
        try:
            total = await rotation.count_rows(db)
            with Progress() as progress:
                task = progress.add_task("re-encrypting webhooks", total=total)
                return await rotation.reseal_all(db, keyring, lambda n: progress.advance(task, n))
        finally:
            await db.dispose()

    try:
        changed = asyncio.run(run())
    except DATABASE_ERRORS as exc:
        typer.echo(f"error: cannot read the webhooks ({exc}); run `tidings migrate` first?")
        raise typer.Exit(1) from None
    typer.echo(f"Re-encrypted {changed} webhooks under the master key {source}.")
