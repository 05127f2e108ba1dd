"""``tidings event-types …``: the catalog of what can be published, over the API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from tidings.cli.remote import Limit, Output, first, group, read_json, remote

if TYPE_CHECKING:
    from tidings_client import Tidings

app = group("List, create, change and archive event types (over the API).")

COLUMNS = ["name", "category", "scope", "archived", "description"]

Name = Annotated[str, typer.Argument(help="The event type's name, e.g. payment.updated")]
Category = Annotated[str | None, typer.Option(help="Its category")]
Description = Annotated[str | None, typer.Option(help="What it means")]
Schema = Annotated[str | None, typer.Option(help="Its JSON Schema: JSON, or @file")]


@app.command("list")
@remote
def list_(
    api: Tidings,
    out: Output,
    category: Category = None,
    include_archived: Annotated[bool, typer.Option(help="Archived types too")] = False,
    limit: Limit = 100,
) -> None:
    """The catalog: the operator's types and the account's own."""
    listed = api.event_types.list(
        category=category, include_archived=include_archived or None, limit=min(limit, 250)
    )
    out.table(first(listed, limit), COLUMNS)


@app.command()
@remote
def get(api: Tidings, out: Output, name: Name) -> None:
    """One event type, with its schema."""
    out.record(api.event_types.get(name))


@app.command()
@remote
def create(
    api: Tidings,
    out: Output,
    name: Name,
    category: Category = None,
    description: Description = None,
    schema: Schema = None,
) -> None:
    """Add an event type to the catalog."""
    parsed = read_json(schema, "--schema") if schema is not None else None
    out.record(
        api.event_types.create(name, category=category, description=description, schema=parsed)
    )


@app.command()
@remote
def update(
    api: Tidings,
    out: Output,
    name: Name,
    category: Category = None,
    description: Description = None,
    schema: Schema = None,
    archived: Annotated[
        bool | None, typer.Option("--archived/--unarchived", help="Archive, or bring back")
    ] = None,
) -> None:
    """Change the fields given."""
    fields: dict[str, Any] = {
        k: v
        for k, v in {"category": category, "description": description, "archived": archived}.items()
        if v is not None
    }
    if schema is not None:
        fields["schema"] = read_json(schema, "--schema")
    if not fields:
        raise typer.BadParameter("give at least one field to change")
    out.record(api.event_types.update(name, **fields))


@app.command()
@remote
def delete(api: Tidings, out: Output, name: Name) -> None:
    """Archive the type: it leaves the list and cannot be published."""
    api.event_types.delete(name)
    out.done(f"Archived {name}.", {"name": name, "archived": True})
