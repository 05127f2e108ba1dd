"""The Python client of Tidings, a self-hosted webhook platform.

``Tidings(api_key, base_url)`` / ``AsyncTidings(...)``: one attribute per resource;
``verify(secret, body, headers)``: check a delivery's signature."""

from tidings_client._client import AsyncTidings, Tidings, __version__, routes
from tidings_client._errors import (
    BadRequestError,
    ConflictError,
    ForbiddenError,
    NotFoundError,
    PayloadTooLargeError,
    RateLimitedError,
    ServerError,
    ServiceUnavailableError,
    TidingsConnectionError,
    TidingsError,
    UnauthorizedError,
    UnprocessableEntityError,
    UnsupportedMediaTypeError,
    ValidationError,
)
from tidings_client._http import AsyncPaginator, Page, Paginator
from tidings_client._verify import WebhookVerificationError, sign, sign_hex, verify

__all__ = [
    "AsyncPaginator",
    "AsyncTidings",
    "BadRequestError",
    "ConflictError",
    "ForbiddenError",
    "NotFoundError",
    "Page",
    "Paginator",
    "PayloadTooLargeError",
    "RateLimitedError",
    "ServerError",
    "ServiceUnavailableError",
    "Tidings",
    "TidingsConnectionError",
    "TidingsError",
    "UnauthorizedError",
    "UnprocessableEntityError",
    "UnsupportedMediaTypeError",
    "ValidationError",
    "WebhookVerificationError",
    "__version__",
    "routes",
    "sign",
    "sign_hex",
    "verify",
]
