"""The process's own log: JSON lines on stderr, one per event, carrying the ids an operator
searches by (request, account, event, webhook, notification); the level from a setting."""

from __future__ import annotations

from pathlib import Path

from tests.support.partner import eventually, open_account_at
from tests.support.processes import OPERATOR_KEY, Cluster
from tests.support.receiver import Receiver


def test_a_publish_and_its_delivery_are_logged_with_their_ids(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tidings.db'}"
    with Receiver() as receiver, Cluster(url, tmp_path, log_level="DEBUG") as cluster:
        process = cluster.start("all")
        client = open_account_at(process.base_url, OPERATOR_KEY, "Logged", ["order.paid"])
        hook = client.post("/v1/webhooks", json={"url": receiver.url, "eventTypes": ["order.paid"]})
        assert hook.status_code == 201, hook.text
        published = client.post(
            "/v1/events", json={"eventType": "order.paid", "eventData": {"orderId": "o_1"}}
        )
        assert published.status_code == 202
        request_id = published.headers["X-Request-Id"]
        event = published.json()
        notification_id = event["notifications"][0]["id"]
        receiver.wait(1)

        def line(name: str) -> dict[str, object] | None:
            found = [entry for entry in process.log_lines() if entry.get("event") == name]
            return found[-1] if found else None

        request_line = eventually(lambda: line("request"), what="the request line")
        publish_line = eventually(lambda: line("event published"), what="the publish line")
        attempt_line = eventually(lambda: line("delivery attempt"), what="the attempt line")

    assert request_line["request_id"] == request_id
    assert request_line["status"] == 202
    assert request_line["path"] == "/v1/events"
    assert request_line["level"] == "info"
    account_id = request_line["account_id"]
    assert isinstance(account_id, str) and account_id.startswith("acc_")

    assert publish_line["request_id"] == request_id
    assert publish_line["account_id"] == account_id
    assert publish_line["event_id"] == event["id"]
    assert publish_line["notification_ids"] == [notification_id]
    assert publish_line["webhook_ids"] == [hook.json()["id"]]

    assert attempt_line["notification_id"] == notification_id
    assert attempt_line["event_id"] == event["id"]
    assert attempt_line["webhook_id"] == hook.json()["id"]
    assert attempt_line["account_id"] == account_id
    assert attempt_line["outcome"] == "succeeded"
    assert attempt_line["status_code"] == 200
    assert attempt_line["level"] == "debug"
    assert "timestamp" in attempt_line


def test_the_level_setting_silences_lines_below_it(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'tidings.db'}"
    with Cluster(url, tmp_path, log_level="warning") as cluster:
        process = cluster.start("all")
        client = open_account_at(process.base_url, OPERATOR_KEY, "Logged", ["order.paid"])
        published = client.post("/v1/events", json={"eventType": "order.paid", "eventData": {}})
        assert published.status_code == 202
        cluster.stop_all()
    levels = {entry.get("level") for entry in process.log_lines()}
    assert levels <= {"warning", "error", "critical"}, levels
    assert "request" not in {entry.get("event") for entry in process.log_lines()}
