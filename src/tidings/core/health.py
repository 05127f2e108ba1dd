"""A failing webhook's health, decided here once: 410 Gone, the circuit breaker and
auto-disable. Pure functions of the webhook's stored state and the attempts just made; the
store applies what they decide (store/queue/outcomes.py), the claim asks them whether a
webhook may be sent to (store/queue/claim.py, limits.py), and the retry decision asks whether
a receiver said it is gone (core/retry.py)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tidings.core.clock import MICROS

# The receiver says the endpoint will never be back: no retry, and the webhook is disabled.
GONE = 410


@dataclass(frozen=True)
class HealthRules:
    """The deployment's rules for failing webhooks (TIDINGS_BREAKER_*, TIDINGS_AUTO_DISABLE_*)."""

    breaker_threshold: int
    probe_interval: int  # micros
    disable_after: int  # micros
    disable_min_failures: int

    @classmethod
    def of(
        cls,
        breaker_threshold: int,
        probe_interval: float,
        disable_after: float,
        disable_min_failures: int,
    ) -> HealthRules:
        """From settings in seconds."""
        return cls(
            breaker_threshold=breaker_threshold,
            probe_interval=int(probe_interval * MICROS),
            disable_after=int(disable_after * MICROS),
            disable_min_failures=disable_min_failures,
        )


def is_gone(status_code: int | None) -> bool:
    return status_code == GONE


def breaker_open(breaker_open_until: int | None, now: int) -> bool:
    """Whether the webhook's notifications wait (the breaker is open, no probe due yet)."""
    return breaker_open_until is not None and breaker_open_until > now


def probing(consecutive_failures: int, rules: HealthRules) -> bool:
    """Half-open: the breaker's wait is over but the receiver has not answered well since. One
    notification goes out as a probe and the breaker closes again behind it for an interval."""
    return consecutive_failures >= rules.breaker_threshold


@dataclass(frozen=True, slots=True)
class Attempted:
    """What the health rules need of one attempt."""

    webhook_id: str
    attempted_at: int
    succeeded: bool
    status_code: int | None


@dataclass(slots=True)
class Streak:
    """A webhook's attempts in one batch, in the order they were made: whether one succeeded,
    and the failures after the last success."""

    recovered: bool = False
    failures: int = 0
    first_failed_at: int = 0
    last_failed_at: int = 0
    gone: bool = False


def streaks(attempts: Iterable[Attempted]) -> dict[str, Streak]:
    """Per webhook, its streak in this batch (a success resets what came before it)."""
    found: dict[str, Streak] = {}
    for a in sorted(attempts, key=lambda a: a.attempted_at):
        streak = found.setdefault(a.webhook_id, Streak())
        if a.succeeded:
            found[a.webhook_id] = Streak(recovered=True)
            continue
        if streak.failures == 0:
            streak.first_failed_at = a.attempted_at
        streak.failures += 1
        streak.last_failed_at = a.attempted_at
        streak.gone = streak.gone or is_gone(a.status_code)
    return found


@dataclass(frozen=True, slots=True)
class Health:
    """The health columns of a webhook row."""

    consecutive_failures: int
    failing_since: int | None
    breaker_open_until: int | None
    active: bool = True


@dataclass(frozen=True, slots=True)
class Verdict:
    """The webhook's health after a batch, and whether it is disabled now (and why)."""

    health: Health
    disabled: str | None  # "gone", "failing" or None


def judge(before: Health, streak: Streak, rules: HealthRules, now: int) -> Verdict:
    """The new health of a webhook that had ``before`` and then the attempts of ``streak``.

    A success resets the failures in a row, the failing window and the breaker. Failures
    after it add up; at ``breaker_threshold`` in a row the breaker opens for a probe interval.
    A 410 disables an Active webhook at once ("gone"); so does failing without a success for
    the whole ``disable_after`` window, from the first failed attempt to the latest one (the
    attempts' own times), with at least ``disable_min_failures`` failures ("failing")."""
    count, since, breaker = (
        before.consecutive_failures,
        before.failing_since,
        before.breaker_open_until,
    )
    if streak.recovered:
        count, since, breaker = 0, None, None
    if streak.failures:
        count += streak.failures
        since = since if since is not None else streak.first_failed_at
        if count >= rules.breaker_threshold:
            breaker = now + rules.probe_interval
    disabled = None
    if before.active and streak.failures:
        if streak.gone:
            disabled = "gone"
        elif (
            count >= rules.disable_min_failures
            and since is not None
            and since <= streak.last_failed_at - rules.disable_after
        ):
            disabled = "failing"
    return Verdict(Health(count, since, breaker, before.active and disabled is None), disabled)
