"""What a claim takes, decided from the rows it read: pure rules, applied by
store/queue/claim.py inside the claiming transaction so they hold for every worker.

- A webhook whose circuit breaker is open offers nothing; a half-open one offers one probe.
- An ordered webhook offers only its oldest pending notification (its head).
- A webhook offers at most its room: the per-webhook concurrency cap, less what this worker
  and the others already hold.
- A rate-limited webhook hands out send slots ``1/rate`` apart, at most ``RATE_HORIZON``
  ahead; the rest wait, due again when the next slot comes (without spending an attempt).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar

from tidings.core.clock import MICROS
from tidings.core.health import HealthRules, breaker_open, probing

# How far ahead a rate-limited webhook's send slots are handed out.
RATE_HORIZON = MICROS


class Due(Protocol):
    """A due notification as the claim window reads it."""

    @property
    def id(self) -> str: ...
    @property
    def webhook_id(self) -> str: ...
    @property
    def breaker_open_until(self) -> int | None: ...
    # The webhook's oldest pending notification when it is ordered, else None.
    @property
    def head(self) -> str | None: ...


def sends_freely(webhook: Any) -> bool:
    """Whether nothing but the concurrency cap holds back sends to ``webhook`` (its row):
    Active, no failure in a row, no breaker, not ordered, not rate-limited, no listener. Such
    a webhook may lease ahead of its cap (store/queue/claim.py) and be handed a publish's
    notifications without a claim (delivery/handoff.py)."""
    return bool(
        webhook.status == "Active"
        and not webhook.consecutive_failures
        and webhook.breaker_open_until is None
        and not webhook.ordered
        and webhook.rate_limit is None
        and webhook.listener_id is None
    )


@dataclass
class Choice:
    # Per webhook, the ids chosen, earliest due first.
    taken: dict[str, list[str]] = field(default_factory=dict)
    # Whether a due row was left because its webhook could not take it now.
    passed_over: bool = False

    @property
    def ids(self) -> list[str]:
        return [i for ids in self.taken.values() for i in ids]


def choose(rows: Iterable[Due], now: int, limit: int, room: Callable[[str], int]) -> Choice:
    """From due rows, earliest first: at most ``limit`` in all and ``room(webhook)`` per
    webhook, none of a webhook whose breaker is open, only the head of an ordered webhook."""
    choice = Choice()
    count = 0
    for row in rows:
        held = choice.taken.setdefault(row.webhook_id, [])
        if (
            breaker_open(row.breaker_open_until, now)
            or (row.head is not None and row.head != row.id)
            or len(held) >= room(row.webhook_id)
        ):
            choice.passed_over = True
            continue
        held.append(row.id)
        count += 1
        if count >= limit:
            break
    choice.taken = {w: ids for w, ids in choice.taken.items() if ids}
    return choice


J = TypeVar("J")


@dataclass
class Limited:
    """One webhook's claimed jobs after its limits: those to send (with their send times)
    and those handed back, due again at ``again_at``; ``changes`` go to the webhook row."""

    kept: list[Any]
    send_at: list[int | None]
    returned: list[Any]
    again_at: int
    changes: dict[str, int]


def limit(
    jobs: Sequence[J],
    *,
    room: int,
    consecutive_failures: int,
    rate_limit: int | None,
    rate_next_at: int | None,
    now: int,
    rules: HealthRules,
) -> Limited:
    """Apply one webhook's limits to the jobs a claim took for it."""
    allowed = room
    changes: dict[str, int] = {}
    if probing(consecutive_failures, rules):
        # One probe; the others stay due, held back by the breaker closing again behind it
        # until the probe's answer (a success releases them at once).
        allowed = min(allowed, 1)
        changes["breaker_open_until"] = now + rules.probe_interval
    take = list(jobs[: max(allowed, 0)])
    rest = list(jobs[len(take) :])
    send_at: list[int | None] = [None] * len(take)
    again_at = now
    if rate_limit:
        step = MICROS // rate_limit
        slot = max(now, rate_next_at or 0)
        within = 0
        for index in range(len(take)):
            if slot > now + RATE_HORIZON:
                break
            send_at[index] = slot if slot > now else None
            within += 1
            slot += step
        rest = take[within:] + rest
        take, send_at = take[:within], send_at[:within]
        changes["rate_next_at"] = slot
        again_at = max(again_at, slot)
    return Limited(kept=take, send_at=send_at, returned=rest, again_at=again_at, changes=changes)
