"""``tidings pulls …``: scheduled fetches of a partner's URL, over the API."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from tidings.cli.remote import Limit, Output, changes, first, given, group, remote

if TYPE_CHECKING:
    from tidings_client import Tidings

app = group("List, create, run and follow scheduled pulls (over the API).")

COLUMNS = ["id", "name", "url", "frequency", "schedule", "status", "nextRunAt"]
RUN_COLUMNS = ["id", "startedAt", "status", "httpStatus", "recordsSeen", "recordsNew", "error"]

PullId = Annotated[str, typer.Argument(help="The pull's id (pull_…)")]
Opt = Annotated[str | None, typer.Option()]


@app.command("list")
@remote
def list_(api: Tidings, out: Output, limit: Limit = 100) -> None:
    """The account's pulls."""
    out.table(first(api.pulls.list(limit=min(limit, 250)), limit), COLUMNS)


@app.command()
@remote
def get(api: Tidings, out: Output, pull_id: PullId) -> None:
    """One pull."""
    out.record(api.pulls.get(pull_id))


@app.command()
@remote
def create(
    api: Tidings,
    out: Output,
    name: Annotated[str, typer.Option(help="Its name")],
    url: Annotated[str, typer.Option(help="The partner URL to GET")],
    event_type: Annotated[str, typer.Option(help="The event type each new record becomes")],
    frequency: Annotated[
        str | None, typer.Option(help="hourly, daily, weekly, or a cron expression")
    ] = None,
    schedule: Annotated[str | None, typer.Option(help='":MM", "HH:MM" or "monday 02:30"')] = None,
    timezone: Annotated[str | None, typer.Option(help="IANA name, e.g. Europe/Berlin")] = None,
    category: Opt = None,
    username: Opt = None,
    password: Opt = None,
    records_pointer: Annotated[
        str | None, typer.Option(help="JSON Pointer to the array of records")
    ] = None,
    id_pointer: Annotated[str | None, typer.Option(help="JSON Pointer to a record's id")] = None,
) -> None:
    """Create a pull."""
    fields = given(
        frequency=frequency,
        schedule=schedule,
        timezone=timezone,
        category=category,
        username=username,
        password=password,
        records_pointer=records_pointer,
        id_pointer=id_pointer,
    )
    out.record(api.pulls.create(name, url, event_type, **fields))


@app.command()
@remote
def update(
    api: Tidings,
    out: Output,
    pull_id: PullId,
    name: Opt = None,
    url: Opt = None,
    event_type: Opt = None,
    frequency: Opt = None,
    schedule: Opt = None,
    timezone: Opt = None,
    category: Opt = None,
    username: Opt = None,
    password: Opt = None,
) -> None:
    """Change the fields given."""
    fields = changes(
        name=name,
        url=url,
        event_type=event_type,
        frequency=frequency,
        schedule=schedule,
        timezone=timezone,
        category=category,
        username=username,
        password=password,
    )
    out.record(api.pulls.update(pull_id, **fields))


@app.command()
@remote
def delete(api: Tidings, out: Output, pull_id: PullId) -> None:
    """Delete a pull."""
    api.pulls.delete(pull_id)
    out.done(f"Deleted {pull_id}.", {"id": pull_id, "deleted": True})


@app.command()
@remote
def enable(api: Tidings, out: Output, pull_id: PullId) -> None:
    """Run on schedule again."""
    out.record(api.pulls.enable(pull_id))


@app.command()
@remote
def disable(api: Tidings, out: Output, pull_id: PullId) -> None:
    """Stop running on schedule."""
    out.record(api.pulls.disable(pull_id))


@app.command()
@remote
def run(api: Tidings, out: Output, pull_id: PullId) -> None:
    """Run the pull now and show the run."""
    out.record(api.pulls.run(pull_id))


@app.command()
@remote
def runs(api: Tidings, out: Output, pull_id: PullId, limit: Limit = 50) -> None:
    """The pull's runs, newest first."""
    out.table(first(api.pulls.runs(pull_id, limit=min(limit, 250)), limit), RUN_COLUMNS)
