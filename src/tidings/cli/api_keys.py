"""``tidings api-keys …``: the account's API keys, over the API (``tidings keys`` works on
the store directly, for the operator)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from tidings.cli.params import expires_in
from tidings.cli.remote import Output, group, pairs, remote
from tidings.cli.resource import Commands

if TYPE_CHECKING:
    from tidings_client import Tidings

app = group("List, create, roll and revoke the account's API keys (over the API).")

COLUMNS = ["id", "name", "type", "prefix", "last4", "status", "createdAt", "lastUsedAt"]

KeyId = Annotated[str, typer.Argument(help="The key's id (key_…)")]


api_keys = Commands(app, "api_keys", "key_id", KeyId)
api_keys.listing("The account's keys (never the keys themselves).", COLUMNS)
api_keys.call("get", "One key's details.")


@app.command()
@remote
def create(
    api: Tidings,
    out: Output,
    name: Annotated[str, typer.Option(help="A name to recognise it by")] = "",
    type: Annotated[str, typer.Option(help="secret, restricted or publishable")] = "secret",
    permission: Annotated[
        list[str] | None,
        typer.Option(help="Restricted keys: resource=level, e.g. webhooks=read; repeat"),
    ] = None,
    category: Annotated[
        list[str] | None, typer.Option(help="Restricted keys: only this category; repeat")
    ] = None,
    expires_at: Annotated[str | None, typer.Option(help="ISO 8601 end of validity")] = None,
) -> None:
    """Create a key; it is shown this once."""
    made = api.api_keys.create(
        name,
        type=type,
        permissions=pairs(permission, "--permission") if permission else None,
        categories=category,
        expires_at=expires_at,
    )
    out.record(made, "The key is shown this once: store it somewhere safe now.")


api_keys.call(
    "roll",
    "A new key with the same type and permissions; the old one works until it expires.",
    expires_in("When the old key stops working: now, 1h, 24h…"),
    message="The new key is shown this once.",
)
api_keys.delete("Revoke a key at once.", method="revoke", past="Revoked")
