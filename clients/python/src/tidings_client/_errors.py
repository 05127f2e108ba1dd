"""Errors: every answer of 400 or more becomes a ``TidingsError`` subclass chosen by status,
carrying the API's ``{"error": {"type", "message", "details"}}``."""

from __future__ import annotations

from datetime import UTC
from typing import Any

import httpx


class TidingsError(Exception):
    """An error answer of the Tidings API (or, for ``TidingsConnectionError``, no answer)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        type: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.type = type
        self.details = details or []
        self.headers = headers or {}

    def __str__(self) -> str:
        return f"{self.status} {self.type}: {self.message}" if self.status else self.message


class TidingsConnectionError(TidingsError):
    """The server could not be reached (after the retries a safe call is allowed)."""


class BadRequestError(TidingsError):
    """400: a malformed body, cursor or header."""


class UnauthorizedError(TidingsError):
    """401: no API key, or an unknown, expired or revoked one."""


class ForbiddenError(TidingsError):
    """403: the key lacks the permission the call needs."""


class NotFoundError(TidingsError):
    """404."""


class ConflictError(TidingsError):
    """409: a name or URL already taken, a key rolled already, an idempotency key reused."""


class PayloadTooLargeError(TidingsError):
    """413."""


class UnsupportedMediaTypeError(TidingsError):
    """415."""


class ValidationError(TidingsError):
    """422: ``details`` names each invalid field."""


UnprocessableEntityError = ValidationError


class RateLimitedError(TidingsError):
    """429: ``retry_after`` says how many seconds to wait."""

    @property
    def retry_after(self) -> float | None:
        return retry_after_seconds(self.headers.get("retry-after"))


class ServerError(TidingsError):
    """5xx."""


class ServiceUnavailableError(ServerError):
    """503: the database cannot be reached right now; nothing was done."""


_BY_STATUS: dict[int, type[TidingsError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    413: PayloadTooLargeError,
    415: UnsupportedMediaTypeError,
    422: ValidationError,
    429: RateLimitedError,
    503: ServiceUnavailableError,
}


def error_for(response: httpx.Response) -> TidingsError:
    """The exception an error answer raises."""
    status = response.status_code
    kind = _BY_STATUS.get(status) or (ServerError if status >= 500 else TidingsError)
    info: dict[str, Any] = {}
    try:
        body = response.json()
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            info = body["error"]
    except ValueError:
        pass
    message = str(info.get("message") or response.text or f"HTTP {status}")
    details = info.get("details")
    return kind(
        message,
        status=status,
        type=info.get("type"),
        details=details if isinstance(details, list) else [],
        headers={k.lower(): v for k, v in response.headers.items()},
    )


def retry_after_seconds(value: str | None) -> float | None:
    """``Retry-After`` as seconds: a number, or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    from datetime import datetime

    return max(0.0, (when - datetime.now(UTC)).total_seconds())
