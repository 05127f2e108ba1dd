"""API keys: generated with a type prefix, stored as SHA-256, found by their first characters."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass

_ALPHABET = string.ascii_letters + string.digits
_BODY_LENGTH = 40
# Characters of the key kept in clear to find its row: the type prefix and 12 body chars.
_LOOKUP_BODY = 12

PREFIXES = {"operator": "op_", "secret": "sk_", "restricted": "rk_", "publishable": "pk_"}


@dataclass(frozen=True)
class NewKey:
    plaintext: str
    lookup: str
    key_hash: str
    last4: str


def generate(key_type: str) -> NewKey:
    body = "".join(secrets.choice(_ALPHABET) for _ in range(_BODY_LENGTH))
    plaintext = PREFIXES[key_type] + body
    return from_plaintext(plaintext)


def from_plaintext(plaintext: str) -> NewKey:
    return NewKey(plaintext, lookup_of(plaintext), hash_key(plaintext), plaintext[-4:])


def lookup_of(plaintext: str) -> str:
    prefix, _, body = plaintext.partition("_")
    return f"{prefix}_{body[:_LOOKUP_BODY]}"


def hash_key(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def matches(plaintext: str, key_hash: str) -> bool:
    return hmac.compare_digest(hash_key(plaintext), key_hash)
