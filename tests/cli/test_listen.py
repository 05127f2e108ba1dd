"""``tidings listen`` end to end: a real ``tidings listen`` process connects out to a real
server, forwards the account's events to a local receiver that verifies them with
``standardwebhooks``, and its answers are recorded as the notifications' attempts."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from standardwebhooks.webhooks import Webhook

from tests.support.databases import fresh_database
from tests.support.partner import add_event_type, eventually, open_account_at, publish
from tests.support.processes import OPERATOR_KEY, Cluster, interruptible
from tests.support.receiver import Receiver
from tests.support.server import RunningServer


class Listening:
    def __init__(self, popen: subprocess.Popen[str], out: Path) -> None:
        self.popen = popen
        self.out = out

    def text(self) -> str:
        return self.out.read_text()

    def secret(self) -> str:
        found = eventually(
            lambda: re.search(r"(whsec_[A-Za-z0-9+/=]+)", self.text()), 20, "the secret line"
        )
        return found.group(1)

    def stop(self) -> int:
        self.popen.send_signal(signal.SIGINT)
        return self.popen.wait(20)


@contextmanager
def listening(
    base_url: str, key: str, forward_to: str, tmp_path: Path, *args: str
) -> Iterator[Listening]:
    out = tmp_path / f"listen-{time.monotonic_ns()}.txt"
    env = {**os.environ, "TIDINGS_API_URL": base_url, "TIDINGS_API_KEY": key, "COLUMNS": "200"}
    with out.open("w") as sink:
        popen = subprocess.Popen(
            [sys.executable, "-m", "tidings", "listen", "--forward-to", forward_to, *args],
            env=env,
            stdout=sink,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=interruptible,
        )
    running = Listening(popen, out)
    try:
        yield running
    finally:
        if popen.poll() is None:
            popen.kill()
            popen.wait(10)


def _listener_webhook(client: httpx.Client, notification_webhook: str) -> int:
    return client.get(f"/v1/webhooks/{notification_webhook}").status_code


def test_listen_forwards_signed_events_and_records_the_local_answers(
    server: RunningServer, client: httpx.Client, event_type: str, tmp_path: Path
) -> None:
    key = str(client.headers["X-Api-Key"])
    add_event_type(client, "booking.created")
    with (
        Receiver(500, default=200) as local,
        listening(server.base_url, key, local.url, tmp_path, "--events", "payment.*") as cli,
    ):
        secret = cli.secret()
        # Wait until the listener is a webhook of the account, then publish.
        eventually(lambda: "Ready!" in cli.text(), 20, "ready")
        event = publish(client, event_type, {"paymentId": "pay_1", "status": "completed"})
        publish(client, "booking.created", {"n": 1})  # not among --events
        got = local.wait(2, timeout=30)  # a 500, then the retry succeeds
        [notification] = event["notifications"]
        for request in got:
            assert Webhook(secret).verify(request.body, request.headers)["eventType"] == event_type
            assert request.headers["webhook-id"] == notification["id"]
        shown = eventually(
            lambda: (
                (n := client.get(f"/v1/notifications/{notification['id']}").json())["status"]
                == "succeeded"
                and n
            ),
            30,
            "the notification succeeded",
        )
        assert [a["statusCode"] for a in shown["attempts"]] == [500, 200]
        assert notification["id"] in cli.text() and event_type in cli.text()
        time.sleep(0.5)
        assert len(local.requests) == 2  # the booking event never came
        webhook_id = notification["webhookId"]
        assert _listener_webhook(client, webhook_id) == 200
        assert webhook_id not in [w["id"] for w in client.get("/v1/webhooks").json()["data"]]
        assert cli.stop() == 0
    # The listener left: its webhook is gone, and events no longer go to it.
    eventually(lambda: _listener_webhook(client, webhook_id) == 404, 20, "listener removed")
    after = publish(client, event_type, {"paymentId": "pay_2", "status": "completed"})
    assert after["notifications"] == []


def test_the_signing_secret_is_the_same_at_every_start(
    server: RunningServer, client: httpx.Client, event_type: str, tmp_path: Path
) -> None:
    key = str(client.headers["X-Api-Key"])
    secrets = []
    with Receiver() as local:
        for _ in range(2):
            with listening(server.base_url, key, local.url, tmp_path) as cli:
                secrets.append(cli.secret())
                cli.stop()
    assert secrets[0] == secrets[1]


def test_listen_says_why_a_bad_key_is_refused(server: RunningServer, tmp_path: Path) -> None:
    with Receiver() as local, listening(server.base_url, "sk_nope", local.url, tmp_path) as cli:
        assert cli.popen.wait(20) == 1
        assert "invalid API key" in cli.text()


@pytest.mark.resilience
def test_listen_with_api_and_worker_in_separate_processes(
    postgres_url: str, tmp_path: Path
) -> None:
    """The stream is held by an API process; the worker process never sends a listener's
    notifications itself (it would have nowhere to send them)."""
    with (
        fresh_database("postgresql", tmp_path) as database,
        Cluster(database, tmp_path) as cluster,
        Receiver() as local,
    ):
        api = cluster.start("api")
        cluster.start("worker")
        client = open_account_at(api.base_url, OPERATOR_KEY, event_types=["order.paid"])
        key = str(client.headers["X-Api-Key"])
        with listening(api.base_url, key, local.url, tmp_path) as cli:
            secret = cli.secret()
            events = [publish(client, "order.paid", {"n": n}) for n in range(5)]
            got = local.wait(5, timeout=30)
            assert {
                Webhook(secret).verify(r.body, r.headers)["eventData"]["n"] for r in got
            } == set(range(5))
            for event in events:
                [notification] = event["notifications"]
                eventually(
                    lambda n=notification: (
                        client.get(f"/v1/notifications/{n['id']}").json()["status"] == "succeeded"
                    ),
                    30,
                    "recorded",
                )
            assert cli.stop() == 0
