"""Where the master key comes from: ``TIDINGS_MASTER_KEY`` (and ``TIDINGS_PREVIOUS_MASTER_KEYS``
during a rotation), or else a key file made on first start in the data directory, readable by
its owner only."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

from tidings.config import Settings
from tidings.core.crypto import Keyring, new_key

KEY_FILE = "master.key"


def key_file(settings: Settings) -> Path:
    return settings.data_dir / KEY_FILE


def _decode(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise ValueError("a master key is 32 random bytes in base64") from None


def load(settings: Settings, *, create: bool = True) -> tuple[Keyring, str]:
    """The keyring and a line saying where it came from (printed at startup)."""
    if settings.master_key:
        keyring = Keyring(
            _decode(settings.master_key),
            tuple(_decode(k) for k in settings.previous_master_keys),
        )
        return keyring, "from TIDINGS_MASTER_KEY"
    path = key_file(settings)
    shared = (
        "; every process sharing this database needs the same key: set TIDINGS_MASTER_KEY"
        if settings.database_url and not settings.is_sqlite
        else ""
    )
    if not path.exists():
        if not create:
            raise FileNotFoundError(f"no master key at {path}")
        write_file(path, new_key(), ())
        return _from_file(path), f"generated in {path.resolve()} (mode 0600): back it up{shared}"
    return _from_file(path), f"from {path.resolve()}{shared}"


def _from_file(path: Path) -> Keyring:
    data = json.loads(path.read_text())
    keyring = Keyring(_decode(data["current"]), tuple(_decode(k) for k in data.get("older", [])))
    keyring.reload = lambda: _from_file(path)
    return keyring


def write_file(path: Path, current: bytes, older: tuple[bytes, ...]) -> None:
    """Replace the key file atomically, never readable by anyone but its owner."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = {
        "current": base64.b64encode(current).decode(),
        "older": [base64.b64encode(k).decode() for k in older],
    }
    temporary = path.with_suffix(".tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(data, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


class _Absent(Keyring):
    """A keyring for tools that handle no secret (accounts and keys from the command line):
    nothing is made on disk, and any attempt to use it is a bug that says so."""

    def encrypt(self, plaintext: str) -> str:
        raise RuntimeError("no master key is loaded in this command")

    def decrypt(self, value: str) -> str:
        raise RuntimeError("no master key is loaded in this command")


def absent() -> Keyring:
    return _Absent(bytes(32))
