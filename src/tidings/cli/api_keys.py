"""``tidings api-keys …``: the account's API keys, over the API (``tidings keys`` works on
the store directly, for the operator)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from tidings.cli.remote import Limit, Output, first, group, pairs, remote

if TYPE_CHECKING:
    from tidings_client import Tidings

app = group("List, create, roll and revoke the account's API keys (over the API).")

COLUMNS = ["id", "name", "type", "prefix", "last4", "status", "createdAt", "lastUsedAt"]

KeyId = Annotated[str, typer.Argument(help="The key's id (key_…)")]
ExpiresIn = Annotated[str, typer.Option(help="When the old key stops working: now, 1h, 24h…")]


@app.command("list")
@remote
def list_(api: Tidings, out: Output, limit: Limit = 100) -> None:
    """The account's keys (never the keys themselves)."""
    out.table(first(api.api_keys.list(limit=min(limit, 250)), limit), COLUMNS)


@app.command()
@remote
def get(api: Tidings, out: Output, key_id: KeyId) -> None:
    """One key's details."""
    out.record(api.api_keys.get(key_id))


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


@app.command()
@remote
def roll(api: Tidings, out: Output, key_id: KeyId, expires_in: ExpiresIn = "24h") -> None:
    """A new key with the same type and permissions; the old one works until it expires."""
    out.record(api.api_keys.roll(key_id, expires_in), "The new key is shown this once.")


@app.command()
@remote
def revoke(api: Tidings, out: Output, key_id: KeyId) -> None:
    """Revoke a key at once."""
    api.api_keys.revoke(key_id)
    out.done(f"Revoked {key_id}.", {"id": key_id, "revoked": True})
