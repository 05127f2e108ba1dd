"""What the queue hands a worker (a claimed ``Job``) and what the worker hands back (an
``Outcome``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Job:
    """A claimed notification with what is needed to send it."""

    notification_id: str
    account_id: str
    event_id: str
    event_type: str
    retry_index: int
    is_test: bool
    event_created_at: int
    data: bytes
    # The webhook row (None: deleted since the notification was made).
    webhook: Any
    # The lease: the notification's next_attempt_at while this worker holds it.
    lease_until: int = 0
    # When a rate-limited webhook's slot for this job comes (None: send at once).
    send_at: int | None = None

    @property
    def webhook_id(self) -> str:
        return str(self.webhook.id) if self.webhook is not None else ""

    @classmethod
    def of(
        cls,
        notification: Any,
        webhook: Any,
        lease_until: int,
        *,
        event_created_at: int = 0,
        data: bytes = b"",
    ) -> Job:
        """A notification row (or the columns a claim returned) leased until ``lease_until``;
        ``data`` and ``event_created_at`` are its event's, when it is to be sent from them."""
        return cls(
            notification_id=notification.id,
            account_id=notification.account_id,
            event_id=notification.event_id,
            event_type=notification.event_type,
            retry_index=notification.retry_index,
            is_test=notification.is_test,
            event_created_at=event_created_at,
            data=data,
            webhook=webhook,
            lease_until=lease_until,
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    notification_id: str
    account_id: str
    webhook_id: str
    event_type: str
    event_id: str
    attempt_id: str | None
    attempted_at: int
    status: str  # pending (retry due later), succeeded or failed
    retry_index: int
    next_attempt_at: int | None
    status_code: int | None
    response_body: str | None
    duration_ms: float
    error: str | None
    # The lease the job was claimed with (see Job.lease_until).
    lease_until: int

    @property
    def attempted(self) -> bool:
        return self.attempt_id is not None


@dataclass(frozen=True, slots=True)
class Disabled:
    """A webhook the health rules disabled while its outcomes were recorded."""

    webhook_id: str
    account_id: str
    url: str
    reason: str
