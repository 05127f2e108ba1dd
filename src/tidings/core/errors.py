"""The domain error: what a service raises when a request cannot be carried out. Each front
shows it its own way (the API as ``{"error": {"type", "message", "details"}}`` with ``status``,
the dashboard beside the form field it names, the command line as one line)."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    def __init__(
        self,
        status: int,
        message: str,
        *,
        field: str | None = None,
        details: list[dict[str, Any]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        # An HTTP status: every front understands it (404 not found, 409 conflict, 422 invalid).
        self.status = status
        self.message = message
        self.details = details or ([{"field": field, "message": message}] if field else [])
        self.headers = headers

    @property
    def field(self) -> str | None:
        """The first field at fault, if any."""
        return self.details[0]["field"] if self.details else None


def not_found(what: str, ident: str) -> DomainError:
    return DomainError(404, f"{what} {ident!r} not found")


def invalid(field: str, message: str) -> DomainError:
    """A 422 naming ``field``."""
    return DomainError(422, message, field=field)
