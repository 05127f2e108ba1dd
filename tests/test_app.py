"""How the application routes requests (tidings/app.py)."""

from __future__ import annotations

from starlette.routing import Match

from tidings.app import create_app
from tidings.config import Settings


def _first_match(method: str, path: str) -> int:
    """Where, among the application's top-level routes, the one serving ``path`` stands."""
    app = create_app(Settings(), run_worker=False)
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "headers": []}
    return next(
        i for i, route in enumerate(app.router.routes) if route.matches(scope)[0] == Match.FULL
    )


def test_publishing_and_inbound_webhooks_are_matched_before_the_rest() -> None:
    # Each router a request passes costs several microseconds: the paths partners call
    # thousands of times a second come first (after FastAPI's own /openapi.json).
    assert _first_match("POST", "/v1/events") <= 1
    assert _first_match("POST", "/in/src_1") <= 2


def test_the_api_is_matched_before_the_pages() -> None:
    assert _first_match("GET", "/v1/webhooks") < _first_match("GET", "/dashboard/login")
    assert _first_match("GET", "/v1/webhooks") < _first_match("GET", "/docs")
