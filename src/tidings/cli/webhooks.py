"""``tidings webhooks …``: the account's endpoints, over the API."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import Progress

from tidings.cli.params import expires_in, options, required
from tidings.cli.remote import Output, changes, group, pairs, read_json, remote
from tidings.cli.resource import Commands

if TYPE_CHECKING:
    from tidings_client import Tidings

app = group("List, create, change, test and replay webhooks (over the API).")

COLUMNS = ["id", "url", "status", "eventTypes", "category", "createdAt"]

Id = Annotated[str, typer.Argument(help="The webhook's id (wh_…)")]
EventTypes = Annotated[
    list[str] | None,
    typer.Option("--event-type", "-e", help="An event type or pattern (payment.*); repeat"),
]
Description = Annotated[str | None, typer.Option(help="What it is for")]
Category = Annotated[str | None, typer.Option(help="Its category")]
Headers = Annotated[
    list[str] | None, typer.Option("--header", help="NAME:VALUE sent with each delivery; repeat")
]
Format = Annotated[str | None, typer.Option(help="full, compact or raw")]
Scheme = Annotated[
    str | None, typer.Option("--signature-scheme", help="standard or hmac-sha256-hex")
]
RateLimit = Annotated[int | None, typer.Option(help="Deliveries per second, at most")]
Schedule = Annotated[
    str | None, typer.Option("--retry-schedule", help='Delays between attempts: "1m,5m,1h"')
]
# What create and update both take, around create's --status.
ROUTING = options(event_type=EventTypes, description=Description, category=Category, header=Headers)
DELIVERY = options(
    format=Format, signature_scheme=Scheme, rate_limit=RateLimit, retry_schedule=Schedule
)


def _fields(given: dict[str, Any]) -> dict[str, Any]:
    header, schedule = given.pop("header"), given.pop("retry_schedule")
    fields = {k: v for k, v in given.items() if v is not None}
    if header:
        fields["headers"] = pairs(header, "--header", sep=":")
    if schedule is not None:
        fields["retry_schedule"] = [s.strip() for s in schedule.split(",") if s.strip()]
    return fields


webhooks = Commands(app, "webhooks", "webhook_id", Id)
webhooks.listing(
    "The account's webhooks.",
    COLUMNS,
    options(
        status=Annotated[str | None, typer.Option(help="Active or Disabled")], category=Category
    ),
    limit=50,
)
webhooks.call("get", "One webhook.")


@webhooks.command(
    "create",
    required(url=Annotated[str, typer.Option(help="Where notifications are POSTed")]),
    ROUTING,
    options(status=Annotated[str | None, typer.Option(help="Active (default) or Disabled")]),
    DELIVERY,
    of_one=False,
)
def create(api: Tidings, out: Output, url: str, event_type: list[str] | None, **given: Any) -> None:
    """Create a webhook; its signing secret is shown."""
    out.record(api.webhooks.create(url, event_type or [], **_fields(given)))


@webhooks.command(
    "update", options(url=Annotated[str | None, typer.Option(help="A new URL")]), ROUTING, DELIVERY
)
def update(
    api: Tidings,
    out: Output,
    webhook_id: str,
    url: str | None,
    event_type: list[str] | None,
    **given: Any,
) -> None:
    """Change the fields given."""
    fields = _fields({"url": url, "event_types": event_type, **given})
    out.record(api.webhooks.update(webhook_id, **changes(**fields)))


webhooks.delete("Delete a webhook (its notifications stay in the log).")
webhooks.call("enable", "Deliver to it again.")
webhooks.call("disable", "Stop delivering to it.")
webhooks.call(
    "roll_secret",
    "A new signing secret; the current one signs too until it expires.",
    expires_in("When the current secret stops signing: now, 1h, 24h…"),
)


@app.command()
@remote
def test(
    api: Tidings,
    out: Output,
    webhook_id: Id,
    event_type: Annotated[str, typer.Option("--event-type", "-e", help="The event type")],
    data: Annotated[str, typer.Option(help="The event data: JSON, or @file")] = "{}",
) -> None:
    """Send a test event to this webhook only (whatever its status and filter)."""
    event = api.webhooks.test(webhook_id, event_type, read_json(data, "--data"))
    out.record(event, f"Test event {event['id']} sent to {webhook_id}.")


@app.command()
@remote
def replay(
    api: Tidings,
    out: Output,
    webhook_id: Id,
    since: Annotated[str, typer.Option(help="From this time (ISO 8601)")],
    until: Annotated[str | None, typer.Option(help="Until this time (default: now)")] = None,
    status: Annotated[str, typer.Option(help="failed, succeeded or all")] = "failed",
    wait: Annotated[
        float, typer.Option(help="Seconds to follow the deliveries (0: do not wait)")
    ] = 120.0,
) -> None:
    """Queue this webhook's notifications again, and follow their delivery."""
    before = _attempts(api, webhook_id, since, until)
    count = int(api.webhooks.replay(webhook_id, since, until, status)["count"])
    done = 0
    if count and wait > 0 and not out.as_json:
        deadline = time.monotonic() + wait
        with Progress(transient=False) as progress:
            task = progress.add_task(f"replaying {webhook_id}", total=count)
            while done < count and time.monotonic() < deadline:
                time.sleep(0.5)
                now = _attempts(api, webhook_id, since, until)
                done = min(count, sum(1 for k, n in now.items() if n > before.get(k, 0)))
                progress.update(task, completed=done)
    out.done(
        f"Replayed {count} notifications of {webhook_id}"
        + (f"; {done} delivered again." if count and wait > 0 else "."),
        {"count": count},
    )


def _attempts(api: Tidings, webhook_id: str, since: str, until: str | None) -> dict[str, int]:
    """Each notification of the window and its attempt count so far."""
    listed = api.notifications.list(webhook_id=webhook_id, start=since, end=until, limit=250)
    return {n["id"]: int(n["attemptCount"]) for n in listed}


@app.command()
@remote
def secret(api: Tidings, out: Output, webhook_id: Id) -> None:
    """Show the signing secret."""
    shown = api.webhooks.secret(webhook_id)
    if out.as_json:
        out.json(shown)
    else:
        typer.echo(shown["secret"])
