"""Publishing hands new notifications straight to the worker of its own process: they are
written already leased to that worker, and after the commit go to its senders, so the first
attempt needs neither a wake-up nor a claim (two transactions fewer between a publish and its
receipt). A crash between the commit and the send leaves the lease to expire, and any worker
then claims the notification as usual: nothing is lost.

Only what a claim would have let go at once is handed over: a webhook this worker claimed for
recently (its row read then, no older than ``FRESH`` and forgotten on any change to webhooks or
on a failed attempt), Active, without a failure, rate limit or ordering, with room under the
concurrency caps, while the worker keeps up (its last claim took everything due). Everything
else is written due, as before, and claimed."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from tidings.core import claims
from tidings.core.clock import MICROS
from tidings.runtime.route_cache import TTL
from tidings.store.events import Lease, NewEvent, Published
from tidings.store.queue.jobs import Job

if TYPE_CHECKING:
    from tidings.delivery.worker import Worker

# How long a claimed webhook row is trusted without reading it again: as long as publishing
# trusts its own cached routes (changes made here clear both at once).
FRESH = TTL


@dataclass
class Reservation:
    worker: Worker
    lease: Lease
    rows: dict[str, Any]

    def hand(self, event: NewEvent, published: Published) -> None:
        for notification in published.notifications:
            row = self.rows.get(notification["webhook_id"])
            if row is None:
                continue
            self.worker.adopt(
                Job(
                    notification_id=notification["id"],
                    account_id=event.account_id,
                    event_id=published.event_id,
                    event_type=event.event_type,
                    retry_index=0,
                    is_test=event.is_test,
                    event_created_at=published.created_at,
                    data=event.data,
                    webhook=row,
                    lease_until=self.lease.until,
                )
            )

    def cancel(self) -> None:
        for webhook_id in self.rows:
            self.worker.unhold(webhook_id)


class Handoff:
    """The worker's side: which webhooks it may take notifications for without a claim."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        # Webhook id -> (its row as last claimed, when: time.monotonic()).
        self._known: dict[str, tuple[Any, float]] = {}
        # False while claims come back full: notifications are waiting in the database, and
        # handing new ones over would make those wait longer.
        self.caught_up = True

    def learn(self, row: Any) -> None:
        if claims.sends_freely(row):
            self._known[row.id] = (row, time.monotonic())
        else:
            self._known.pop(row.id, None)

    def forget(self, webhook_id: str | None = None) -> None:
        """One webhook (an attempt failed), or all (webhooks changed)."""
        if webhook_id is None:
            self._known.clear()
        else:
            self._known.pop(webhook_id, None)

    def reserve(self, webhook_ids: Sequence[str]) -> Reservation | None:
        if not self.caught_up or not self._known:
            return None
        oldest = time.monotonic() - FRESH
        rows: dict[str, Any] = {}
        for webhook_id in webhook_ids:
            known = self._known.get(webhook_id)
            if known is None or known[1] < oldest or not self.worker.hold(webhook_id):
                continue
            rows[webhook_id] = known[0]
        if not rows:
            return None
        ctx = self.worker.ctx
        until = ctx.clock.now() + int(ctx.settings.lease_seconds * MICROS)
        lease = Lease(self.worker.worker_id, until, frozenset(rows))
        return Reservation(self.worker, lease, rows)
