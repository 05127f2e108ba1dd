"""Schemathesis against the real server's ``/openapi.json``: a bounded number of generated
requests, valid and invalid, for every operation, on each backend. No answer may be a 5xx,
and every answer must be one the document describes: its status code, its content type, its
headers and its body's schema.

``pytest -m fuzz`` runs this file alone; ``TIDINGS_FUZZ_EXAMPLES=200`` searches harder."""

from __future__ import annotations

import itertools
import os
import secrets
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import schemathesis
from aiohttp.abc import AbstractResolver, ResolveResult
from hypothesis import HealthCheck, settings
from schemathesis import Case, GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.support.databases import fresh_database, make_settings
from tests.support.partner import create_account, operator_client
from tests.support.server import RunningServer
from tidings.app import create_app
from tidings.config import Settings

pytestmark = [
    pytest.mark.fuzz,
    # Raised by schemathesis's own strategies, not ours.
    pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning"),
]

# Per operation and generation mode: enough to reach every validator, few enough that the
# file takes well under two minutes on both backends.
MAX_EXAMPLES = int(os.environ.get("TIDINGS_FUZZ_EXAMPLES", "15"))
EVENT_TYPE = "fuzz.event"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


class LoopbackResolver(AbstractResolver):
    """Every name is 127.0.0.1, which the SSRF guard refuses: whatever URL the fuzzer gives a
    webhook, no delivery leaves the machine."""

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        return [
            ResolveResult(
                hostname=host, host="127.0.0.1", port=port, family=socket.AF_INET, proto=0, flags=0
            )
        ]

    async def close(self) -> None:
        pass


@pytest.fixture(scope="module")
def fuzzed(backend: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server and database of their own, so the fuzzer's accounts and logs stay out of the
    other tests; the SSRF guard on, so private literal URLs take their 422 path too."""
    directory = tmp_path_factory.mktemp("fuzz")
    with fresh_database(backend, directory) as url:
        settings = make_settings(
            url, directory, allow_private_networks=False, max_webhooks_per_account=10_000
        )
        with RunningServer(settings, resolver=LoopbackResolver()) as running:
            yield running


@pytest.fixture(scope="module")
def operator(fuzzed: RunningServer) -> Iterator[httpx.Client]:
    with operator_client(fuzzed) as client:
        yield client


@pytest.fixture(scope="module")
def tenant(fuzzed: RunningServer, operator: httpx.Client) -> dict[str, str]:
    """The account the fuzzer acts for, its secret key, and an event type it may publish."""
    made = create_account(fuzzed.base_url, fuzzed.operator_key, "Fuzz", key_name="fuzz")
    scoped = {"Tidings-Account": made["id"]}
    _created(operator.post("/v1/event-types", json={"name": EVENT_TYPE}, headers=scoped))
    return {"account": made["id"], "key": made["key"]}


@pytest.fixture
def known(operator: httpx.Client, tenant: dict[str, str]) -> dict[str, str]:
    """Path parameters naming things that exist, fresh for each operation: its valid cases
    reach past the 404 (and a DELETE among them removes only these)."""
    scoped = {"Tidings-Account": tenant["account"]}

    def post(path: str, body: dict[str, Any], headers: dict[str, str] = scoped) -> Any:
        return _created(operator.post(path, json=body, headers=headers))

    webhook = post("/v1/webhooks", {"url": f"https://{secrets.token_hex(4)}.example/hook"})
    event = post("/v1/events", {"eventType": EVENT_TYPE, "eventData": {"n": 1}})
    log = operator.get(f"/v1/events/{event['id']}", headers=scoped).json()["request"]
    return {
        "account_id": post("/v1/accounts", {"name": "Doomed"}, {})["id"],
        "key_id": post("/v1/api-keys", {"name": "doomed"})["id"],
        "name": post("/v1/event-types", {"name": f"fuzz.{secrets.token_hex(4)}"})["name"],
        "webhook_id": webhook["id"],
        "event_id": event["id"],
        "notification_id": event["notifications"][0]["id"],
        "log_id": log["id"],
        "source_id": post(
            "/v1/sources", {"name": "fuzzed", "eventType": EVENT_TYPE, "authType": "api-key"}
        )["id"],
    }


def _created(response: httpx.Response) -> Any:
    assert response.status_code in (201, 202), response.text
    return response.json()


# The document the server serves at /openapi.json (checked below): loaded from the app, as
# the per-operation tests are made when the module is collected, before any server runs.
# GET /v1/listen is a stream that stays open while the listener is there: it has no answer
# to validate at the end (tests/cli/test_listen.py reads it; its refusals are checked below).
schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi()).exclude(
    path="/v1/listen", method="GET"
)
schema.config.generation.update(
    modes=[GenerationMode.POSITIVE, GenerationMode.NEGATIVE], max_examples=MAX_EXAMPLES
)


def test_the_served_document_is_the_fuzzed_one(fuzzed: RunningServer) -> None:
    served = httpx.get(f"{fuzzed.base_url}/openapi.json")
    assert served.status_code == 200
    document = served.json()
    assert document == schema.raw_schema
    # Errors are documented with the body the API answers; a 500 never is (it is a bug).
    assert "HTTPValidationError" not in document["components"]["schemas"]
    error_body = {"$ref": "#/components/schemas/ErrorBody"}
    for operations in document["paths"].values():
        for operation in operations.values():
            codes = operation["responses"]
            assert "500" not in codes
            for code, response in codes.items():
                if code.startswith("4"):
                    assert response["content"]["application/json"]["schema"] == error_body


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    derandomize=True,  # the same cases on every run: a failure in CI reproduces locally
    database=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_answer_is_documented(
    case: Case[Any], fuzzed: RunningServer, tenant: dict[str, str], known: dict[str, str]
) -> None:
    if case.meta is not None and case.meta.generation.mode == GenerationMode.POSITIVE:
        _aim(case, known)
    # The operator's calls with the operator key, the rest with the account's own key; both
    # name the account, so the generated Tidings-Account cannot turn every call into a 404.
    key = fuzzed.operator_key if case.path.startswith("/v1/accounts") else tenant["key"]
    headers = {"Authorization": f"Bearer {key}", "Tidings-Account": tenant["account"]}
    case.call_and_validate(base_url=fuzzed.base_url, headers=headers, checks=CHECKS, timeout=30)


_unique = itertools.count()


def _aim(case: Case[Any], known: dict[str, str]) -> None:
    """Point a valid case at things that exist, keeping the rest of what was generated: a
    random id is a 404, a random string is not a URL and a random type is not in the catalog,
    and the handlers' deeper paths would never run."""
    for name in case.path_parameters or {}:
        case.path_parameters[name] = known.get(name, case.path_parameters[name])
    body = case.body
    if not isinstance(body, dict):
        return
    url = body.get("url")
    if isinstance(url, str):
        # Unique, as a webhook's URL is in its account: the 409 is not all that is tested.
        body["url"] = f"https://fuzz.example/{next(_unique)}/{quote(url)}"
    if "eventType" in body:
        body["eventType"] = EVENT_TYPE
    if "webhookIds" in body:
        body["webhookIds"] = [known["webhook_id"]]


def test_the_listen_streams_refusals_are_documented(
    fuzzed: RunningServer, tenant: dict[str, str]
) -> None:
    """The stream left out of the fuzzing above: its 4xx answers carry the documented body."""
    document = httpx.get(f"{fuzzed.base_url}/openapi.json").json()
    documented = document["paths"]["/v1/listen"]["get"]["responses"]
    for headers, params in (
        ({}, {}),
        ({"X-Api-Key": "sk_wrong"}, {}),
        ({"X-Api-Key": tenant["key"]}, {"events": "not a pattern!"}),
        ({"X-Api-Key": tenant["key"]}, {"colour": "red"}),
    ):
        response = httpx.get(f"{fuzzed.base_url}/v1/listen", headers=headers, params=params)
        assert 400 <= response.status_code < 500, response.text
        assert str(response.status_code) in documented, (response.status_code, documented)
        assert set(response.json()["error"]) >= {"type", "message"}
