"""Push sources end to end: a partner pushes to ``/in/src_…`` with each way of proving who it
is; a push that fails is answered 401 and stores nothing but its log record; one that passes
becomes an event, delivered like any other."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from standardwebhooks.webhooks import Webhook
from tidings_client import (
    ConflictError,
    ForbiddenError,
    NotFoundError,
    Tidings,
    ValidationError,
)

from tests.support.clock import FakeClock
from tests.support.databases import make_settings
from tests.support.partner import add_event_type, create_webhook, open_partner, tidings_at
from tests.support.receiver import Receiver
from tests.support.server import RunningServer

PAYMENT = {"paymentId": "pay_1", "status": "completed"}


def _source(partner: Tidings, event_type: str, **fields: Any) -> dict[str, Any]:
    return dict(partner.sources.create("Partner push", event_type, **fields))


def _push(
    base_url: str, source: dict[str, Any], body: bytes, headers: dict[str, str]
) -> httpx.Response:
    assert source["url"].startswith(base_url)
    return httpx.post(
        source["url"], content=body, headers={"Content-Type": "application/json", **headers}
    )


def _events(partner: Tidings) -> list[dict[str, Any]]:
    return list(partner.events.list())


def _error_message(response: httpx.Response) -> str:
    return str(response.json()["error"]["message"])


# --- api-key sources ------------------------------------------------------------------------


def test_create_shows_the_url_and_key_once(partner: Tidings, event_type: str) -> None:
    source = _source(partner, event_type)
    assert source["id"].startswith("src_")
    assert source["url"].endswith(f"/in/{source['id']}")
    assert source["authType"] == "api-key"
    key = source["key"]
    assert key.startswith("whk_") and len(key) > 30
    shown = partner.sources.get(source["id"])
    assert shown["key"] == "****" + key[-4:]
    listed = partner.sources.list()
    assert [s["key"] for s in listed if s["id"] == source["id"]] == ["****" + key[-4:]]


@pytest.mark.parametrize("how", ["x-api-key", "bearer"])
def test_a_push_becomes_an_event_delivered_to_a_webhook(
    server: RunningServer, partner: Tidings, event_type: str, how: str
) -> None:
    with Receiver() as rx:
        hook = create_webhook(partner, rx.url, event_types=[event_type])
        source = _source(partner, event_type)
        header = (
            {"X-Api-Key": source["key"]}
            if how == "x-api-key"
            else {"Authorization": f"Bearer {source['key']}"}
        )
        answer = _push(server.base_url, source, json.dumps(PAYMENT).encode(), header)
        assert answer.status_code == 202, answer.text
        event_id = answer.json()["eventId"]
        assert event_id.startswith("evt_")
        [got] = rx.wait(1)
    secret = partner.webhooks.secret(hook["id"])["secret"]
    delivered = Webhook(secret).verify(got.body, got.headers)
    assert delivered["eventData"] == PAYMENT
    assert delivered["eventType"] == event_type
    event = partner.events.get(event_id)
    assert event["sourceId"] == source["id"]
    assert event["eventData"] == PAYMENT
    assert [n["webhookId"] for n in event["notifications"]] == [hook["id"]]


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Api-Key": "whk_wrong"},
        {"Authorization": "Bearer whk_wrong"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
    ],
    ids=["none", "wrong-key", "wrong-bearer", "wrong-scheme"],
)
def test_a_push_that_does_not_authenticate_stores_nothing(
    server: RunningServer, partner: Tidings, event_type: str, headers: dict[str, str]
) -> None:
    source = _source(partner, event_type)
    before = _events(partner)
    answer = _push(server.base_url, source, json.dumps(PAYMENT).encode(), headers)
    assert answer.status_code == 401
    assert answer.json()["error"]["type"] == "authentication_error"
    assert _events(partner) == before
    # ... but its request is in the account's log, with no event and no key in it.
    [logged] = partner.logs.list(path=f"/in/{source['id']}")
    assert logged["statusCode"] == 401 and logged["eventIds"] == []
    detail = partner.logs.get(logged["id"])
    assert "whk_wrong" not in json.dumps(detail)


def test_unknown_and_disabled_sources_answer_404(
    server: RunningServer, partner: Tidings, event_type: str
) -> None:
    source = _source(partner, event_type)
    key = {"X-Api-Key": source["key"]}
    body = json.dumps(PAYMENT).encode()
    unknown = {**source, "url": source["url"].replace(source["id"], "src_nothere")}
    assert _push(server.base_url, unknown, body, key).status_code == 404
    assert partner.sources.disable(source["id"])["status"] == "Disabled"
    assert _push(server.base_url, source, body, key).status_code == 404
    assert partner.sources.enable(source["id"])["status"] == "Active"
    assert _push(server.base_url, source, body, key).status_code == 202


@pytest.mark.parametrize(
    ("body", "content_type", "status"),
    [
        (b'{"paymentId": ', "application/json", 400),
        (b'["not", "an", "object"]', "application/json", 400),
        (b"paymentId=pay_1", "application/x-www-form-urlencoded", 415),
        (b'{"pad": "' + b"x" * (300 * 1024) + b'"}', "application/json", 413),
    ],
    ids=["malformed", "array", "form", "too-large"],
)
def test_bodies_a_push_may_not_have(
    server: RunningServer,
    partner: Tidings,
    event_type: str,
    body: bytes,
    content_type: str,
    status: int,
) -> None:
    source = _source(partner, event_type)
    before = _events(partner)
    answer = httpx.post(
        source["url"],
        content=body,
        headers={"Content-Type": content_type, "X-Api-Key": source["key"]},
    )
    assert answer.status_code == status, answer.text
    assert answer.json()["error"]["message"]
    assert _events(partner) == before


def test_a_repeated_idempotency_key_returns_the_first_event(
    server: RunningServer, partner: Tidings, event_type: str
) -> None:
    with Receiver() as rx:
        create_webhook(partner, rx.url, event_types=[event_type])
        source = _source(partner, event_type)
        headers = {"X-Api-Key": source["key"], "Idempotency-Key": "partner-42"}
        first = _push(server.base_url, source, json.dumps(PAYMENT).encode(), headers)
        again = _push(server.base_url, source, json.dumps(PAYMENT).encode(), headers)
        assert first.status_code == again.status_code == 202
        assert first.json()["eventId"] == again.json()["eventId"]
        rx.wait(1)
        time.sleep(0.5)
        assert len(rx.requests) == 1
    assert [e["id"] for e in _events(partner)] == [first.json()["eventId"]]


def test_the_event_type_pointer_picks_the_type_or_falls_back(
    server: RunningServer, partner: Tidings, event_type: str
) -> None:
    add_event_type(partner, "booking.created")
    source = _source(partner, event_type, event_type_pointer="/kind")
    key = {"X-Api-Key": source["key"]}
    named = {**PAYMENT, "kind": "booking.created"}
    unnamed = {**PAYMENT, "kind": "no.such.type"}
    made = []
    for data in (named, unnamed, PAYMENT):
        answer = _push(server.base_url, source, json.dumps(data).encode(), key)
        assert answer.status_code == 202, answer.text
        made.append(partner.events.get(answer.json()["eventId"])["eventType"])
    assert made == ["booking.created", event_type, event_type]


def test_a_push_that_does_not_fit_the_schema_is_refused(
    server: RunningServer, partner: Tidings, event_type: str
) -> None:
    source = _source(partner, event_type)
    answer = _push(
        server.base_url,
        source,
        b'{"paymentId": "p", "status": "bogus"}',
        {"X-Api-Key": source["key"]},
    )
    assert answer.status_code == 422
    assert answer.json()["error"]["details"][0]["field"] == "eventData.status"


def test_each_push_is_in_the_log_linked_to_its_event(
    server: RunningServer, partner: Tidings, event_type: str
) -> None:
    source = _source(partner, event_type)
    answer = _push(
        server.base_url, source, json.dumps(PAYMENT).encode(), {"X-Api-Key": source["key"]}
    )
    event_id = answer.json()["eventId"]
    [logged] = partner.logs.list(path=f"/in/{source['id']}")
    assert logged["type"] == "normal"
    assert logged["statusCode"] == 202
    assert logged["eventIds"] == [event_id]
    detail = partner.logs.get(logged["id"])
    assert source["key"] not in json.dumps(detail)
    assert partner.events.get(event_id)["request"]["id"] == logged["id"]


# --- basic sources --------------------------------------------------------------------------


def _basic(username: str, password: str) -> dict[str, str]:
    token = base64.b64encode(f"{username}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


def test_basic_source_checks_the_password_and_never_shows_it(
    server: RunningServer, partner: Tidings, event_type: str
) -> None:
    source = _source(
        partner, event_type, auth_type="basic", username="partner", password="correct horse"
    )
    assert source["password"] == "****" and source["key"] is None and source["secret"] is None
    assert "correct horse" not in json.dumps(partner.sources.get(source["id"]))
    body = json.dumps(PAYMENT).encode()
    assert (
        _push(server.base_url, source, body, _basic("partner", "correct horse")).status_code == 202
    )
    wrong = _push(server.base_url, source, body, _basic("partner", "wrong horse"))
    assert wrong.status_code == 401
    assert _push(server.base_url, source, body, _basic("other", "correct horse")).status_code == 401
    # The account changes the password with PATCH; the old one stops at once.
    assert partner.sources.update(source["id"], password="battery staple")["password"] == "****"
    assert (
        _push(server.base_url, source, body, _basic("partner", "correct horse")).status_code == 401
    )
    assert (
        _push(server.base_url, source, body, _basic("partner", "battery staple")).status_code == 202
    )
    # A basic source has no key to roll.
    with pytest.raises(ConflictError):
        partner.sources.roll_key(source["id"], "now")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"authType": "basic", "username": "partner"}, "password"),
        ({"authType": "basic", "password": "long enough"}, "username"),
        ({"authType": "api-key", "username": "x", "password": "long enough"}, "username"),
        ({"authType": "api-key", "signatureScheme": "standard"}, "signatureScheme"),
        ({"authType": "mtls"}, "authType"),
        ({"eventType": "no.such.type"}, "eventType"),
        ({"eventTypePointer": "type"}, "eventTypePointer"),
        ({"category": "Bookings"}, "eventType"),
        ({"name": ""}, "name"),
    ],
)
def test_create_refuses_what_does_not_fit(
    partner: Tidings, event_type: str, fields: dict[str, Any], field: str
) -> None:
    body = {"name": "Partner", "eventType": event_type, **fields}
    with pytest.raises(ValidationError) as refused:
        partner.sources.create(body.pop("name"), body.pop("eventType"), **body)
    assert field in [d["field"] for d in refused.value.details]


# --- hmac sources ---------------------------------------------------------------------------


def test_standard_webhooks_signed_pushes(
    server: RunningServer, partner: Tidings, event_type: str
) -> None:
    source = _source(partner, event_type, auth_type="hmac")
    assert source["signatureScheme"] == "standard"
    secret = source["secret"]
    assert secret.startswith("whsec_")
    assert partner.sources.get(source["id"])["secret"] == "****" + secret[-4:]
    signer = Webhook(secret)
    body = json.dumps(PAYMENT)

    def signed(msg_id: str, at: float, payload: str = body) -> dict[str, str]:
        moment = datetime.fromtimestamp(at, tz=UTC)
        return {
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(at)),
            "webhook-signature": signer.sign(msg_id, moment, payload),
        }

    now = time.time()
    ok = _push(server.base_url, source, body.encode(), signed("msg_1", now))
    assert ok.status_code == 202, ok.text
    # The same webhook-id again (the partner retried): the first event, nothing new.
    again = _push(server.base_url, source, body.encode(), signed("msg_1", now))
    assert again.json()["eventId"] == ok.json()["eventId"]
    stale = _push(server.base_url, source, body.encode(), signed("msg_2", now - 600))
    assert stale.status_code == 401 and "5 minutes" in _error_message(stale)
    tampered = signed("msg_3", now)
    assert (
        _push(
            server.base_url, source, body.replace("pay_1", "pay_2").encode(), tampered
        ).status_code
        == 401
    )
    missing = _push(server.base_url, source, body.encode(), {})
    assert missing.status_code == 401
    assert len(_events(partner)) == 1


def test_hex_signed_pushes(server: RunningServer, partner: Tidings, event_type: str) -> None:
    source = _source(partner, event_type, auth_type="hmac", signature_scheme="hmac-sha256-hex")
    body = json.dumps(PAYMENT).encode()
    signature = hmac.new(source["secret"].encode(), body, hashlib.sha256).hexdigest()
    ok = _push(server.base_url, source, body, {"X-Tidings-Signature": signature})
    assert ok.status_code == 202, ok.text
    bad = _push(server.base_url, source, body, {"X-Tidings-Signature": "0" * 64})
    assert bad.status_code == 401


# --- rolling keys, on a clock the test moves --------------------------------------------------


@pytest.fixture
def clocked(own_database: str, tmp_path: Path) -> Iterator[tuple[RunningServer, FakeClock]]:
    clock = FakeClock()
    with RunningServer(make_settings(own_database, tmp_path), clock=clock) as running:
        yield running, clock


@pytest.mark.parametrize("auth_type", ["api-key", "hmac"])
def test_a_rolled_key_keeps_working_until_its_expiry(
    clocked: tuple[RunningServer, FakeClock], auth_type: str
) -> None:
    running, clock = clocked
    with open_partner(running) as partner:
        add_event_type(partner, "order.paid")
        source = _source(partner, "order.paid", auth_type=auth_type)
        old = source["key"] or source["secret"]
        rolled = partner.sources.roll_key(source["id"], "1h")
        new = rolled["key"] or rolled["secret"]
        assert new != old and new[:4] == old[:4]
        shown = partner.sources.get(source["id"])
        assert shown["key" if auth_type == "api-key" else "secret"] == "****" + new[-4:]

        def works(credential: str) -> bool:
            body = json.dumps({"n": 1}).encode()
            if auth_type == "api-key":
                headers = {"X-Api-Key": credential}
            else:
                at = clock.as_datetime()
                msg_id = f"msg_{time.monotonic_ns()}"
                headers = {
                    "webhook-id": msg_id,
                    "webhook-timestamp": str(int(at.timestamp())),
                    "webhook-signature": Webhook(credential).sign(msg_id, at, body.decode()),
                }
            answer = _push(running.base_url, source, body, headers)
            assert answer.status_code in (202, 401), answer.text
            return answer.status_code == 202

        assert works(old) and works(new)
        clock.advance(3599)
        assert works(old)
        clock.advance(2)
        assert not works(old) and works(new)
        # "now": the previous one stops at once.
        again = partner.sources.roll_key(source["id"], "now")
        newest = again["key"] or again["secret"]
        assert not works(new) and works(newest)


# --- categories ---------------------------------------------------------------------------


def test_a_category_limited_key_sees_only_its_categories_sources(
    partner: Tidings, event_type: str
) -> None:
    partner.event_types.create("booking.created", category="Booking")
    payments = _source(partner, event_type, category="Payments")
    booking = _source(partner, "booking.created", category="Booking")
    limited = partner.api_keys.create(
        type="restricted", permissions={"sources": "write"}, categories=["Booking"]
    )["key"]
    with tidings_at(partner.base_url, limited) as own:
        assert [s["id"] for s in own.sources.list()] == [booking["id"]]
        with pytest.raises(NotFoundError):
            own.sources.get(payments["id"])
        with pytest.raises(NotFoundError):
            own.sources.delete(payments["id"])
        with pytest.raises(ForbiddenError) as outside:
            own.sources.create("x", event_type, category="Payments")
        assert outside.value.details[0]["field"] == "category"
