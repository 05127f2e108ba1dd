"""Every operation of the served OpenAPI document has a method in the Python client, in both
its sync and async forms (each method marks the operation it calls with ``@route``)."""

from __future__ import annotations

import inspect

import httpx
import tidings_client
from tidings_client import AsyncTidings, Tidings

from tests.support.server import RunningServer


def _served_operations(server: RunningServer) -> set[tuple[str, str]]:
    document = httpx.get(f"{server.base_url}/openapi.json", timeout=30).json()
    operations = set()
    for path, methods in document["paths"].items():
        for method in methods:
            if method in ("get", "post", "put", "patch", "delete"):
                operations.add((method.upper(), path))
    return operations


def _template(path: str) -> str:
    """Path parameters by position: ``/v1/webhooks/{webhook_id}`` == ``/v1/webhooks/{x}``."""
    return "/".join("{}" if part.startswith("{") else part for part in path.split("/"))


def test_every_served_operation_has_a_client_method(server: RunningServer) -> None:
    served = _served_operations(server)
    assert ("POST", "/v1/events") in served  # the document is the one expected
    for client_class in (Tidings, AsyncTidings):
        covered = {(m, _template(p)) for m, p in tidings_client.routes(client_class)}
        missing = sorted(f"{m} {p}" for m, p in served if (m, _template(p)) not in covered)
        assert not missing, f"{client_class.__name__} has no method for: {', '.join(missing)}"


def test_every_marked_method_exists_on_both_clients(server: RunningServer) -> None:
    """The marks name real methods: each is an attribute of each client's resource."""
    sync = Tidings(server.operator_key, server.base_url)
    asynchronous = AsyncTidings(server.operator_key, server.base_url)
    for name in tidings_client.routes().values():
        resource, method = name.split(".")
        for client in (sync, asynchronous):
            assert inspect.ismethod(getattr(getattr(client, resource), method)), name
    sync.close()
