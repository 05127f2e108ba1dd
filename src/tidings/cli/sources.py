"""``tidings sources …``: inbound endpoints partners push to, over the API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from tidings.cli.remote import Limit, Output, changes, first, given, group, remote

if TYPE_CHECKING:
    from tidings_client import Tidings

app = group("List, create, change and roll the keys of push sources (over the API).")

COLUMNS = ["id", "name", "eventType", "authType", "status", "url"]

SourceId = Annotated[str, typer.Argument(help="The source's id (src_…)")]
Category = Annotated[str | None, typer.Option(help="Its category")]
Pointer = Annotated[
    str | None, typer.Option(help="Where a push names its type: a JSON Pointer, e.g. /type")
]
Scheme = Annotated[str | None, typer.Option(help="hmac sources: standard or hmac-sha256-hex")]


@app.command("list")
@remote
def list_(api: Tidings, out: Output, limit: Limit = 100) -> None:
    """The account's sources."""
    out.table(first(api.sources.list(limit=min(limit, 250)), limit), COLUMNS)


@app.command()
@remote
def get(api: Tidings, out: Output, source_id: SourceId) -> None:
    """One source."""
    out.record(api.sources.get(source_id))


@app.command()
@remote
def create(
    api: Tidings,
    out: Output,
    name: Annotated[str, typer.Option(help="Its name")],
    event_type: Annotated[str, typer.Option(help="The event type a push becomes")],
    auth_type: Annotated[str | None, typer.Option(help="api-key (default), basic or hmac")] = None,
    category: Category = None,
    event_type_pointer: Pointer = None,
    signature_scheme: Scheme = None,
    username: Annotated[str | None, typer.Option(help="basic sources")] = None,
    password: Annotated[str | None, typer.Option(help="basic sources")] = None,
) -> None:
    """Create a source: its ingest URL and, this once, its key or secret are shown."""
    fields = given(
        auth_type=auth_type,
        category=category,
        event_type_pointer=event_type_pointer,
        signature_scheme=signature_scheme,
        username=username,
        password=password,
    )
    out.record(api.sources.create(name, event_type, **fields))


@app.command()
@remote
def update(
    api: Tidings,
    out: Output,
    source_id: SourceId,
    name: Annotated[str | None, typer.Option(help="A new name")] = None,
    event_type: Annotated[str | None, typer.Option(help="A new event type")] = None,
    category: Category = None,
    event_type_pointer: Pointer = None,
    signature_scheme: Scheme = None,
    username: Annotated[str | None, typer.Option(help="basic sources")] = None,
    password: Annotated[str | None, typer.Option(help="basic sources")] = None,
) -> None:
    """Change the fields given."""
    fields = changes(
        name=name,
        event_type=event_type,
        category=category,
        event_type_pointer=event_type_pointer,
        signature_scheme=signature_scheme,
        username=username,
        password=password,
    )
    out.record(api.sources.update(source_id, **fields))


@app.command()
@remote
def delete(api: Tidings, out: Output, source_id: SourceId) -> None:
    """Delete a source."""
    api.sources.delete(source_id)
    out.done(f"Deleted {source_id}.", {"id": source_id, "deleted": True})


@app.command()
@remote
def enable(api: Tidings, out: Output, source_id: SourceId) -> None:
    """Accept pushes again."""
    out.record(api.sources.enable(source_id))


@app.command()
@remote
def disable(api: Tidings, out: Output, source_id: SourceId) -> None:
    """Answer pushes 404 until enabled."""
    out.record(api.sources.disable(source_id))


@app.command("roll-key")
@remote
def roll_key(
    api: Tidings,
    out: Output,
    source_id: SourceId,
    expires_in: Annotated[
        str, typer.Option(help="When the current key or secret stops working: now, 1h, 24h…")
    ] = "24h",
) -> None:
    """A new key or secret, shown once."""
    out.record(api.sources.roll_key(source_id, expires_in))
