"""What publishing needs from a worker in its own process to hand it new notifications
directly (delivery/handoff.py implements it): room reserved before the event is written, so
its notifications are written already leased, and the jobs handed over after the commit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from tidings.store.events import Lease, NewEvent, Published


class Reservation(Protocol):
    lease: Lease

    def hand(self, event: NewEvent, published: Published) -> None:
        """The event committed: its leased notifications go to the worker's senders."""

    def cancel(self) -> None:
        """The event was not written: give the room back."""


class Handoff(Protocol):
    def reserve(self, webhook_ids: Sequence[str]) -> Reservation | None:
        """Room for a new notification to each of those ``webhook_ids`` the worker may take
        at once (None: for none of them)."""
