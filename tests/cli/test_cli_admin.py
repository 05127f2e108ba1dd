"""``tidings accounts …`` and ``tidings keys …`` as an operator runs them: the real command on a
fresh data dir, the key printed once, and that key accepted by ``tidings serve``."""

from __future__ import annotations

import re
import signal
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.partner import call
from tests.support.processes import TIDINGS, Ran, cli_env, free_port, tidings, wait_until_serving

KEY = re.compile(r"\b(?:sk|rk|pk|op)_[A-Za-z0-9]{20,}\b")
KEY_ID = re.compile(r"\bkey_[0-9A-Z]{26}\b")
ACCOUNT_ID = re.compile(r"^acc_[0-9A-Z]{26}$")
ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d")


@dataclass
class Created:
    key_id: str
    key: str
    out: str


class Store:
    """``tidings`` commands on one data dir."""

    def __init__(self, where: list[str]) -> None:
        self.where = where

    def run(self, *args: str, columns: int = 200) -> Ran:
        return tidings(*args, *self.where, columns=columns)

    def ok(self, *args: str) -> str:
        ran = self.run(*args)
        assert ran.code == 0, ran.text
        return ran.out

    def fails(self, *args: str) -> str:
        """A refused command: a non-zero exit and a message saying why, without a traceback."""
        ran = self.run(*args)
        assert ran.code != 0, ran.text
        assert "Traceback" not in ran.text, ran.text
        assert "error" in ran.text.lower(), ran.text
        return ran.text

    def account(self, name: str = "Acme Payments") -> str:
        out = self.ok("accounts", "create", name).strip()
        assert ACCOUNT_ID.match(out), out
        return out

    def create_key(self, *args: str) -> Created:
        out = self.ok("keys", "create", *args)
        keys = KEY.findall(out)
        ids = KEY_ID.findall(out)
        assert len(keys) == 1, out
        assert len(ids) == 1, out
        return Created(ids[0], keys[0], out)

    def roll(self, key_id: str, *args: str) -> Created:
        out = self.ok("keys", "roll", key_id, *args)
        keys = KEY.findall(out)
        ids = KEY_ID.findall(out)
        assert len(keys) == 1, out
        assert len(ids) == 1, out
        assert ids[0] != key_id
        return Created(ids[0], keys[0], out)

    def key_rows(self, *args: str) -> dict[str, str]:
        """``keys list``: the line of each key, by key id."""
        out = self.ok("keys", "list", *args)
        rows = {}
        for line in out.splitlines():
            found = KEY_ID.findall(line)
            if found:
                rows[found[0]] = line
        return rows

    def status(self, account: str, key_id: str) -> str:
        line = self.key_rows("--account", account)[key_id]
        statuses = re.findall(r"\b(active|expiring|expired|revoked)\b", line)
        assert len(statuses) == 1, line
        return statuses[0]


@pytest.fixture
def store(tmp_path: Path) -> Store:
    data_dir = tmp_path / "tidings-data"
    migrated = tidings("migrate", "--data-dir", str(data_dir))
    assert migrated.code == 0, migrated.text
    return Store(["--data-dir", str(data_dir)])


# --- help ----------------------------------------------------------------------------------

COMMANDS = {
    ("accounts",): ["create", "list"],
    ("accounts", "create"): ["--data-dir", "--database-url"],
    ("accounts", "list"): ["--data-dir", "--database-url"],
    ("keys",): ["create", "list", "roll", "revoke"],
    ("keys", "create"): [
        "--account",
        "--type",
        "--name",
        "--permission",
        "--category",
        "--expires-at",
        "--operator",
        "--data-dir",
    ],
    ("keys", "list"): ["--account", "--data-dir"],
    ("keys", "roll"): ["--expires-in", "--data-dir"],
    ("keys", "revoke"): ["--data-dir"],
}


@pytest.mark.parametrize("command", list(COMMANDS), ids=" ".join)
def test_help(command: tuple[str, ...]) -> None:
    ran = tidings(*command, "--help")
    assert ran.code == 0, ran.text
    assert "Usage" in ran.out
    for word in COMMANDS[command]:
        assert word in ran.out, word


def test_the_top_level_help_lists_accounts_and_keys() -> None:
    ran = tidings("--help")
    assert ran.code == 0, ran.text
    assert "accounts" in ran.out
    assert "keys" in ran.out


@pytest.mark.parametrize("command", [c for c in COMMANDS if len(c) == 2], ids=" ".join)
def test_help_names_the_environment_variables(command: tuple[str, ...]) -> None:
    """The option help says [env: TIDINGS_DATA_DIR]: an operator reading --help sees it."""
    ran = tidings(*command, "--help")
    options = [line.strip(" │") for line in ran.out.splitlines() if "--data" in line]
    assert any("TIDINGS_DATA_DIR" in line for line in options), options
    assert any("TIDINGS_DATABASE_URL" in line for line in options), options


def test_roll_help_lists_the_expiry_choices() -> None:
    out = tidings("keys", "roll", "--help").out
    for choice in ("now", "1h", "2h", "24h", "7 days"):
        assert choice in out, choice


# --- accounts ------------------------------------------------------------------------------


def test_accounts_create_prints_the_id_and_list_shows_it(store: Store) -> None:
    first = store.account("Acme Payments")
    second = store.account("Globex")
    assert first != second
    listed = store.ok("accounts", "list")
    assert first in listed
    assert second in listed
    first_line = next(line for line in listed.splitlines() if first in line)
    assert "Acme Payments" in first_line
    assert ISO.search(first_line)


@pytest.mark.parametrize("name", ["", "   ", "x" * 201])
def test_accounts_create_refuses_a_bad_name(store: Store, name: str) -> None:
    text = store.fails("accounts", "create", name)
    assert "name" in text
    assert "acc_" not in store.ok("accounts", "list")


# --- keys ----------------------------------------------------------------------------------


def test_keys_create_prints_the_key_once(store: Store) -> None:
    account = store.account()
    made = store.create_key("--account", account, "--name", "backend")
    assert made.key.startswith("sk_")
    assert len(made.key) >= 32
    assert account in made.out
    assert "not be shown again" in made.out

    rows = store.key_rows("--account", account)
    assert list(rows) == [made.key_id]
    line = rows[made.key_id]
    assert "backend" in line
    assert "secret" in line
    assert "active" in line
    assert made.key[-4:] in line  # recognisable by its last four characters
    listed = store.ok("keys", "list", "--account", account)
    assert made.key not in listed
    assert made.key[3:] not in listed
    assert made.key[3:20] not in listed


def test_each_key_is_new(store: Store) -> None:
    account = store.account()
    made = [store.create_key("--account", account) for _ in range(3)]
    assert len({m.key for m in made}) == 3
    assert len({m.key_id for m in made}) == 3
    assert set(store.key_rows("--account", account)) == {m.key_id for m in made}


def test_keys_list_is_per_account(store: Store) -> None:
    first, second = store.account("First"), store.account("Second")
    mine = store.create_key("--account", first)
    theirs = store.create_key("--account", second)
    assert list(store.key_rows("--account", first)) == [mine.key_id]
    assert list(store.key_rows("--account", second)) == [theirs.key_id]


def test_keys_create_restricted_and_publishable(store: Store) -> None:
    account = store.account()
    restricted = store.create_key(
        "--account",
        account,
        "--type",
        "restricted",
        "--permission",
        "webhooks=read",
        "--permission",
        "events=write",
        "--category",
        "Booking",
    )
    assert restricted.key.startswith("rk_")
    publishable = store.create_key("--account", account, "--type", "publishable")
    assert publishable.key.startswith("pk_")
    rows = store.key_rows("--account", account)
    assert "restricted" in rows[restricted.key_id]
    assert "publishable" in rows[publishable.key_id]


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--type", "restricted", "--permission", "webhooks=admin"], ["webhooks", "read"]),
        (["--type", "restricted", "--permission", "webhooks=READ"], ["webhooks", "write"]),
        (["--type", "restricted", "--permission", "webhooks"], ["resource=level"]),
        (["--type", "restricted", "--permission", "payments=read"], ["payments"]),
        (["--type", "restricted"], ["permissions"]),
        (["--type", "restricted", "--category", "Booking"], ["permissions"]),
        (["--permission", "webhooks=read"], ["permissions", "restricted"]),
        (["--type", "publishable", "--category", "Booking"], ["categories", "restricted"]),
        (["--type", "operator"], ["type"]),
        (["--type", "admin"], ["type"]),
        (["--expires-at", "2001-01-01T00:00:00Z"], ["expires", "future"]),
        (["--expires-at", "tomorrow"], ["expires"]),
    ],
)
def test_keys_create_refuses_a_bad_key(store: Store, args: list[str], words: list[str]) -> None:
    account = store.account()
    text = store.fails("keys", "create", "--account", account, *args)
    for word in words:
        assert word.lower() in text.lower(), (word, text)
    assert not KEY.search(text)
    assert store.key_rows("--account", account) == {}


def test_keys_create_needs_a_known_account(store: Store) -> None:
    text = store.fails("keys", "create", "--account", "acc_01HZZZZZZZZZZZZZZZZZZZZZZZ")
    assert "acc_01HZZZZZZZZZZZZZZZZZZZZZZZ" in text
    assert "not found" in text
    text = store.fails("keys", "create")
    assert "--account" in text


def test_keys_create_with_an_expiry(store: Store) -> None:
    account = store.account()
    made = store.create_key("--account", account, "--expires-at", "2999-01-01T00:00:00Z")
    line = store.key_rows("--account", account)[made.key_id]
    assert "2999-01-01T00:00:00" in line
    # "expiring" is for keys that stop within a week, as a rolled key does.
    assert store.status(account, made.key_id) == "active"


def test_keys_roll_now_expires_the_old_key(store: Store) -> None:
    account = store.account()
    old = store.create_key(
        "--account", account, "--name", "booking", "--type", "restricted",
        "--permission", "events=write", "--category", "Booking",
    )  # fmt: skip
    new = store.roll(old.key_id, "--expires-in", "now")
    assert new.key.startswith("rk_")
    assert new.key != old.key
    assert "not be shown again" in new.out

    rows = store.key_rows("--account", account)
    assert set(rows) == {old.key_id, new.key_id}
    assert store.status(account, old.key_id) == "expired"
    assert store.status(account, new.key_id) == "active"
    assert "booking" in rows[new.key_id]
    assert "restricted" in rows[new.key_id]
    listed = store.ok("keys", "list", "--account", account)
    assert new.key not in listed
    assert old.key not in listed


@pytest.mark.parametrize("expires_in", ["1h", "2h", "24h", "600", "604800"])
def test_keys_roll_with_a_delay_leaves_the_old_key_expiring(store: Store, expires_in: str) -> None:
    account = store.account()
    old = store.create_key("--account", account)
    new = store.roll(old.key_id, "--expires-in", expires_in)
    assert new.key.startswith("sk_")
    assert store.status(account, old.key_id) == "expiring"
    assert store.status(account, new.key_id) == "active"
    # Its row shows when it was created and when it stops.
    assert len(ISO.findall(store.key_rows("--account", account)[old.key_id])) == 2


@pytest.mark.parametrize("expires_in", ["8d", "604801", "soon", "-1", "1w"])
def test_keys_roll_refuses_a_bad_expiry(store: Store, expires_in: str) -> None:
    account = store.account()
    old = store.create_key("--account", account)
    text = store.fails("keys", "roll", old.key_id, "--expires-in", expires_in)
    assert "expires-in" in text
    assert not KEY.search(text)
    assert list(store.key_rows("--account", account)) == [old.key_id]
    assert store.status(account, old.key_id) == "active"


def test_keys_revoke(store: Store) -> None:
    account = store.account()
    made = store.create_key("--account", account)
    other = store.create_key("--account", account)
    out = store.ok("keys", "revoke", made.key_id)
    assert made.key_id in out
    assert store.status(account, made.key_id) == "revoked"
    assert store.status(account, other.key_id) == "active"
    # A revoked key cannot be rolled.
    text = store.fails("keys", "roll", made.key_id, "--expires-in", "now")
    assert "revoked" in text
    assert set(store.key_rows("--account", account)) == {made.key_id, other.key_id}


def test_unknown_key_ids_are_refused(store: Store) -> None:
    unknown = "key_01HZZZZZZZZZZZZZZZZZZZZZZZ"
    for args in (["keys", "roll", unknown, "--expires-in", "now"], ["keys", "revoke", unknown]):
        text = store.fails(*args)
        assert unknown in text
        assert "not found" in text


def test_keys_list_is_readable_in_an_80_column_terminal(store: Store) -> None:
    """The id is what roll and revoke take: the list must show it whole, with the status."""
    account = store.account()
    made = store.create_key("--account", account, "--name", "backend")
    store.roll(made.key_id, "--expires-in", "1h")
    ran = store.run("keys", "list", "--account", account, columns=80)
    assert ran.code == 0, ran.text
    assert made.key_id in ran.out, ran.out
    line = next(line for line in ran.out.splitlines() if made.key_id in line)
    assert "expiring" in line, ran.out


def test_the_same_commands_on_a_database_url(own_database: str) -> None:
    """--database-url instead of a data dir: SQLite, or PostgreSQL when that backend runs."""
    migrated = tidings("migrate", "--database-url", own_database)
    assert migrated.code == 0, migrated.text
    store = Store(["--database-url", own_database])
    account = store.account()
    assert account in store.ok("accounts", "list")
    made = store.create_key(
        "--account", account, "--type", "restricted", "--permission", "webhooks=read"
    )
    assert store.status(account, made.key_id) == "active"
    new = store.roll(made.key_id, "--expires-in", "now")
    assert store.status(account, made.key_id) == "expired"
    store.ok("keys", "revoke", new.key_id)
    assert store.status(account, new.key_id) == "revoked"


# --- the printed keys against a running server ---------------------------------------------


class Serve:
    """``tidings serve`` on the store's data dir, started once the test has prepared it."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.process: subprocess.Popen[str] | None = None
        self.base = ""

    def start(self) -> str:
        port = free_port()
        self.process = subprocess.Popen(
            [*TIDINGS, "serve", "--port", str(port), *self.store.where],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            text=True,
            env=cli_env(200),
        )
        self.base = f"http://127.0.0.1:{port}"
        wait_until_serving(self.base, self.process)
        return self.base

    def stop(self) -> int:
        """Stop gracefully (Ctrl-C), as an operator would; the exit code."""
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                raise
        return int(self.process.returncode)

    def call(
        self, key: str, method: str = "GET", path: str = "/v1/webhooks", **kw: Any
    ) -> httpx.Response:
        return call(self.base, key, method, path, **kw)


@pytest.fixture
def serving(store: Store) -> Iterator[Serve]:
    running = Serve(store)
    yield running
    if running.process is not None:
        running.stop()


def test_printed_keys_work_against_tidings_serve(serving: Serve) -> None:
    store, call = serving.store, serving.call
    account = store.account()
    secret = store.create_key("--account", account, "--name", "backend")
    reader = store.create_key(
        "--account", account, "--type", "restricted", "--permission", "webhooks=read"
    )
    unused = store.create_key("--account", account, "--type", "publishable")
    rolled = store.create_key("--account", account)
    successor = store.roll(rolled.key_id, "--expires-in", "now")
    kept = store.create_key("--account", account)
    kept_successor = store.roll(kept.key_id, "--expires-in", "24h")
    revoked = store.create_key("--account", account)
    store.ok("keys", "revoke", revoked.key_id)
    operator = store.create_key("--operator")
    assert operator.key.startswith("op_")

    serving.start()

    # The secret key acts for its account, with full access.
    assert call(secret.key).status_code == 200
    made = call(secret.key, "POST", "/v1/event-types", json={"name": "booking.created"})
    assert made.status_code == 201, made.text
    keys = call(secret.key, "GET", "/v1/api-keys")
    assert keys.status_code == 200, keys.text
    shown = {k["id"]: k for k in keys.json()["data"]}
    assert shown[secret.key_id]["accountId"] == account
    assert shown[reader.key_id]["permissions"]["webhooks"] == "read"
    assert shown[rolled.key_id]["status"] == "expired"
    assert shown[kept.key_id]["status"] == "expiring"
    assert shown[revoked.key_id]["status"] == "revoked"

    # The restricted key reads webhooks and nothing more.
    assert call(reader.key).status_code == 200
    refused = call(reader.key, "POST", "/v1/webhooks", json={"url": "http://127.0.0.1:9"})
    assert refused.status_code == 403, refused.text
    assert "webhooks:write" in refused.json()["error"]["message"]

    # The publishable key reads the catalog only.
    assert call(unused.key, "GET", "/v1/event-types").status_code == 200
    assert call(unused.key).status_code == 403

    # Rolled now: the old key is expired, its successor works.
    old = call(rolled.key)
    assert old.status_code == 401, old.text
    assert "expired" in old.json()["error"]["message"]
    assert call(successor.key).status_code == 200
    # Rolled with 24h: both work until then.
    assert call(kept.key).status_code == 200
    assert call(kept_successor.key).status_code == 200
    # Revoked: refused, saying so.
    gone = call(revoked.key)
    assert gone.status_code == 401, gone.text
    assert "revoked" in gone.json()["error"]["message"]
    # The operator key acts for every account.
    accounts = call(operator.key, "GET", "/v1/accounts")
    assert accounts.status_code == 200, accounts.text
    assert account in [a["id"] for a in accounts.json()["data"]]

    # Revoking from the command line while the server runs takes effect at once.
    store.ok("keys", "revoke", successor.key_id)
    assert call(successor.key).status_code == 401


def test_last_used_reaches_keys_list_after_a_graceful_stop(serving: Serve) -> None:
    """lastUsedAt is kept in memory and written in batches; stopping the server writes it."""
    store = serving.store
    account = store.account()
    used = store.create_key("--account", account, "--name", "used")
    idle = store.create_key("--account", account, "--name", "idle")
    before = store.key_rows("--account", account)
    assert len(ISO.findall(before[used.key_id])) == 1  # created only

    serving.start()
    response = serving.call(used.key)
    assert response.status_code == 200, response.text
    assert serving.stop() == 0

    after = store.key_rows("--account", account)
    assert len(ISO.findall(after[used.key_id])) == 2, after[used.key_id]  # created, last used
    assert len(ISO.findall(after[idle.key_id])) == 1, after[idle.key_id]
