"""A key's status as partners see it: active, expiring (stops within a week, as a rolled key
does), expired or revoked."""

from __future__ import annotations

from tidings.core.clock import MICROS

EXPIRING_WINDOW = 7 * 86400 * MICROS


def key_status(revoked_at: int | None, expires_at: int | None, now: int) -> str:
    if revoked_at is not None:
        return "revoked"
    if expires_at is not None:
        if expires_at <= now:
            return "expired"
        if expires_at - now <= EXPIRING_WINDOW:
            return "expiring"
    return "active"
