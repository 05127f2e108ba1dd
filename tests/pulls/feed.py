"""A partner's feed on loopback, as a pull reads it: basic auth, records in pages linked by
``Link: <…>; rel="next"``, an ``ETag`` answered with 304 while nothing changed, and modes
that fail (500) or answer too slowly. It counts every request it is sent."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    at: float = field(default_factory=time.monotonic)


class Feed:
    """``records`` served ``page_size`` at a time at ``/records`` as ``{"data": [...]}``;
    ``mode`` is ``ok``, ``fail`` (500), ``empty`` (204), ``redirect`` (302) or ``slow``
    (waits ``delay`` seconds first)."""

    def __init__(
        self,
        records: list[dict[str, Any]] | None = None,
        *,
        page_size: int = 2,
        username: str = "partner",
        password: str = "feed-password-1",
        delay: float = 0.0,
    ) -> None:
        self.records = list(records or [])
        self.page_size = page_size
        self.username = username
        self.password = password
        self.mode = "ok"
        self.delay = delay
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/records"

    def etag(self) -> str:
        digest = hashlib.sha256(json.dumps(self.records, sort_keys=True).encode()).hexdigest()
        return f'"{digest[:16]}"'

    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def __enter__(self) -> Feed:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        feed = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: object) -> None:
                pass

            def do_GET(self) -> None:
                with feed._lock:
                    feed.requests.append(Request(self.path, dict(self.headers.items())))
                if feed.mode == "slow":
                    time.sleep(feed.delay)
                if feed.mode == "fail":
                    return self._send(500, {"error": "the feed is down"})
                if feed.mode == "empty":
                    return self._send(204, None)
                if feed.mode == "redirect":
                    return self._send(302, {}, {"Location": "/records?moved=1"})
                expected = base64.b64encode(f"{feed.username}:{feed.password}".encode()).decode()
                if self.headers.get("Authorization") != f"Basic {expected}":
                    return self._send(401, {"error": "unauthorized"})
                etag = feed.etag()
                if self.headers.get("If-None-Match") == etag:
                    return self._send(304, None, {"ETag": etag})
                page = int(parse_qs(urlsplit(self.path).query).get("page", ["1"])[0])
                start = (page - 1) * feed.page_size
                chunk = feed.records[start : start + feed.page_size]
                headers = {"ETag": etag}
                if start + feed.page_size < len(feed.records):
                    # Relative, as partners often write it.
                    headers["Link"] = f'</records?page={page + 1}>; rel="next"'
                return self._send(200, {"data": chunk}, headers)

            def _send(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
                raw = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                if status not in (204, 304):
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                if raw:
                    self.wfile.write(raw)

        return Handler
