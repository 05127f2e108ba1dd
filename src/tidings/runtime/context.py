"""What a running Tidings process shares between the API and the worker."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from aiohttp.abc import AbstractResolver

from tidings.config import Settings
from tidings.core.clock import Clock
from tidings.core.crypto import Keyring
from tidings.core.rate_limit import TokenBuckets
from tidings.runtime.handoff import Handoff
from tidings.runtime.key_cache import KeyCache
from tidings.runtime.key_usage import KeyUsage
from tidings.runtime.publisher import Publisher
from tidings.runtime.route_cache import RouteCache
from tidings.store.db import Database
from tidings.store.log_writer import LogWriter


@dataclass
class Context:
    settings: Settings
    db: Database
    # Encrypts and decrypts secrets at rest (see master_key.py).
    keyring: Keyring
    clock: Clock = field(default_factory=Clock)
    key_usage: KeyUsage = field(default_factory=KeyUsage)
    # The API log's write buffer (api/middleware/request_log.py fills it).
    request_log: LogWriter = field(default_factory=LogWriter)
    # Called after new notifications commit, so an idle worker starts at once.
    wake_worker: Callable[[], None] = lambda: None
    # Per-key request rate limit (set from the settings at start).
    key_buckets: TokenBuckets = field(default_factory=lambda: TokenBuckets(0, 1))
    # When this process's worker last went round its loop (time.monotonic); None: no worker.
    worker_heartbeat: float | None = None
    # Name resolution for deliveries (tests swap in a resolver whose answers they control).
    resolver: AbstractResolver | None = None
    # API keys as last authenticated (runtime/key_cache.py).
    keys: KeyCache = field(default_factory=KeyCache)
    # Where each account's events go, as last looked up (runtime/route_cache.py).
    routes: RouteCache = field(default_factory=RouteCache)
    # Set when the process begins to stop: open streams (tidings listen) end.
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    # This process's worker, when publishing may hand it notifications (delivery/handoff.py).
    handoff: Handoff | None = None
    # Publishing's writes, committed in groups (runtime/publisher.py).
    publisher: Publisher = field(init=False)

    def __post_init__(self) -> None:
        self.publisher = Publisher(self.db, self.clock)
