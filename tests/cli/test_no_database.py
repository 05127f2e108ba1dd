"""The store-direct commands where there is no database: one line saying so, exit code 2,
nothing created (no ``tidings-data/``, no key file); ``migrate`` then creates it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.support.processes import TIDINGS, cli_env

STORE_COMMANDS = [
    ["accounts", "list"],
    ["accounts", "create", "Acme"],
    ["keys", "list"],
    ["keys", "create", "--operator"],
    ["keys", "revoke", "key_01ABCDEFGHJKMNPQRSTVWXYZ00"],
    ["rotate-master-key"],
]


def _run(where: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*TIDINGS, *args],
        cwd=where,
        env=cli_env(columns=200),
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("command", STORE_COMMANDS, ids=" ".join)
def test_no_database_is_one_line_and_creates_nothing(tmp_path: Path, command: list[str]) -> None:
    ran = _run(tmp_path, *command)
    text = ran.stdout + ran.stderr
    assert ran.returncode == 2, text
    assert "Traceback" not in text
    assert text.strip().count("\n") == 0, text
    assert "no Tidings database" in text and "tidings migrate" in text
    assert list(tmp_path.iterdir()) == []


def test_an_empty_postgresql_database_is_named(tmp_path: Path, postgres_url: str) -> None:
    # The session database holds a schema; a database without one is described as such.
    bare = postgres_url.rsplit("/", 1)[0] + "/postgres"
    ran = _run(tmp_path, "accounts", "list", "--database-url", bare)
    assert ran.returncode == 2 and "no Tidings schema" in ran.stdout + ran.stderr
    gone = postgres_url.rsplit("/", 1)[0] + "/tidings_no_such_database"
    ran = _run(tmp_path, "keys", "list", "--database-url", gone)
    assert ran.returncode == 2 and "cannot open the database" in ran.stdout + ran.stderr
    assert list(tmp_path.iterdir()) == []


def test_migrate_creates_it_and_then_the_commands_work(tmp_path: Path) -> None:
    assert _run(tmp_path, "migrate").returncode == 0
    assert (tmp_path / "tidings-data" / "tidings.db").is_file()
    created = _run(tmp_path, "accounts", "create", "Acme")
    assert created.returncode == 0, created.stderr
    assert created.stdout.strip() in _run(tmp_path, "accounts", "list").stdout
