"""Errors as a caller sees them: one JSON shape, a 4xx naming the field, never a 5xx for bad
input; and the operational endpoints (health, OpenAPI, docs)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.support.server import RunningServer

LIMIT = 256 * 1024
NOWHERE = "http://127.0.0.1:9"


def _assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    """The response is ``status`` with the error JSON; returns the error object."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"type", "message", "details"}
    assert isinstance(error["type"], str) and error["type"]
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["details"], list)
    for detail in error["details"]:
        assert isinstance(detail, dict)
        assert isinstance(detail["field"], str)
    return error


def _fields(error: dict[str, Any]) -> list[str]:
    return [d["field"] for d in error["details"]]


# --- malformed and unexpected bodies -------------------------------------------------------


def test_malformed_json_is_400(client: httpx.Client) -> None:
    for body in (b'{"url": "http://x", ', b"not json at all", b"{'single': 'quotes'}"):
        response = client.post(
            "/v1/webhooks", content=body, headers={"Content-Type": "application/json"}
        )
        error = _assert_error(response, 400)
        assert error["type"] == "invalid_request"


def test_unknown_field_is_422_naming_it(client: httpx.Client, event_type: str) -> None:
    response = client.post(
        "/v1/webhooks", json={"url": f"{NOWHERE}/unknown-field", "colour": "red"}
    )
    error = _assert_error(response, 422)
    assert error["type"] == "validation_error"
    assert _fields(error) == ["colour"]
    assert "colour" in error["message"]

    response = client.post(
        "/v1/events", json={"eventType": event_type, "eventData": {}, "eventTyp": "x"}
    )
    assert _fields(_assert_error(response, 422)) == ["eventTyp"]

    # The snake_case spelling is not the API's: it is refused, not silently ignored.
    response = client.post(
        "/v1/events", json={"event_type": event_type, "eventType": event_type, "eventData": {}}
    )
    assert "event_type" in _fields(_assert_error(response, 422))


def test_body_over_256_kib_is_413(client: httpx.Client, event_type: str) -> None:
    big = json.dumps({"eventType": event_type, "eventData": {"blob": "x" * (LIMIT + 10)}})
    response = client.post("/v1/events", content=big, headers={"Content-Type": "application/json"})
    error = _assert_error(response, 413)
    assert error["type"] == "payload_too_large"
    assert client.get("/v1/events").json()["data"] == []


def test_body_over_256_kib_without_content_length_is_413(
    client: httpx.Client, event_type: str
) -> None:
    head = json.dumps({"eventType": event_type, "eventData": {"blob": ""}})[:-3].encode()

    def chunks() -> Iterator[bytes]:
        yield head
        for _ in range(LIMIT // 8192 + 4):
            yield b"x" * 8192
        yield b'"}}'

    response = client.post(
        "/v1/events", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in response.request.headers
    assert response.request.headers["transfer-encoding"] == "chunked"
    assert _assert_error(response, 413)["type"] == "payload_too_large"
    assert client.get("/v1/events").json()["data"] == []


def test_body_just_under_the_limit_is_accepted(client: httpx.Client, event_type: str) -> None:
    envelope = {"eventType": event_type, "eventData": {"paymentId": "p", "status": "pending"}}
    blob = "x" * (LIMIT - len(json.dumps(envelope)) - 1024)
    body = json.dumps({**envelope, "eventData": {**envelope["eventData"], "blob": blob}}).encode()
    assert len(body) < LIMIT
    response = client.post("/v1/events", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 202, response.text[:300]
    chunked = client.post(
        "/v1/events",
        content=iter([body[:1000], body[1000:]]),
        headers={"Content-Type": "application/json"},
    )
    assert "content-length" not in chunked.request.headers
    assert chunked.status_code == 202, chunked.text[:300]


# --- routes and methods --------------------------------------------------------------------


def test_unknown_route_is_404_error_json(client: httpx.Client, server: RunningServer) -> None:
    assert _assert_error(client.get("/v1/nothing-here"), 404)["type"] == "not_found"
    assert _assert_error(client.post("/v1/nothing-here", json={}), 404)["type"] == "not_found"
    # Without any key too: an unknown route is unknown to everyone.
    assert _assert_error(httpx.get(f"{server.base_url}/no/such/thing"), 404)["type"] == (
        "not_found"
    )


def test_wrong_method_is_405_error_json(client: httpx.Client) -> None:
    error = _assert_error(client.delete("/v1/events"), 405)
    assert error["type"] == "method_not_allowed"


# --- authentication ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer sk_thisIsNotARealKey000000000000000000000000"},
        {"X-Api-Key": "sk_thisIsNotARealKey000000000000000000000000"},
        {"Authorization": "Bearer"},
        {"Authorization": "Bearer garbage"},
        {"Authorization": "Basic x"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Token sk_abc"},
        {"X-Api-Key": ""},
    ],
    ids=[
        "none",
        "bad-bearer",
        "bad-x-api-key",
        "empty-bearer",
        "garbage-bearer",
        "basic-x",
        "basic-userpass",
        "token-scheme",
        "empty-x-api-key",
    ],
)
def test_missing_or_bad_key_is_401(server: RunningServer, headers: dict[str, str]) -> None:
    with httpx.Client(base_url=server.base_url, headers=headers, timeout=30) as anonymous:
        for method, path in (
            ("GET", "/v1/webhooks"),
            ("POST", "/v1/events"),
            ("GET", "/v1/accounts"),
            ("GET", "/v1/api-keys"),
            ("GET", "/v1/notifications"),
            ("GET", "/v1/event-types"),
        ):
            response = anonymous.request(method, path, json={} if method == "POST" else None)
            error = _assert_error(response, 401)
            assert error["type"] == "authentication_error"


def test_basic_auth_with_a_real_key_is_still_401(
    server: RunningServer, account: dict[str, Any]
) -> None:
    response = httpx.get(f"{server.base_url}/v1/webhooks", auth=(account["key"], ""))
    _assert_error(response, 401)


# --- hostile input never makes a 5xx -------------------------------------------------------


def _nested(depth: int) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = {"a": value}
    return value


HUGE = 10**40


@pytest.mark.parametrize(
    "data",
    [
        {"paymentId": "p", "status": "pending", "amount": HUGE},
        {"paymentId": "p", "status": "pending", "count": -HUGE},
        {"paymentId": "p", "status": "pending", "ids": [2**64, 2**63, -(2**63) - 1]},
        {"paymentId": "p", "status": "pending", "amount": 1e308},
        {"paymentId": "p\u0000id", "status": "pending"},
        {"paymentId": "p", "status": "pending", "k\u0000ey": "v\u0000alue"},
        {"paymentId": "p", "status": "pending", "deep": _nested(100)},
        {"paymentId": "p", "status": "pending", "deep": _nested(300)},
        {"paymentId": "p", "status": "pending", "deep": _nested(900)},
    ],
    ids=[
        "huge-int",
        "huge-negative-int",
        "just-past-64-bit",
        "huge-float",
        "null-byte-value",
        "null-byte-key",
        "nested-100",
        "nested-300",
        "nested-900",
    ],
)
def test_hostile_event_data_is_never_a_5xx(
    client: httpx.Client, event_type: str, data: dict[str, Any]
) -> None:
    response = client.post("/v1/events", json={"eventType": event_type, "eventData": data})
    assert response.status_code < 500, response.text[:500]
    if response.status_code == 202:
        event = response.json()
        assert event["eventData"] == data
        shown = client.get(f"/v1/events/{event['id']}")
        assert shown.status_code == 200, shown.text[:500]
        assert shown.json()["eventData"] == data
    else:
        error = _assert_error(response, response.status_code)
        assert error["details"], error
    # Whatever the answer, the account's event list still works afterwards.
    listed = client.get("/v1/events")
    assert listed.status_code == 200, listed.text[:500]


def test_deeply_nested_json_body_is_a_4xx(client: httpx.Client, event_type: str) -> None:
    """Bodies under the size limit but nested far too deep to parse."""
    objects = '{"a":' * 20_000 + "1" + "}" * 20_000
    arrays = "[" * 100_000 + "]" * 100_000
    for nested in (objects, arrays):
        body = f'{{"eventType": "{event_type}", "eventData": {{"deep": {nested}}}}}'.encode()
        assert len(body) < LIMIT
        response = client.post(
            "/v1/events", content=body, headers={"Content-Type": "application/json"}
        )
        assert 400 <= response.status_code < 500, response.text[:500]
        _assert_error(response, response.status_code)
    assert client.get("/v1/events").status_code == 200


@pytest.mark.parametrize(
    "fields",
    [
        {"description": "before\u0000after"},
        {"category": "cat\u0000egory"},
        {"headers": {"X-Partner": "va\u0000lue"}},
        {"eventTypes": ["payment\u0000.updated"]},
        {"url": f"{NOWHERE}/pa\u0000th"},
    ],
    ids=["description", "category", "header-value", "event-type", "url"],
)
def test_null_bytes_in_webhook_fields_are_never_a_5xx(
    client: httpx.Client, fields: dict[str, Any]
) -> None:
    body = {"url": f"{NOWHERE}/null-bytes", **fields}
    response = client.post("/v1/webhooks", json=body)
    assert response.status_code < 500, response.text[:500]
    if response.status_code == 201:
        hook = client.get(f"/v1/webhooks/{response.json()['id']}")
        assert hook.status_code == 200, hook.text[:500]
        assert client.get("/v1/webhooks").status_code == 200
    else:
        _assert_error(response, response.status_code)


def test_null_bytes_elsewhere_are_never_a_5xx(
    client: httpx.Client, operator: httpx.Client, event_type: str
) -> None:
    for response in (
        operator.post("/v1/accounts", json={"name": "Acme\u0000Corp"}),
        client.post("/v1/api-keys", json={"name": "key\u0000name"}),
        client.post("/v1/event-types", json={"name": "bad\u0000name"}),
        client.post(
            "/v1/event-types", json={"name": "good.name", "description": "de\u0000scription"}
        ),
        client.get("/v1/events", params={"eventType": "pay\u0000ment"}),
        client.get("/v1/events", params={"cursor": "evt_\u0000"}),
        client.get("/v1/events/evt_%00abc"),
        client.get("/v1/webhooks/wh_%00abc"),
        client.get("/v1/notifications", params={"webhookId": "wh_\u0000"}),
        client.post(
            "/v1/events",
            json={"eventType": event_type, "eventData": {"paymentId": "p", "status": "pending"}},
            headers={"Idempotency-Key": "k" * 5000},
        ),
    ):
        assert response.status_code < 500, (response.request.url, response.text[:500])
        if response.status_code >= 400:
            _assert_error(response, response.status_code)


def test_huge_numbers_in_queries_and_bodies_are_a_4xx(
    client: httpx.Client, operator: httpx.Client
) -> None:
    for params in ({"limit": HUGE}, {"limit": -HUGE}, {"limit": "1e3"}, {"limit": "ten"}):
        response = client.get("/v1/events", params=params)
        assert _fields(_assert_error(response, 422)) == ["limit"]
    for params in ({"from": HUGE}, {"to": "9" * 400}, {"from": "99999-01-01T00:00:00Z"}):
        response = client.get("/v1/events", params=params)
        assert response.status_code < 500, response.text[:500]
        _assert_error(response, response.status_code)
    response = operator.post("/v1/accounts", json={"name": HUGE})
    assert _fields(_assert_error(response, 422)) == ["name"]
    response = client.post("/v1/webhooks", json={"url": f"{NOWHERE}/huge", "status": HUGE})
    assert _fields(_assert_error(response, 422)) == ["status"]


def test_huge_id_in_path_is_a_404(client: httpx.Client) -> None:
    for path in ("/v1/events/", "/v1/webhooks/", "/v1/notifications/", "/v1/api-keys/"):
        response = client.get(path + "x" * 5000)
        assert _assert_error(response, 404)["type"] == "not_found"


WRONG_WEBHOOK_FIELDS: list[tuple[str, Any]] = [
    ("url", 123),
    ("url", None),
    ("url", True),
    ("url", []),
    ("url", {}),
    ("url", "not a url"),
    ("url", "ftp://127.0.0.1/file"),
    ("url", "http://"),
    ("url", "http://127.0.0.1:99999/"),
    ("url", "http://127.0.0.1/" + "a" * 3000),
    ("eventTypes", "payment.updated"),
    ("eventTypes", 123),
    ("eventTypes", None),
    ("eventTypes", {}),
    ("eventTypes", [123]),
    ("eventTypes", [None]),
    ("eventTypes", [["nested"]]),
    ("eventTypes", ["has space"]),
    ("description", 123),
    ("description", []),
    ("description", {}),
    ("description", True),
    ("description", "d" * 5000),
    ("category", 123),
    ("category", ["x"]),
    ("category", {}),
    ("category", False),
    ("headers", "X-A: b"),
    ("headers", []),
    ("headers", 123),
    ("headers", None),
    ("headers", {"X-A": 1}),
    ("headers", {"X-A": None}),
    ("headers", {"X-A": ["b"]}),
    ("headers", {"X-A": {"b": "c"}}),
    ("sslVerificationDisabled", "maybe"),
    ("sslVerificationDisabled", []),
    ("sslVerificationDisabled", {}),
    ("sslVerificationDisabled", None),
    ("sslVerificationDisabled", 2),
    ("status", "Enabled"),
    ("status", "active"),
    ("status", 1),
    ("status", None),
    ("status", []),
    ("status", {}),
]


@pytest.mark.parametrize(
    ("field", "value"),
    WRONG_WEBHOOK_FIELDS,
    ids=[f"{f}-{i}" for i, (f, _) in enumerate(WRONG_WEBHOOK_FIELDS)],
)
def test_wrong_webhook_field_is_422_naming_it(client: httpx.Client, field: str, value: Any) -> None:
    body: dict[str, Any] = {"url": f"{NOWHERE}/wrong-types"}
    body[field] = value
    response = client.post("/v1/webhooks", json=body)
    assert response.status_code < 500, response.text[:500]
    error = _assert_error(response, 422)
    assert any(f == field or f.startswith((field + ".", field + "[")) for f in _fields(error)), (
        error
    )
    assert client.get("/v1/webhooks").json()["data"] == []


def test_a_whole_body_of_the_wrong_type_is_422(client: httpx.Client) -> None:
    for body in ([], "a string", 42, None, True):
        response = client.post("/v1/webhooks", json=body)
        assert response.status_code < 500, response.text[:500]
        _assert_error(response, 422)


# --- operations ----------------------------------------------------------------------------


def test_healthz_is_200(server: RunningServer) -> None:
    response = httpx.get(f"{server.base_url}/healthz")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_openapi_lists_the_v1_resources(server: RunningServer) -> None:
    response = httpx.get(f"{server.base_url}/openapi.json")
    assert response.status_code == 200
    paths = response.json()["paths"]
    for path in (
        "/v1/webhooks",
        "/v1/events",
        "/v1/test-events",
        "/v1/notifications",
        "/v1/event-types",
        "/v1/accounts",
        "/v1/api-keys",
    ):
        assert path in paths, path


def test_docs_is_html(server: RunningServer) -> None:
    response = httpx.get(f"{server.base_url}/docs")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert "<html" in response.text.lower()
