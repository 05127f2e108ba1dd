"""Tenant isolation (issue 6, DESIGN §7): two accounts, every resource and every verb.

Account B gets one of everything: an event type of its own, a webhook, an event, its
notification, API keys and log entries. Account A then tries every operation of the live
``/openapi.json`` that takes an id in its path on B's ids: with its secret key, with
restricted keys holding the permission the call needs, and as the operator acting for A.
Every answer must be the 404 that an id existing nowhere gets (same status, same body but
for the id), with none of B's data in it, and B's resources must be exactly as they were.
Lists never show the other account's rows, even filtered on its ids; an operator key
without ``Tidings-Account`` cannot create or change an account's resources by accident.

The operation table comes from the running server's OpenAPI document, so a new route is
covered as soon as it exists, and these tests fail until its path parameters, its body and
its tag are described in the tables below.

Two refusals are 403 rather than 404, and are not isolation failures because they do not
depend on the id (asserted: the answer is the same for an id that exists nowhere):
- the operator's own routes (``/v1/accounts``) answer 403 to every account key, whatever
  the id, as ``GET /v1/accounts`` does (tests/api/test_permissions.py);
- a restricted key holding only ``read`` gets 403 naming ``<resource>:write`` on a GET that
  needs write (``/v1/webhooks/{id}/secret``): it lacks the permission for the call itself.
"""

from __future__ import annotations

import itertools
import re
import secrets
import string
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.support.partner import client_with_key, create_account, wait_status
from tests.support.receiver import Receiver
from tests.support.server import RunningServer

# --- the tables: how to address each route ---------------------------------------------------

# Path parameter -> the Tenant attributes holding ids for it (each one is tried).
PATH_IDS: dict[str, tuple[str, ...]] = {
    "account_id": ("account_id",),
    "webhook_id": ("webhook_id",),
    "event_id": ("event_id",),
    "notification_id": ("notification_id",),
    "key_id": ("key_id", "extra_key_id"),
    "log_id": ("log_id",),
    "name": ("event_type",),
    "source_id": ("source_id",),
    "user_id": ("user_id",),
    "pull_id": ("pull_id",),
}

# OpenAPI tag -> the permission resource a restricted key needs; None: no account resource.
TAG_RESOURCE: dict[str, str | None] = {
    "webhooks": "webhooks",
    "events": "events",
    "event types": "event_types",
    "notifications": "notifications",
    "logs": "logs",
    "api keys": "api_keys",
    "sources": "sources",
    "users": "users",
    "pulls": "pulls",
    "accounts": None,
    "operations": None,
}
# Routes not addressed by an account's API key and ids, tested where they live: a push is
# authenticated by its source's own credentials (tests/inbound/test_push.py), a listener's
# results by the stream that made it (tests/cli/test_listen.py); GET /v1/listen is a stream.
NOT_KEYED = {"/in/{source_id}", "/v1/listen", "/v1/listen/{listener_id}/results"}
# Routes for the operator's key only.
OPERATOR_TAGS = {"accounts"}
# Without Tidings-Account the operator edits the global catalog: that is by design.
GLOBAL_CATALOG_TAGS = {"event types"}

# Bodies of the operations with a path id: valid, so that only the id decides the answer.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("PATCH", "/v1/accounts/{account_id}"): {"name": "renamed by A"},
    ("POST", "/v1/accounts/{account_id}/portal-links"): {"expiresIn": "1h"},
    ("POST", "/v1/api-keys/{key_id}/roll"): {"expiresIn": "now"},
    ("PUT", "/v1/event-types/{name}"): {"description": "written by A"},
    ("PATCH", "/v1/event-types/{name}"): {"description": "changed by A"},
    ("PUT", "/v1/webhooks/{webhook_id}"): {"url": "https://example.com/put-by-a", "eventTypes": []},
    ("PATCH", "/v1/webhooks/{webhook_id}"): {"description": "changed by A"},
    ("POST", "/v1/webhooks/{webhook_id}/secret/roll"): {"expiresIn": "now"},
    ("PATCH", "/v1/sources/{source_id}"): {"name": "changed by A"},
    ("POST", "/v1/sources/{source_id}/roll-key"): {"expiresIn": "now"},
    ("POST", "/v1/webhooks/{webhook_id}/replay"): {
        "since": "2000-01-01T00:00:00Z",
        "status": "all",
    },
    ("PATCH", "/v1/pulls/{pull_id}"): {"name": "changed by A"},
}

# Query filters of the lists -> the Tenant attribute to filter on.
FILTERS: dict[str, str] = {
    "webhookId": "webhook_id",
    "eventId": "event_id",
    "logId": "log_id",
    "eventType": "event_type",
    "category": "category",
}

ERROR_TYPES = {400: "invalid_request", 403: "permission_error", 404: "not_found"}
CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
METHODS = ("get", "post", "put", "patch", "delete")


# --- the two accounts ------------------------------------------------------------------------


@dataclass
class Tenant:
    label: str
    token: str
    account_id: str
    key: str
    key_id: str
    extra_key: str
    extra_key_id: str
    event_type: str
    category: str
    webhook_id: str
    webhook_url: str
    webhook_secret: str
    hook_path: str
    event_id: str
    notification_id: str
    log_id: str
    source_id: str
    user_id: str
    pull_id: str
    # Everything of this account that must never reach another one, by name.
    markers: dict[str, str] = field(default_factory=dict)

    @property
    def headers(self) -> dict[str, str]:
        return {"X-Api-Key": self.key}


def _ok(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, f"{response.request.url}: {response.text}"
    body: dict[str, Any] = response.json()
    return body


def _make_tenant(http: httpx.Client, server: RunningServer, rx: Receiver, label: str) -> Tenant:
    """An account with one of every resource, each carrying a marker of its own."""
    token = secrets.token_hex(6)
    name = f"Tenant {label} {token}"
    account = create_account(
        server.base_url, server.operator_key, name, key_name=f"{label}-backend-{token}"
    )
    account_id = account["id"]
    auth = {"X-Api-Key": account["key"]}
    event_type = f"{label}.only.{token}"
    category = f"{label}-category-{token}"
    _ok(
        http.post(
            "/v1/event-types",
            headers=auth,
            json={
                "name": event_type,
                "category": category,
                "description": f"{label}-type-description-{token}",
                "schema": {"type": "object", "title": f"{label}-schema-{token}"},
            },
        ),
        201,
    )
    hook_path = f"/{label}-hook-{token}"
    webhook = _ok(
        http.post(
            "/v1/webhooks",
            headers=auth,
            json={
                "url": f"http://127.0.0.1:{rx.port}{hook_path}",
                "description": f"{label}-webhook-description-{token}",
                "category": category,
                "headers": {"X-Tenant-Token": f"{label}-header-value-{token}"},
            },
        ),
        201,
    )
    event = _ok(
        http.post(
            "/v1/events",
            headers=auth,
            json={"eventType": event_type, "eventData": {"marker": f"{label}-data-{token}"}},
        ),
        202,
    )
    [notification] = event["notifications"]
    _wait_succeeded(http, account["key"], notification["id"])
    extra = _ok(
        http.post("/v1/api-keys", headers=auth, json={"name": f"{label}-extra-key-{token}"}),
        201,
    )
    source = _ok(
        http.post(
            "/v1/sources",
            headers=auth,
            json={
                "name": f"{label}-source-{token}",
                "category": category,
                "eventType": event_type,
                "authType": "api-key",
            },
        ),
        201,
    )
    user = _ok(
        http.post("/v1/users", headers=auth, json={"email": f"{label}-user-{token}@example.com"}),
        201,
    )
    pull = _ok(
        http.post(
            "/v1/pulls",
            headers=auth,
            json={
                "name": f"{label}-pull-name-{token}",
                "category": category,
                "url": f"http://127.0.0.1:{rx.port}/{label}-pull-{token}",
                "username": f"{label}-pull-user-{token}",
                "password": f"{label}-pull-password-{token}",
                "frequency": "weekly",
                "schedule": "monday 02:30",
                "eventType": event_type,
            },
        ),
        201,
    )
    logs = _ok(http.get("/v1/logs", headers=auth, params={"limit": 250}), 200)["data"]
    [log_id] = [item["id"] for item in logs if event["id"] in item["eventIds"]]
    tenant = Tenant(
        label=label,
        token=token,
        account_id=account_id,
        key=account["key"],
        key_id=account["key_id"],
        extra_key=extra["key"],
        extra_key_id=extra["id"],
        event_type=event_type,
        category=category,
        webhook_id=webhook["id"],
        webhook_url=webhook["url"],
        webhook_secret=webhook["secret"],
        hook_path=hook_path,
        event_id=event["id"],
        notification_id=notification["id"],
        log_id=log_id,
        source_id=source["id"],
        user_id=user["id"],
        pull_id=pull["id"],
    )
    tenant.markers = {
        "token": token,
        "account id": account_id,
        "account name": name,
        "secret key": account["key"],
        "secret key id": account["key_id"],
        "extra key": extra["key"],
        "extra key id": extra["id"],
        "event type": event_type,
        "category": category,
        "webhook id": webhook["id"],
        "webhook URL": webhook["url"],
        "webhook secret": webhook["secret"],
        "event id": event["id"],
        "notification id": notification["id"],
        "source id": source["id"],
        "source key": source["key"],
        "user id": user["id"],
        "user email": user["email"],
        "pull id": pull["id"],
        "pull URL": pull["url"],
        "pull password": f"{label}-pull-password-{token}",
        **{f"log id {item['id']}": item["id"] for item in logs},
    }
    return tenant


def _wait_succeeded(http: httpx.Client, key: str, notification_id: str) -> None:
    """Wait, as the notification's own account, until it was delivered."""
    with client_with_key(str(http.base_url), key) as own:
        wait_status(own, notification_id, "succeeded")


# --- the operations, from the live OpenAPI document -----------------------------------------


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    tag: str
    params: tuple[str, ...]
    query: tuple[str, ...]
    has_body: bool
    # A PUT documented with a 201: it creates the resource when the caller has none.
    upsert: bool

    @property
    def resource(self) -> str | None:
        return TAG_RESOURCE.get(self.tag)

    @property
    def is_list(self) -> bool:
        return self.method == "GET" and not self.params and self.resource is not None

    @property
    def is_account_create(self) -> bool:
        return (
            self.method == "POST"
            and not self.params
            and self.tag not in OPERATOR_TAGS | GLOBAL_CATALOG_TAGS
            and self.resource is not None
        )

    def __str__(self) -> str:
        return f"{self.method} {self.path}"


def _operations(spec: dict[str, Any]) -> list[Operation]:
    operations = []
    for path, item in spec["paths"].items():
        for method, op in item.items():
            if method not in METHODS or path in NOT_KEYED:
                continue
            parameters = op.get("parameters", [])
            operations.append(
                Operation(
                    method=method.upper(),
                    path=path,
                    tag=(op.get("tags") or ["(untagged)"])[0],
                    params=tuple(re.findall(r"{(\w+)}", path)),
                    query=tuple(p["name"] for p in parameters if p["in"] == "query"),
                    has_body="requestBody" in op,
                    upsert=method == "put" and "201" in op.get("responses", {}),
                )
            )
    return operations


# Bodies of the account-scoped creates, pointing at the victim's resources.
CREATE_BODIES: dict[str, Callable[[Tenant], dict[str, Any]]] = {
    "/v1/webhooks": lambda t: {"url": f"https://example.com/by-operator-{t.token}"},
    "/v1/events": lambda t: {"eventType": t.event_type, "eventData": {"by": "operator"}},
    "/v1/test-events": lambda t: {
        "webhookIds": [t.webhook_id],
        "eventType": t.event_type,
        "eventData": {"by": "operator"},
    },
    "/v1/api-keys": lambda t: {"name": "made by the operator"},
    "/v1/sources": lambda t: {
        "name": "made by the operator",
        "eventType": t.event_type,
        "authType": "api-key",
    },
    "/v1/users": lambda t: {"email": f"by-operator-{secrets.token_hex(4)}@example.com"},
    "/v1/pulls": lambda t: {
        "name": "made by the operator",
        "url": f"https://example.com/pull-by-operator-{t.token}",
        "frequency": "daily",
        "schedule": "02:30",
        "eventType": t.event_type,
    },
}


def _gaps(operations: list[Operation]) -> list[str]:
    """What the tables above do not say about an operation: each one is a test failure."""
    gaps = []
    for op in operations:
        if op.tag not in TAG_RESOURCE:
            gaps.append(f"{op}: tag {op.tag!r} has no entry in TAG_RESOURCE")
        gaps += [
            f"{op}: path parameter {{{p}}} has no id in PATH_IDS"
            for p in op.params
            if p not in PATH_IDS
        ]
        if op.params and op.has_body and (op.method, op.path) not in BODIES:
            gaps.append(f"{op}: takes a body but has none in BODIES")
        if op.is_account_create and op.path not in CREATE_BODIES:
            gaps.append(f"{op}: an account-scoped create without a body in CREATE_BODIES")
        if op.is_list:
            gaps += [
                f"{op}: id filter {q!r} has no entry in FILTERS"
                for q in op.query
                if q.endswith("Id") and q not in FILTERS
            ]
    return gaps


def _bindings(op: Operation, tenant: Tenant) -> list[dict[str, str]]:
    """Every way of filling the operation's path with the tenant's ids."""
    choices = [[(p, getattr(tenant, a)) for a in PATH_IDS[p]] for p in op.params]
    return [dict(combo) for combo in itertools.product(*choices)]


def _unknown_like(value: str) -> str:
    """An id of the same shape that exists nowhere."""
    tail = value[-8:]
    alphabets = ("0123456789abcdef", CROCKFORD, string.ascii_lowercase + string.digits)
    alphabet = next(a for a in alphabets if all(c in a for c in tail))
    while True:
        candidate = value[:-8] + "".join(secrets.choice(alphabet) for _ in range(8))
        if candidate != value:
            return candidate


# --- callers ---------------------------------------------------------------------------------


@dataclass
class Caller:
    name: str
    headers: dict[str, str]
    # resource -> level held; None: everything (secret and operator keys).
    held: dict[str, str] | None = None
    # Only operations of these resources / methods (restricted keys); None: all.
    resources: set[str] | None = None
    methods: set[str] | None = None
    operator: bool = False

    def covers(self, op: Operation) -> bool:
        if self.operator and op.tag in OPERATOR_TAGS:
            return False  # the operator manages every account: not an isolation question
        if self.resources is not None and op.resource not in self.resources:
            return False
        return self.methods is None or op.method in self.methods

    def lacks(self, permission: str) -> bool:
        """Whether a 403 naming ``permission`` ("resource:level") is a fair answer."""
        if self.held is None:
            return False
        resource, _, level = permission.partition(":")
        rank = {"none": 0, "read": 1, "write": 2}
        return rank.get(self.held.get(resource, "none"), 0) < rank.get(level, 3)


@dataclass
class World:
    http: httpx.Client
    rx: Receiver
    a: Tenant
    b: Tenant
    operations: list[Operation]
    operator_key: str

    def operator(self, account: Tenant | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.operator_key}"}
        if account is not None:
            headers["Tidings-Account"] = account.account_id
        return headers

    def secret_caller(self) -> Caller:
        return Caller("A's secret key", self.a.headers)

    def operator_caller(self, account: Tenant) -> Caller:
        return Caller(
            f"operator acting for {account.label.upper()}",
            self.operator(account),
            operator=True,
        )

    def restricted_callers(self, levels: tuple[str, ...] = ("read", "write")) -> list[Caller]:
        """A's restricted keys: per resource, one holding each level (write implies read)."""
        callers = []
        resources = sorted({op.resource for op in self.operations if op.resource})
        for resource in resources:
            for level in levels:
                created = self.http.post(
                    "/v1/api-keys",
                    headers=self.a.headers,
                    json={
                        "name": f"{resource}-{level}",
                        "type": "restricted",
                        "permissions": {resource: level},
                    },
                )
                key = _ok(created, 201)["key"]
                callers.append(
                    Caller(
                        f"A's restricted key {resource}:{level}",
                        {"X-Api-Key": key},
                        held={resource: level},
                        resources={resource},
                        methods={"GET"} if level == "read" else None,
                    )
                )
        return callers


@pytest.fixture(scope="session")
def spec(server: RunningServer) -> dict[str, Any]:
    response = httpx.get(f"{server.base_url}/openapi.json", timeout=30)
    return _ok(response, 200)


@pytest.fixture
def world(server: RunningServer, spec: dict[str, Any]) -> Iterator[World]:
    with Receiver() as rx, httpx.Client(base_url=server.base_url, timeout=30) as http:
        a = _make_tenant(http, server, rx, "a")
        b = _make_tenant(http, server, rx, "b")
        yield World(http, rx, a, b, _operations(spec), server.operator_key)


# --- checks ----------------------------------------------------------------------------------


def _text(response: httpx.Response) -> str:
    """The answer as a user sees it: body and headers."""
    headers = "\n".join(f"{k}: {v}" for k, v in response.headers.items())
    return f"{response.text}\n{headers}"


def _text_leaks(text: str, victim: Tenant, echo: tuple[str, ...] = ()) -> list[str]:
    """Names of the victim's markers in ``text``, but for what the caller itself sent (the
    id in the URL, a filter value)."""
    return [
        name
        for name, value in victim.markers.items()
        if value in text and not any(value in sent for sent in echo)
    ]


def _leaks(response: httpx.Response, victim: Tenant, echo: tuple[str, ...] = ()) -> list[str]:
    return _text_leaks(_text(response), victim, echo)


def _normalised(response: httpx.Response, binding: dict[str, str]) -> tuple[int, str]:
    text = response.text
    for param, value in binding.items():
        text = text.replace(value, f"<{param}>")
    return response.status_code, text


def _error_problem(response: httpx.Response, status: int) -> str | None:
    """Why the answer is not the error JSON of ``status``, or None."""
    if response.status_code != status:
        return f"answered {response.status_code}, expected {status}"
    try:
        error = response.json()["error"]
    except (ValueError, KeyError, TypeError):
        return f"answered {status} without the error JSON"
    if error.get("type") != ERROR_TYPES[status] or not isinstance(error.get("message"), str):
        return f"error JSON is not {{type: {ERROR_TYPES[status]!r}, message}}"
    return None


def _expected_status(op: Operation, caller: Caller, response: httpx.Response) -> int:
    if op.tag in OPERATOR_TAGS:
        return 403  # every account key, every id: the call is the operator's
    if response.status_code == 403:
        try:
            permission = response.json()["error"]["details"][0]["message"]
        except (ValueError, KeyError, IndexError, TypeError):
            permission = ""
        if caller.lacks(permission):
            return 403  # the key does not hold what the call needs, whatever the id
    return 404


def _probe(http: httpx.Client, caller: Caller, op: Operation, victim: Tenant) -> list[str]:
    """Call ``op`` on the victim's ids as ``caller``: what is wrong with the answers."""
    problems = []
    body = BODIES.get((op.method, op.path))
    for binding in _bindings(op, victim):
        url = op.path.format(**binding)
        unknown = {param: _unknown_like(value) for param, value in binding.items()}
        got = http.request(op.method, url, headers=caller.headers, json=body)
        ref = http.request(op.method, op.path.format(**unknown), headers=caller.headers, json=body)
        where = f"{caller.name}: {op.method} {url} ({op.path})"
        owner = victim.label.upper()
        leaks = _leaks(got, victim, tuple(binding.values()))
        if leaks:
            problems.append(
                f"{where} -> {got.status_code} shows {owner}'s {leaks}: {got.text[:400]}"
            )
        status = _expected_status(op, caller, got)
        wrong = _error_problem(got, status)
        if wrong:
            problems.append(f"{where} {wrong}: {got.text[:400]}")
        elif _normalised(got, binding) != _normalised(ref, unknown):
            problems.append(
                f"{where} answers unlike an id that exists nowhere: "
                f"{got.status_code} {got.text[:200]} vs {ref.status_code} {ref.text[:200]}"
            )
        if op.method == "GET" and op.tag not in OPERATOR_TAGS:
            # The control: the owner reaches the same URL, so the 404 above is about whose it is.
            own = http.get(url, headers=victim.headers)
            if own.status_code != 200:
                problems.append(f"control: {owner}'s own key on {url} -> {own.status_code}")
    return problems


def _all_pages(
    http: httpx.Client,
    path: str,
    headers: dict[str, str],
    params: dict[str, str] | None = None,
) -> tuple[httpx.Response, list[dict[str, Any]], str]:
    """Every page of a list: the last response, every item and the text of every page."""
    items: list[dict[str, Any]] = []
    texts: list[str] = []
    cursor = None
    while True:
        query: dict[str, Any] = {**(params or {}), "limit": 250}
        if cursor:
            query["cursor"] = cursor
        response = http.get(path, headers=headers, params=query)
        texts.append(_text(response))
        if response.status_code != 200:
            return response, items, "\n".join(texts)
        page = response.json()
        items += page["data"]
        cursor = page["nextCursor"]
        if cursor is None:
            return response, items, "\n".join(texts)


SNAPSHOT_LISTS = (
    "/v1/webhooks",
    "/v1/events",
    "/v1/notifications",
    "/v1/api-keys",
    "/v1/sources",
    "/v1/users",
    "/v1/pulls",
)


def _snapshot(world: World, t: Tenant) -> dict[str, Any]:
    """What the tenant sees of its resources (the key's lastUsedAt aside), and what its
    receiver got."""
    shot: dict[str, Any] = {}
    for path in (
        f"/v1/webhooks/{t.webhook_id}",
        f"/v1/webhooks/{t.webhook_id}/secret",
        f"/v1/event-types/{t.event_type}",
        f"/v1/events/{t.event_id}",
        f"/v1/notifications/{t.notification_id}",
        f"/v1/api-keys/{t.key_id}",
        f"/v1/api-keys/{t.extra_key_id}",
        f"/v1/logs/{t.log_id}",
        f"/v1/sources/{t.source_id}",
        f"/v1/pulls/{t.pull_id}",
        f"/v1/pulls/{t.pull_id}/runs",
    ):
        response = world.http.get(path, headers=t.headers)
        body = response.json()
        if isinstance(body, dict):
            body.pop("lastUsedAt", None)
        shot[path] = (response.status_code, body)
    for path in SNAPSHOT_LISTS:
        response, items, _ = _all_pages(world.http, path, t.headers)
        shot[path] = (response.status_code, sorted(item["id"] for item in items))
    response, items, _ = _all_pages(
        world.http, "/v1/event-types", t.headers, {"includeArchived": "true"}
    )
    shot["/v1/event-types"] = (
        response.status_code,
        sorted(item["name"] for item in items if item["scope"] == "account"),
    )
    shot["deliveries"] = _deliveries(world.rx, t)
    return shot


def _deliveries(rx: Receiver, t: Tenant) -> int:
    return sum(1 for request in list(rx.requests) if request.path == t.hook_path)


def _changes(before: dict[str, Any], after: dict[str, Any], who: str) -> list[str]:
    return [
        f"{who}'s {key} changed: {before[key]} -> {after.get(key)}"
        for key in before
        if before[key] != after.get(key)
    ]


# --- the tests -------------------------------------------------------------------------------


def test_every_operation_is_in_the_tables(spec: dict[str, Any]) -> None:
    operations = _operations(spec)
    assert not _gaps(operations), "\n".join(_gaps(operations))
    with_ids = [op for op in operations if op.params]
    # The routes of DESIGN §5 that exist today are all seen (the table is not empty by mistake).
    assert {"webhook_id", "event_id", "notification_id", "key_id", "log_id", "name"} <= {
        p for op in with_ids for p in op.params
    }


CALLER_KINDS = ("secret key", "restricted keys", "operator acting for A")


@pytest.mark.parametrize("kind", CALLER_KINDS)
def test_another_accounts_ids_answer_404(world: World, kind: str) -> None:
    assert not _gaps(world.operations), "\n".join(_gaps(world.operations))
    if kind == "secret key":
        callers = [world.secret_caller()]
    elif kind == "restricted keys":
        callers = world.restricted_callers()
    else:
        callers = [world.operator_caller(world.a)]
    before = _snapshot(world, world.b)
    problems: list[str] = []
    probed: set[str] = set()
    for caller in callers:
        for op in world.operations:
            if op.params and not op.upsert and caller.covers(op):
                problems += _probe(world.http, caller, op, world.b)
                probed.add(str(op))
    time.sleep(0.5)  # a resend or replay that got through would reach B's receiver by now
    problems += _changes(before, _snapshot(world, world.b), "B")
    assert not problems, "\n".join(problems)
    expected = {
        str(op)
        for op in world.operations
        if op.params
        and not op.upsert
        # The operator's own routes: for account keys; restricted keys cover their resource.
        and (op.tag not in OPERATOR_TAGS or kind == "secret key")
    }
    assert probed == expected, f"not probed: {sorted(expected - probed)}"


def test_put_on_another_accounts_event_type_name_makes_ones_own(world: World) -> None:
    """An upsert on a name B uses creates A's own type: B's is neither shown nor touched."""
    upserts = [op for op in world.operations if op.upsert]
    assert [str(op) for op in upserts] == ["PUT /v1/event-types/{name}"]
    before = _snapshot(world, world.b)
    for op in upserts:
        for binding in _bindings(op, world.b):
            url = op.path.format(**binding)
            body = BODIES[(op.method, op.path)]
            response = world.http.put(url, headers=world.a.headers, json=body)
            assert response.status_code == 201, response.text
            assert not _leaks(response, world.b, tuple(binding.values())), response.text
            created = response.json()
            assert created["scope"] == "account"
            assert created["description"] == body["description"]
            assert created["category"] is None
            assert created["schema"] is None
    assert _changes(before, _snapshot(world, world.b), "B") == []
    theirs = _ok(
        world.http.get(f"/v1/event-types/{world.b.event_type}", headers=world.b.headers), 200
    )
    assert theirs["description"] == f"b-type-description-{world.b.token}"


def test_lists_never_show_another_accounts_rows(world: World) -> None:
    a, b, http = world.a, world.b, world.http
    lists = [op for op in world.operations if op.is_list]
    assert {op.path for op in lists} >= {
        "/v1/webhooks",
        "/v1/events",
        "/v1/event-types",
        "/v1/notifications",
        "/v1/logs",
        "/v1/api-keys",
    }
    callers = [
        world.secret_caller(),
        *world.restricted_callers(("read",)),
        world.operator_caller(a),
    ]
    problems: list[str] = []
    for op in lists:
        # The control: B's own view of each list shows B's rows, so the markers are live.
        response, _, text = _all_pages(http, op.path, b.headers)
        if response.status_code != 200 or not _text_leaks(text, b):
            problems.append(f"control: B's own {op.path} -> {response.status_code}, no B rows")
        for caller in callers:
            if not caller.covers(op):
                continue
            response, items, text = _all_pages(http, op.path, caller.headers)
            if response.status_code != 200:
                problems.append(f"{caller.name}: GET {op.path} -> {response.status_code}")
            elif not items:
                problems.append(f"{caller.name}: GET {op.path} shows not even A's own rows")
            leaks = _text_leaks(text, b)
            if leaks:
                problems.append(f"{caller.name}: GET {op.path} shows B's {leaks}")

    # Filters pointing at B's ids and names: B finds its rows, A finds nothing.
    filtered: set[tuple[str, str]] = set()
    for op in lists:
        for name in op.query:
            if name not in FILTERS:
                continue
            value = getattr(b, FILTERS[name])
            filtered.add((op.path, name))
            _, mine, _ = _all_pages(http, op.path, b.headers, {name: value})
            if not mine:
                problems.append(f"control: B's own GET {op.path}?{name}=<B's> is empty")
            for caller in callers:
                if not caller.covers(op):
                    continue
                response, items, text = _all_pages(http, op.path, caller.headers, {name: value})
                if response.status_code != 200 or items:
                    problems.append(
                        f"{caller.name}: GET {op.path}?{name}=<B's {FILTERS[name]}> -> "
                        f"{response.status_code} with {len(items)} rows: {text[:300]}"
                    )
                leaks = _text_leaks(text, b, (value,))
                if leaks:
                    problems.append(f"{caller.name}: GET {op.path}?{name}=… shows B's {leaks}")
    assert {
        ("/v1/notifications", "webhookId"),
        ("/v1/notifications", "eventId"),
        ("/v1/events", "logId"),
        ("/v1/events", "eventType"),
    } <= filtered

    # A's key naming B's account answers as for an account that exists nowhere.
    nowhere = _unknown_like(b.account_id)
    for op in lists:
        got = http.get(op.path, headers={**a.headers, "Tidings-Account": b.account_id})
        ref = http.get(op.path, headers={**a.headers, "Tidings-Account": nowhere})
        wrong = _error_problem(got, 404)
        if wrong:
            problems.append(f"A's key with Tidings-Account: B on GET {op.path} {wrong}")
        elif _normalised(got, {"account": b.account_id}) != _normalised(ref, {"account": nowhere}):
            problems.append(f"A's key with Tidings-Account: B on GET {op.path} unlike unknown")
        leaks = _leaks(got, b, (b.account_id,))
        if leaks:
            problems.append(f"A's key with Tidings-Account: B on GET {op.path} shows {leaks}")
    assert not problems, "\n".join(problems)


def test_a_test_event_naming_another_accounts_webhook_is_a_404(world: World) -> None:
    a, b, http = world.a, world.b, world.http
    before_a, before_b = _snapshot(world, a), _snapshot(world, b)
    for webhook_ids, index in (([b.webhook_id], 0), ([a.webhook_id, b.webhook_id], 1)):
        body = {"webhookIds": webhook_ids, "eventType": a.event_type, "eventData": {}}
        response = http.post("/v1/test-events", headers=a.headers, json=body)
        assert _error_problem(response, 404) is None, response.text
        error = response.json()["error"]
        assert error["details"][0]["field"] == f"webhookIds[{index}]"
        assert b.webhook_id in error["message"]
        assert not _leaks(response, b, (b.webhook_id,)), response.text
        nowhere = _unknown_like(b.webhook_id)
        ref = http.post(
            "/v1/test-events",
            headers=a.headers,
            json={**body, "webhookIds": [*webhook_ids[:-1], nowhere]},
        )
        assert response.json() == {
            "error": {
                **ref.json()["error"],
                "message": ref.json()["error"]["message"].replace(nowhere, b.webhook_id),
                "details": [
                    {**d, "message": d["message"].replace(nowhere, b.webhook_id)}
                    for d in ref.json()["error"]["details"]
                ],
            }
        }
    time.sleep(0.5)
    # Nothing was published, for A (not even to A's own webhook) nor for B.
    assert _changes(before_a, _snapshot(world, a), "A") == []
    assert _changes(before_b, _snapshot(world, b), "B") == []


def test_actions_on_another_accounts_ids_are_404_and_change_nothing(world: World) -> None:
    """replay, roll, resend, enable, revoke: each a 404 for A, and B sees no difference."""
    a, b, http = world.a, world.b, world.http
    _ok(http.post(f"/v1/webhooks/{b.webhook_id}/disable", headers=b.headers), 200)
    before = _snapshot(world, b)
    since = {"since": "2000-01-01T00:00:00Z", "status": "all"}
    for method, path, body in (
        ("POST", f"/v1/webhooks/{b.webhook_id}/enable", None),
        ("POST", f"/v1/webhooks/{b.webhook_id}/replay", since),
        ("POST", f"/v1/webhooks/{b.webhook_id}/secret/roll", {"expiresIn": "now"}),
        ("GET", f"/v1/webhooks/{b.webhook_id}/secret", None),
        ("POST", f"/v1/notifications/{b.notification_id}/resend", None),
        ("POST", f"/v1/api-keys/{b.extra_key_id}/roll", {"expiresIn": "now"}),
        ("DELETE", f"/v1/api-keys/{b.extra_key_id}", None),
        ("DELETE", f"/v1/webhooks/{b.webhook_id}", None),
    ):
        response = http.request(method, path, headers=a.headers, json=body)
        assert _error_problem(response, 404) is None, f"{method} {path}: {response.text}"
        assert not _leaks(response, b, (path,)), f"{method} {path}: {response.text}"
    time.sleep(0.5)
    assert _changes(before, _snapshot(world, b), "B") == []
    webhook = _ok(http.get(f"/v1/webhooks/{b.webhook_id}", headers=b.headers), 200)
    assert (webhook["status"], webhook["disabledReason"]) == ("Disabled", "manual")
    secret = _ok(http.get(f"/v1/webhooks/{b.webhook_id}/secret", headers=b.headers), 200)
    assert secret["secret"] == b.webhook_secret
    notification = _ok(http.get(f"/v1/notifications/{b.notification_id}", headers=b.headers), 200)
    assert (notification["status"], notification["attemptCount"]) == ("succeeded", 1)
    # B's extra key was neither rolled nor revoked: it still works, with no expiry.
    assert http.get("/v1/webhooks", headers={"X-Api-Key": b.extra_key}).status_code == 200
    key = _ok(http.get(f"/v1/api-keys/{b.extra_key_id}", headers=b.headers), 200)
    assert (key["status"], key["expiresAt"], key["revokedAt"]) == ("active", None, None)


def test_operator_key_without_account_cannot_create_or_change_account_resources(
    world: World,
) -> None:
    a, b, http = world.a, world.b, world.http
    creates = [op for op in world.operations if op.is_account_create]
    assert {op.path for op in creates} >= {
        "/v1/webhooks",
        "/v1/events",
        "/v1/test-events",
        "/v1/api-keys",
    }
    changes = [
        op
        for op in world.operations
        if op.params
        and op.method != "GET"
        and op.resource is not None
        and op.tag not in GLOBAL_CATALOG_TAGS
    ]
    before_a, before_b = _snapshot(world, a), _snapshot(world, b)
    problems: list[str] = []
    calls: list[tuple[Operation, str, dict[str, Any] | None]] = [
        (op, op.path, CREATE_BODIES[op.path](b)) for op in creates
    ]
    calls += [
        (op, op.path.format(**binding), BODIES.get((op.method, op.path)))
        for op in changes
        for binding in _bindings(op, b)
    ]
    for op, url, body in calls:
        response = http.request(op.method, url, headers=world.operator(), json=body)
        wrong = _error_problem(response, 400)
        if wrong:
            problems.append(f"operator, no Tidings-Account: {op.method} {url} {wrong}")
            continue
        error = response.json()["error"]
        if "Tidings-Account" not in error["message"] or [
            d.get("field") for d in error["details"]
        ] != ["Tidings-Account"]:
            problems.append(f"{op.method} {url}: 400 not naming Tidings-Account: {error}")
    time.sleep(0.5)
    problems += _changes(before_a, _snapshot(world, a), "A")
    problems += _changes(before_b, _snapshot(world, b), "B")
    assert not problems, "\n".join(problems)


def test_operator_event_type_without_account_goes_to_the_global_catalog(world: World) -> None:
    a, b, http = world.a, world.b, world.http
    name = f"global.isolation.{secrets.token_hex(6)}"
    created = http.post(
        "/v1/event-types",
        headers=world.operator(),
        json={"name": name, "description": "the operator's"},
    )
    try:
        assert _ok(created, 201)["scope"] == "global"
        for tenant in (a, b):
            seen = _ok(http.get(f"/v1/event-types/{name}", headers=tenant.headers), 200)
            assert seen["scope"] == "global"
            _, items, _ = _all_pages(http, "/v1/event-types", tenant.headers)
            assert [i["scope"] for i in items if i["name"] == name] == ["global"]
            # An account reads the catalog but cannot change it for everyone.
            patched = http.patch(
                f"/v1/event-types/{name}", headers=tenant.headers, json={"description": "mine"}
            )
            assert patched.status_code == 403, patched.text
        assert (
            _ok(http.get(f"/v1/event-types/{name}", headers=world.operator()), 200)["description"]
            == "the operator's"
        )
        # With Tidings-Account the same call makes the account's own type, seen by it alone.
        own = f"{name}.b"
        made = http.post("/v1/event-types", headers=world.operator(b), json={"name": own})
        assert _ok(made, 201)["scope"] == "account"
        assert http.get(f"/v1/event-types/{own}", headers=b.headers).status_code == 200
        assert _error_problem(http.get(f"/v1/event-types/{own}", headers=a.headers), 404) is None
        assert http.get(f"/v1/event-types/{own}", headers=world.operator()).status_code == 404
    finally:
        # Archive the catalog type: other tests' accounts see the catalog too.
        http.delete(f"/v1/event-types/{name}", headers=world.operator())


def test_operator_acting_for_an_account_sees_only_that_account(world: World) -> None:
    assert not _gaps(world.operations), "\n".join(_gaps(world.operations))
    a, b, http = world.a, world.b, world.http
    as_b = world.operator_caller(b)
    expected = {
        "/v1/webhooks": {b.webhook_id},
        "/v1/events": {b.event_id},
        "/v1/notifications": {b.notification_id},
        "/v1/api-keys": {b.key_id, b.extra_key_id},
    }
    problems: list[str] = []
    for op in (op for op in world.operations if op.is_list):
        response, items, text = _all_pages(http, op.path, as_b.headers)
        if response.status_code != 200:
            problems.append(f"{as_b.name}: GET {op.path} -> {response.status_code}")
        if not _text_leaks(text, b):
            problems.append(f"{as_b.name}: GET {op.path} shows none of B's rows")
        leaks = _text_leaks(text, a)
        if leaks:
            problems.append(f"{as_b.name}: GET {op.path} shows A's {leaks}")
        if op.path in expected and {i["id"] for i in items} != expected[op.path]:
            problems.append(f"{as_b.name}: GET {op.path} ids {[i['id'] for i in items]}")
        if op.path == "/v1/logs" and {i["accountId"] for i in items} != {b.account_id}:
            problems.append(f"{as_b.name}: GET /v1/logs shows accounts {items}")
    for op in world.operations:
        if op.params and not op.upsert and as_b.covers(op):
            problems += [p.replace("B's", "A's") for p in _probe(http, as_b, op, a)]
    assert not problems, "\n".join(problems)


def test_same_names_urls_and_idempotency_keys_in_two_accounts_do_not_meet(world: World) -> None:
    """What B uses is free for A: no 409 that would reveal it, no replay of B's event, and
    A's events reach A's webhooks only."""
    a, b, http = world.a, world.b, world.http
    # An event type of the name B uses: A's own.
    own_type = http.post(
        "/v1/event-types",
        headers=a.headers,
        # In A's category: A's webhook takes its category's types.
        json={"name": b.event_type, "description": "A's", "category": a.category},
    )
    assert _ok(own_type, 201)["scope"] == "account"
    assert not _leaks(own_type, b, (b.event_type,)), own_type.text
    # The same Idempotency-Key and body in both accounts: two events.
    body = {"eventType": b.event_type, "eventData": {"same": "body"}}
    shared = {"Idempotency-Key": f"shared-{secrets.token_hex(4)}"}
    theirs = _ok(http.post("/v1/events", headers={**b.headers, **shared}, json=body), 202)
    _wait_succeeded(http, b.key, theirs["notifications"][0]["id"])
    b_deliveries = _deliveries(world.rx, b)
    a_deliveries = _deliveries(world.rx, a)
    mine = http.post("/v1/events", headers={**a.headers, **shared}, json=body)
    assert mine.status_code == 202, mine.text
    assert "Idempotent-Replayed" not in mine.headers
    assert mine.json()["id"] != theirs["id"]
    assert not _leaks(mine, b, (b.event_type,)), mine.text
    assert [n["webhookId"] for n in mine.json()["notifications"]] == [a.webhook_id]
    _wait_succeeded(http, a.key, mine.json()["notifications"][0]["id"])
    assert _deliveries(world.rx, a) == a_deliveries + 1
    time.sleep(0.5)
    assert _deliveries(world.rx, b) == b_deliveries
    # A webhook at B's very URL: allowed for A (URLs are unique per account only).
    same_url = http.post(
        "/v1/webhooks", headers=a.headers, json={"url": b.webhook_url, "status": "Disabled"}
    )
    assert same_url.status_code == 201, same_url.text
    assert same_url.json()["id"] != b.webhook_id
    _, b_hooks, _ = _all_pages(http, "/v1/webhooks", b.headers)
    assert [h["id"] for h in b_hooks] == [b.webhook_id]
