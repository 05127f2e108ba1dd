"""Which webhook fields hold secrets, sealed (encrypted) on the way into the store and opened
on the way out: the signing secret and those a roll keeps alive, header values, and the basic
auth password."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from tidings.core.crypto import Keyring


def seal_webhook(values: dict[str, Any], keyring: Keyring) -> dict[str, Any]:
    """``values`` (insert or update values) with every secret-bearing field encrypted."""
    sealed = dict(values)
    if sealed.get("secret"):
        sealed["secret"] = keyring.encrypt(sealed["secret"])
    if sealed.get("password"):
        sealed["password"] = keyring.encrypt(sealed["password"])
    if sealed.get("headers"):
        sealed["headers"] = {k: keyring.encrypt(v) for k, v in sealed["headers"].items()}
    if sealed.get("old_secrets"):
        sealed["old_secrets"] = [
            {**s, "secret": keyring.encrypt(s["secret"])} for s in sealed["old_secrets"]
        ]
    return sealed


def open_webhook(row: Any, keyring: Keyring) -> Any:
    """A webhook row with its secrets readable (attribute access, like the row)."""
    values = dict(row._mapping)
    values["secret"] = keyring.decrypt(values["secret"])
    if values.get("password"):
        values["password"] = keyring.decrypt(values["password"])
    values["headers"] = {k: keyring.decrypt(v) for k, v in (values.get("headers") or {}).items()}
    if values.get("old_secrets"):
        values["old_secrets"] = [
            {**s, "secret": keyring.decrypt(s["secret"])} for s in values["old_secrets"]
        ]
    return SimpleNamespace(**values)


def needs_resealing(row: Any, keyring: Keyring) -> bool:
    """Whether any secret of ``row`` is in clear or under an older master key."""
    stored = [row.secret, *(row.headers or {}).values()]
    stored += [row.password] if row.password else []
    stored += [s["secret"] for s in row.old_secrets or []]
    return not all(keyring.is_current(v) for v in stored)
