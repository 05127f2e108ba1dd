"""The resource command line against a real server (both backends): tables by default,
``--json`` for scripts, exit code 1 with the API's message on one line, ``logs tail``
following new records, ``webhooks replay`` and bulk resends with a progress bar, ``trigger``
with and without ``--data``, and ``--help`` on every command."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import typer
from jsonschema import Draft202012Validator, FormatChecker
from tidings_client import Tidings
from typer.testing import CliRunner

from tests.support.partner import eventually
from tests.support.processes import TIDINGS, cli_env, interruptible
from tests.support.receiver import Receiver, Reply
from tests.support.server import RunningServer
from tidings.cli.main import app

SCHEMA = {
    "type": "object",
    "required": ["paymentId", "amount", "status", "customer"],
    "properties": {
        "paymentId": {"type": "string", "format": "uuid"},
        "amount": {"type": "integer", "minimum": 100},
        "status": {"enum": ["paid", "failed"]},
        "customer": {
            "type": "object",
            "required": ["email"],
            "properties": {"email": {"type": "string", "format": "email"}},
        },
        "note": {"type": "string"},
    },
    "additionalProperties": False,
}


class Cli:
    """``tidings`` commands in this process (typer's runner) for one account's key."""

    def __init__(self, server: RunningServer, key: str) -> None:
        self.env = {"TIDINGS_API_URL": server.base_url, "TIDINGS_API_KEY": key, "COLUMNS": "250"}
        self.runner = CliRunner()

    def run(self, *args: str) -> Any:
        return self.runner.invoke(app, list(args), env=self.env)

    def ok(self, *args: str) -> str:
        ran = self.run(*args)
        assert ran.exit_code == 0, (ran.stdout, ran.stderr, ran.exception)
        return str(ran.stdout)

    def json(self, *args: str) -> Any:
        return json.loads(self.ok(*args, "--json"))


@pytest.fixture
def cli(server: RunningServer, account: dict[str, Any]) -> Cli:
    return Cli(server, account["key"])


@pytest.fixture
def tidings(server: RunningServer, account: dict[str, Any]) -> Iterator[Tidings]:
    with Tidings(account["key"], server.base_url) as client:
        yield client


def _subprocess_env(server: RunningServer, key: str) -> dict[str, str]:
    return {
        **cli_env(columns=250),
        "TIDINGS_API_URL": server.base_url,
        "TIDINGS_API_KEY": key,
    }


def test_help_on_every_command() -> None:
    runner = CliRunner()
    root = typer.main.get_command(app)
    paths: list[list[str]] = []

    def walk(command: Any, path: list[str]) -> None:
        paths.append(path)
        for name, sub in (getattr(command, "commands", None) or {}).items():
            walk(sub, [*path, name])

    walk(root, [])
    names = {" ".join(p) for p in paths}
    for wanted in ("webhooks replay", "logs tail", "trigger", "api-keys roll", "pulls runs"):
        assert wanted in names
    for path in paths:
        ran = runner.invoke(app, [*path, "--help"])
        assert ran.exit_code == 0, (path, ran.stdout)
        assert "Usage" in ran.stdout and "--help" in ran.stdout, path


def test_tables_by_default_and_json_for_scripts(cli: Cli) -> None:
    made = [cli.json("webhooks", "create", "--url", f"https://cli.example/{n}") for n in range(3)]
    table = cli.ok("webhooks", "list")
    assert table.splitlines()[0].split()[:3] == ["id", "┃", "url"]
    for webhook in made:
        assert webhook["id"] in table and webhook["url"] in table
    listed = cli.json("webhooks", "list", "--limit", "2")
    assert [w["id"] for w in listed] == [w["id"] for w in reversed(made)][:2]
    one = cli.ok("webhooks", "get", made[0]["id"])
    assert "signatureScheme" in one and "standard" in one
    assert cli.json("webhooks", "disable", made[0]["id"])["status"] == "Disabled"
    assert cli.json("webhooks", "enable", made[0]["id"])["status"] == "Active"
    updated = cli.json("webhooks", "update", made[0]["id"], "--description", "From the CLI")
    assert updated["description"] == "From the CLI"
    rolled = cli.json("webhooks", "roll-secret", made[0]["id"], "--expires-in", "now")
    assert cli.ok("webhooks", "secret", made[0]["id"]).strip() == rolled["secret"]
    assert "Deleted" in cli.ok("webhooks", "delete", made[0]["id"])
    assert made[0]["id"] not in cli.ok("webhooks", "list")


def test_a_4xx_is_exit_1_with_the_api_message_on_one_line(
    server: RunningServer, account: dict[str, Any]
) -> None:
    env = _subprocess_env(server, account["key"])
    ran = subprocess.run(
        [*TIDINGS, "webhooks", "get", "wh_nope"], env=env, capture_output=True, text=True
    )
    assert ran.returncode == 1
    assert ran.stderr == "error: webhook 'wh_nope' not found\n"
    assert ran.stdout == ""
    invalid = subprocess.run(
        [*TIDINGS, "webhooks", "create", "--url", "https://x.example", "-e", "Bad Type!"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert invalid.returncode == 1 and "Traceback" not in invalid.stderr
    assert invalid.stderr.startswith("error: Invalid request: eventTypes[0]")
    assert invalid.stderr.count("\n") == 1
    env["TIDINGS_API_KEY"] = "sk_" + "x" * 40
    refused = subprocess.run([*TIDINGS, "logs", "list"], env=env, capture_output=True, text=True)
    assert refused.returncode == 1 and refused.stderr.startswith("error: ")
    assert refused.stderr.count("\n") == 1


def test_event_types_events_and_trigger(cli: Cli, tidings: Tidings, tmp_path: Path) -> None:
    schema_file = tmp_path / "schema.json"
    schema_file.write_text(json.dumps(SCHEMA))
    made = cli.json(
        "event-types",
        "create",
        "payment.updated",
        "--category",
        "Pay",
        "--schema",
        f"@{schema_file}",
    )
    assert made["schema"] == SCHEMA
    assert "payment.updated" in cli.ok("event-types", "list", "--category", "Pay")
    assert (
        cli.json("event-types", "update", "payment.updated", "--description", "Paid")["description"]
        == "Paid"
    )
    # Without --data: a sample built from the schema, which the API accepts.
    said = cli.ok("trigger", "payment.updated")
    assert "Sample data from the schema" in said and "Published evt_" in said
    event_id = said.split("Published ")[1].split()[0]
    data = tidings.events.get(event_id)["eventData"]
    Draft202012Validator(SCHEMA, format_checker=FormatChecker()).validate(data)
    assert data["amount"] == 100 and data["customer"] == {"email": "user@example.com"}
    # With --data, inline or from a file.
    given = {
        "paymentId": "3f1c2a4e-0000-4000-8000-000000000001",
        "amount": 250,
        "status": "failed",
        "customer": {"email": "a@b.example"},
    }
    published = cli.json("trigger", "payment.updated", "--data", json.dumps(given))
    assert tidings.events.get(published["id"])["eventData"] == given
    data_file = tmp_path / "data.json"
    data_file.write_text(json.dumps({**given, "amount": 999}))
    from_file = cli.json(
        "events",
        "publish",
        "payment.updated",
        "--data",
        f"@{data_file}",
        "--idempotency-key",
        "k-1",
    )
    again = cli.json(
        "events",
        "publish",
        "payment.updated",
        "--data",
        f"@{data_file}",
        "--idempotency-key",
        "k-1",
    )
    assert from_file["id"] == again["id"]
    assert tidings.events.get(from_file["id"])["eventData"]["amount"] == 999
    # Data that does not fit: exit 1 naming the field.
    bad = cli.run("trigger", "payment.updated", "--data", '{"amount": 1}')
    assert bad.exit_code == 1 and "eventData" in bad.stderr
    listed = cli.json("events", "list", "--event-type", "payment.updated")
    assert {e["id"] for e in listed} == {event_id, published["id"], from_file["id"]}
    assert event_id in cli.ok("events", "get", event_id)
    assert "Archived" in cli.ok("event-types", "delete", "payment.updated")


def test_api_keys_and_sources(cli: Cli) -> None:
    made = cli.json(
        "api-keys", "create", "--name", "ci", "--type", "restricted", "--permission", "logs=read"
    )
    assert made["key"] and made["permissions"]["logs"] == "read"
    assert "ci" in cli.ok("api-keys", "list")
    assert cli.json("api-keys", "get", made["id"])["name"] == "ci"
    rolled = cli.json("api-keys", "roll", made["id"], "--expires-in", "now")
    assert rolled["key"] != made["key"]
    again = cli.run("api-keys", "roll", made["id"])
    assert again.exit_code == 1 and "error:" in again.stderr
    assert "Revoked" in cli.ok("api-keys", "revoke", rolled["id"])
    cli.ok("event-types", "create", "partner.pushed")
    source = cli.json("sources", "create", "--name", "Partner", "--event-type", "partner.pushed")
    assert source["key"] and source["url"].endswith(source["id"])
    assert source["id"] in cli.ok("sources", "list")
    assert cli.json("sources", "update", source["id"], "--name", "P2")["name"] == "P2"
    assert cli.json("sources", "disable", source["id"])["status"] == "Disabled"
    assert cli.json("sources", "enable", source["id"])["status"] == "Active"
    assert cli.json("sources", "roll-key", source["id"], "--expires-in", "now")["key"]
    assert "Deleted" in cli.ok("sources", "delete", source["id"])


def _failed(tidings: Tidings, webhook_id: str, count: int) -> list[Any]:
    def found() -> list[Any] | None:
        failed = list(tidings.notifications.list(webhook_id=webhook_id, status="failed"))
        return failed if len(failed) == count else None

    return eventually(found, 30, f"{count} failed notifications")


def test_replay_and_bulk_resend_show_progress(
    server: RunningServer, account: dict[str, Any], tidings: Tidings
) -> None:
    tidings.event_types.create("order.paid")
    since = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    env = _subprocess_env(server, account["key"])

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        """A long command in a terminal-less process: its progress bar as printed."""
        return subprocess.run(
            [*TIDINGS, *args], env=env, capture_output=True, text=True, timeout=120
        )

    with Receiver(default=500) as receiver:
        hook = tidings.webhooks.create(receiver.url, ["order.paid"], retry_schedule=[])
        for n in range(3):
            tidings.events.publish("order.paid", {"n": n})
        _failed(tidings, hook["id"], 3)
        receiver.default = Reply(200)
        replayed = run("webhooks", "replay", hook["id"], "--since", since)
        assert replayed.returncode == 0, replayed.stderr
        assert "replaying" in replayed.stdout and "100%" in replayed.stdout
        assert "Replayed 3 notifications" in replayed.stdout
        assert "3 delivered again" in replayed.stdout
        receiver.wait(6)
        receiver.default = Reply(500)
        tidings.events.publish("order.paid", {"n": 3})
        tidings.events.publish("order.paid", {"n": 4})
        _failed(tidings, hook["id"], 2)
        receiver.default = Reply(200)
        resent = run("notifications", "resend", "--webhook", hook["id"], "--status", "failed")
        assert resent.returncode == 0, resent.stderr
        assert "resending" in resent.stdout and "100%" in resent.stdout
        assert "Resent 2 notification(s)." in resent.stdout
        receiver.wait(8)
    shown = Cli(server, account["key"]).ok("notifications", "list", "--webhook", hook["id"])
    assert shown.count("succeeded") == 5


def test_logs_tail_follows_new_records(
    server: RunningServer, account: dict[str, Any], tidings: Tidings, tmp_path: Path
) -> None:
    tidings.event_types.create("tail.me")
    out = tmp_path / "tail.out"
    with out.open("w") as sink:
        tail = subprocess.Popen(
            [*TIDINGS, "logs", "tail", "--interval", "0.2"],
            env=_subprocess_env(server, account["key"]),
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=interruptible,
        )
    try:
        eventually(lambda: "Following" in out.read_text(), 30, "tail to start")
        assert "/v1/event-types" not in out.read_text()  # what was there before is not shown
        published = tidings.events.publish("tail.me", {"x": 1})
        line = eventually(
            lambda: next((ln for ln in out.read_text().splitlines() if "/v1/events" in ln), None),
            30,
            "the publish in the tail",
        )
        assert "POST" in line and "202" in line
        with pytest.raises(Exception):  # noqa: B017 - a 404 is logged too
            tidings.events.get("evt_nope")
        eventually(lambda: "/v1/events/evt_nope" in out.read_text(), 30, "the 404 in the tail")
        assert out.read_text().count("/v1/events ") == 1, out.read_text()
        assert published["id"]
    finally:
        tail.send_signal(signal.SIGINT)
        code = tail.wait(30)
    assert code == 0, out.read_text()
    assert "Stopped." in out.read_text() and "Traceback" not in out.read_text()
    assert os.path.getsize(out) > 0
    time.sleep(0)
