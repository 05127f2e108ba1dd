"""The success status of the operations that the outcome suites (delivery, inbound, pulls) make
through the Python client, which takes any 2xx for success, and that no other contract test
pins: checked here once each, on raw HTTP."""

from __future__ import annotations

import httpx

from tests.pulls.feed import Feed
from tests.pulls.test_pulls import RECORDS, pull_body
from tests.support.partner import create_webhook, publish, wait_status
from tests.support.receiver import Receiver

PAYMENT = {"paymentId": "pay_1", "status": "completed"}
LONG_AGO = {"since": "2001-01-01T00:00:00Z"}


def _answers(client: httpx.Client, calls: list[tuple[str, str, object, int]]) -> None:
    for method, path, body, status in calls:
        answer = client.request(method, path, json=body)
        assert answer.status_code == status, (method, path, answer.text)


def test_resend_and_replay_answer_202(client: httpx.Client, event_type: str) -> None:
    with Receiver() as rx:
        hook = create_webhook(client, rx.url)
        [sent] = publish(client, event_type, PAYMENT)["notifications"]
        wait_status(client, sent["id"], "succeeded")
        _answers(
            client,
            [
                ("POST", f"/v1/notifications/{sent['id']}/resend", None, 202),
                # Nothing failed: a replay of nothing, accepted all the same.
                ("POST", f"/v1/webhooks/{hook['id']}/replay", LONG_AGO, 202),
            ],
        )
        rx.wait(2)


def test_sources_answer_201_200_and_204(client: httpx.Client, event_type: str) -> None:
    created = client.post("/v1/sources", json={"name": "Partner push", "eventType": event_type})
    assert created.status_code == 201, created.text
    source = f"/v1/sources/{created.json()['id']}"
    _answers(
        client,
        [
            ("PATCH", source, {"name": "Renamed"}, 200),
            ("POST", f"{source}/disable", None, 200),
            ("POST", f"{source}/enable", None, 200),
            ("POST", f"{source}/roll-key", {"expiresIn": "now"}, 200),
            ("DELETE", source, None, 204),
        ],
    )


def test_pulls_answer_201_and_200(client: httpx.Client, event_type: str) -> None:
    with Feed(RECORDS) as feed:
        created = client.post("/v1/pulls", json=pull_body(feed, event_type))
        assert created.status_code == 201, created.text
        pull = f"/v1/pulls/{created.json()['id']}"
        _answers(
            client,
            [
                ("POST", f"{pull}/run", None, 200),
                ("PATCH", pull, {"name": "Renamed"}, 200),
                ("POST", f"{pull}/disable", None, 200),
                ("POST", f"{pull}/enable", None, 200),
            ],
        )
