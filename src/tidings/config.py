"""Settings: every knob is a ``TIDINGS_*`` environment variable; CLI flags override them."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from tidings.core.addresses import AddressPolicy
from tidings.core.durations import parse_duration

DEFAULT_RETRY_SCHEDULE = "5s,1m,5m,15m,1h,3h,6h,12h,24h"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TIDINGS_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("tidings-data")
    # Empty means the embedded SQLite file in ``data_dir``.
    database_url: str = ""
    # What this process runs: the API, the delivery worker, the scheduler, or all three.
    role: Literal["api", "worker", "scheduler", "all"] = "all"
    log_level: Literal["debug", "info", "warning", "error", "critical"] = "info"

    # A known operator key to install at start (automation); otherwise one is generated once.
    operator_key: str | None = None
    # The master key that encrypts secrets at rest (32 bytes, base64); when unset, a key file
    # is made in the data directory. Older keys still decrypt during a rotation.
    master_key: str | None = None
    previous_master_keys: Annotated[list[str], NoDecode] = Field(default_factory=list)

    # Delivery.
    brand: str = "Tidings"
    # Delays between attempts, after the first immediate one.
    retry_schedule: Annotated[list[float], NoDecode] = Field(
        default_factory=lambda: _parse_schedule(DEFAULT_RETRY_SCHEDULE)
    )
    retry_jitter: float = 0.2
    delivery_timeout: float = 15.0
    allow_private_networks: bool = False
    # CIDRs deliveries may reach although private, e.g. "10.1.0.0/16,fd12::/16".
    allowed_networks: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Production: refuse plain http:// webhook URLs.
    require_https: bool = False
    # Requests in flight per worker, across all webhooks.
    worker_concurrency: int = 128
    worker_batch_size: int = 256
    worker_poll_interval: float = 1.0
    # How long a claimed notification stays leased before another worker may take it (a
    # crashed worker's notifications are delivered again after this).
    lease_seconds: float = Field(default=60.0, gt=0)
    # On SIGTERM/SIGINT, how long in-flight deliveries may finish before their leases are
    # handed back unsent.
    shutdown_grace: float = Field(default=10.0, ge=0)
    # Requests in flight to one webhook, across every worker sharing the database: a slow
    # receiver cannot take them all.
    webhook_concurrency: int = Field(default=32, ge=1)
    # Circuit breaker: after this many failures in a row a webhook's notifications wait
    # (keeping their attempts) while one probe per interval tests the receiver.
    breaker_threshold: int = Field(default=10, ge=1)
    breaker_probe_interval: float = Field(default=30.0, gt=0)
    # Auto-disable: a webhook whose every attempt failed for this long (seconds), with at
    # least this many failures, is Disabled with disabledReason "failing".
    auto_disable_after: float = Field(default=5 * 86400.0, gt=0)
    auto_disable_min_failures: int = Field(default=10, ge=1)

    # The address partners reach this deployment at: the base of each source's ingest URL
    # ("<public_url>/in/src_…"). Empty means the served address (http://host:port).
    public_url: str = ""
    # Pulls: the most one run reads (each page), the pages it follows by Link rel="next", how
    # often a worker looks for due pulls, and after how many failed runs in a row a pull is
    # disabled (disabledReason "failing").
    pull_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    pull_max_pages: int = Field(default=10, ge=1)
    pull_poll_interval: float = Field(default=5.0, gt=0)
    pull_disable_after: int = Field(default=5, ge=1)

    # API limits.
    max_body_bytes: int = 256 * 1024
    # Requests per second per API key (token bucket, per process); 0 turns it off.
    key_rate_limit: float = Field(default=1000.0, ge=0)
    key_rate_burst: float = Field(default=2000.0, ge=1)
    max_webhooks_per_account: int = Field(default=100, ge=1)
    max_event_types_per_webhook: int = Field(default=500, ge=1)
    max_headers_per_webhook: int = Field(default=50, ge=0)
    # Deepest nesting accepted in event data (objects and arrays).
    max_json_depth: int = 64

    # Retention, in days (0 keeps forever), applied by the scheduler every retention_interval
    # seconds (a duration such as "1h" is accepted).
    log_retention_days: float = Field(default=30, ge=0)
    attempt_retention_days: float = Field(default=30, ge=0)
    event_retention_days: float = Field(default=30, ge=0)
    retention_interval: float = Field(default=3600.0, ge=0)

    @field_validator("breaker_probe_interval", "auto_disable_after", mode="before")
    @classmethod
    def _duration(cls, value: object) -> object:
        return parse_duration(value) if isinstance(value, str) else value

    @field_validator("previous_master_keys", mode="before")
    @classmethod
    def _keys(cls, value: object) -> object:
        if isinstance(value, str):
            return [v.strip() for v in value.split(",") if v.strip()]
        return value

    @field_validator("allowed_networks", mode="before")
    @classmethod
    def _networks(cls, value: object) -> object:
        items = (
            [v.strip() for v in value.split(",") if v.strip()] if isinstance(value, str) else value
        )
        for item in items if isinstance(items, list) else []:
            ipaddress.ip_network(item, strict=False)  # a ValueError names the bad one
        return items

    @field_validator("log_level", mode="before")
    @classmethod
    def _level(cls, value: object) -> object:
        return value.lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _lease_outlasts_delivery(self) -> Settings:
        # A lease that can run out while its delivery is still waiting for an answer would
        # let a second worker send the same notification.
        if self.lease_seconds <= self.delivery_timeout + 5:
            raise ValueError(
                f"lease_seconds ({self.lease_seconds}) must be more than delivery_timeout "
                f"({self.delivery_timeout}) + 5 seconds"
            )
        return self

    def public_base(self) -> str:
        """Where partners reach this deployment, without a trailing slash."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    def address_policy(self) -> AddressPolicy:
        return AddressPolicy.from_settings(self.allow_private_networks, self.allowed_networks)

    @field_validator("retry_schedule", mode="before")
    @classmethod
    def _schedule(cls, value: object) -> object:
        if isinstance(value, str):
            return _parse_schedule(value)
        return value

    @field_validator("retention_interval", mode="before")
    @classmethod
    def _interval(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_duration(value)
        return value

    def resolved_database_url(self) -> str:
        """The SQLAlchemy async URL, with the embedded SQLite file as the default."""
        url = self.database_url or f"sqlite:///{self.data_dir / 'tidings.db'}"
        for plain, driver in (
            ("postgresql://", "postgresql+asyncpg://"),
            ("postgres://", "postgresql+asyncpg://"),
            ("sqlite://", "sqlite+aiosqlite://"),
        ):
            if url.startswith(plain):
                return driver + url[len(plain) :]
        return url

    @property
    def is_sqlite(self) -> bool:
        return self.resolved_database_url().startswith("sqlite")


def _parse_schedule(text: str) -> list[float]:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    return [parse_duration(p) for p in parts]


def settings_with(**flags: Any) -> Settings:
    """Settings from the environment, with the command-line flags that were given on top."""
    return Settings(**{k: v for k, v in flags.items() if v is not None})
