"""Secrets at rest: AES-256-GCM under a master key, as ``enc:v1:<key id>:<base64>``.

A keyring holds the current key (which encrypts) and older ones (which still decrypt), so a
master key can be rotated while readers keep working. Values stored before encryption existed
read back as they are until a rotation encrypts them."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

PREFIX = "enc:v1:"
KEY_BYTES = 32
NONCE_BYTES = 12


class UnknownKey(Exception):
    pass


def key_id(key: bytes) -> str:
    """A short public fingerprint naming the key a value was encrypted with."""
    return hashlib.sha256(b"tidings-key-id" + key).hexdigest()[:8]


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def is_encrypted(value: str) -> bool:
    return value.startswith(PREFIX)


@dataclass
class Keyring:
    current: bytes
    older: tuple[bytes, ...] = ()
    # Called when a value names a key we do not hold (another process rotated): returns a
    # fresh keyring, or None.
    reload: Callable[[], Keyring | None] | None = None

    def __post_init__(self) -> None:
        if len(self.current) != KEY_BYTES or any(len(k) != KEY_BYTES for k in self.older):
            raise ValueError("a master key is 32 bytes (base64: 44 characters)")
        self._by_id = {key_id(k): AESGCM(k) for k in (self.current, *self.older)}
        self._current_id = key_id(self.current)

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._by_id[self._current_id].encrypt(
            nonce, plaintext.encode(), self._current_id.encode()
        )
        return f"{PREFIX}{self._current_id}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, value: str) -> str:
        if not is_encrypted(value):
            return value
        ident, _, payload = value[len(PREFIX) :].partition(":")
        cipher = self._by_id.get(ident)
        if cipher is None and self.reload is not None:
            fresh = self.reload()
            if fresh is not None:
                self.__dict__.update(fresh.__dict__)
                cipher = self._by_id.get(ident)
        if cipher is None:
            raise UnknownKey(f"value encrypted with master key {ident}, which is not loaded")
        raw = base64.b64decode(payload)
        return cipher.decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], ident.encode()).decode()

    def is_current(self, value: str) -> bool:
        return value.startswith(f"{PREFIX}{self._current_id}:")
