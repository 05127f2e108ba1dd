"""``tidings event-types …``: the catalog of what can be published, over the API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from tidings.cli.params import options, param
from tidings.cli.remote import Output, changes, given, group, read_json
from tidings.cli.resource import Commands

if TYPE_CHECKING:
    from tidings_client import Tidings

app = group("List, create, change and archive event types (over the API).")

COLUMNS = ["name", "category", "scope", "archived", "description"]

Name = Annotated[str, typer.Argument(help="The event type's name, e.g. payment.updated")]
Category = Annotated[str | None, typer.Option(help="Its category")]
Description = Annotated[str | None, typer.Option(help="What it means")]
Schema = Annotated[str | None, typer.Option(help="Its JSON Schema: JSON, or @file")]
# What create and update both take, after the name.
FIELDS = options(category=Category, description=Description, schema=Schema)


def _query(category: str | None, include_archived: bool) -> dict[str, Any]:
    return {"category": category, "include_archived": include_archived or None}


event_types = Commands(app, "event_types", "name", Name)
event_types.listing(
    "The catalog: the operator's types and the account's own.",
    COLUMNS,
    [
        *options(category=Category),
        param("include_archived", Annotated[bool, typer.Option(help="Archived types too")], False),
    ],
    query=_query,
)
event_types.call("get", "One event type, with its schema.")


@event_types.command("create", FIELDS)
def create(api: Tidings, out: Output, name: str, schema: str | None, **fields: Any) -> None:
    """Add an event type to the catalog."""
    parsed = read_json(schema, "--schema") if schema is not None else None
    out.record(api.event_types.create(name, **fields, schema=parsed))


@event_types.command(
    "update",
    FIELDS,
    options(
        archived=Annotated[
            bool | None, typer.Option("--archived/--unarchived", help="Archive, or bring back")
        ]
    ),
)
def update(api: Tidings, out: Output, name: str, schema: str | None, **values: Any) -> None:
    """Change the fields given."""
    fields = given(**values)
    if schema is not None:
        fields["schema"] = read_json(schema, "--schema")
    out.record(api.event_types.update(name, **changes(**fields)))


event_types.delete(
    "Archive the type: it leaves the list and cannot be published.", past="Archived", key="name"
)
