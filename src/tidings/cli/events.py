"""``tidings events …`` and ``tidings trigger``: publishing, and what was published."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from tidings.cli.params import options
from tidings.cli.remote import Output, group, read_json, remote
from tidings.cli.resource import Commands
from tidings.core.samples import sample

if TYPE_CHECKING:
    from tidings_client import Tidings

app = group("Publish events and read what was published (over the API).")

COLUMNS = ["id", "eventType", "createdAt", "idempotencyKey", "test"]

EventType = Annotated[str, typer.Argument(help="The event type, e.g. payment.updated")]
Data = Annotated[str | None, typer.Option(help="The event data: JSON, @file, or @- (stdin)")]
IdempotencyKey = Annotated[
    str | None, typer.Option(help="Publishing again with this key answers the first event")
]


events = Commands(app, "events", "event_id", Annotated[str, typer.Argument(help="evt_…")])
events.listing(
    "Published events, newest first.",
    COLUMNS,
    options(event_type=Annotated[str | None, typer.Option(help="Only this type")]),
    limit=50,
)
events.call(
    "get",
    "An event, the request that published it and its notifications.",
    nested=("notifications", ["id", "webhookId", "status", "attemptCount", "lastStatusCode"]),
)


@app.command()
@remote
def publish(
    api: Tidings,
    out: Output,
    event_type: EventType,
    data: Annotated[str, typer.Option(help="The event data: JSON, @file, or @- (stdin)")],
    idempotency_key: IdempotencyKey = None,
) -> None:
    """Publish an event."""
    _publish(api, out, event_type, read_json(data, "--data"), idempotency_key)


def _publish(api: Tidings, out: Output, event_type: str, data: object, key: str | None) -> None:
    if not isinstance(data, dict):
        raise typer.BadParameter("the event data must be a JSON object", param_hint="--data")
    event = api.events.publish(event_type, data, idempotency_key=key)
    if out.as_json:
        out.json(event)
        return
    reached = len(event.get("notifications") or [])
    out.done(f"Published {event['id']} ({event_type}) to {reached} webhook(s).")


@remote
def trigger(
    api: Tidings,
    out: Output,
    event_type: EventType,
    data: Data = None,
    idempotency_key: IdempotencyKey = None,
) -> None:
    """Publish an event of EVENT_TYPE: --data, or a sample built from the type's JSON Schema
    (its examples when it gives them, else a minimal valid instance)."""
    if data is not None:
        payload = read_json(data, "--data")
    else:
        payload = sample(api.event_types.get(event_type).get("schema"))
        if not out.as_json:
            out.done(f"Sample data from the schema of {event_type}: {json.dumps(payload)}")
    _publish(api, out, event_type, payload, idempotency_key)
