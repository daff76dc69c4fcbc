"""The one exception tree of Chatforge.

Every error a caller can cause is a subclass of :class:`ChatforgeError`. Each class carries the
HTTP status and the snake_case ``code`` of the error body (docs/api.md, "Conventions"), so the
API layer has one handler that turns any of them into ``{"error": {"code", "message",
"details"}}``. Layers below the API raise these and never import the web framework.

    ChatforgeError                      500 internal_error
    ├── BadRequest                      400 bad_request
    ├── Unauthorized                    401 unauthorized
    ├── NotFound                        404 not_found
    ├── MethodNotAllowed                405 method_not_allowed
    ├── Conflict                        409 conflict
    ├── PayloadTooLarge                 413 payload_too_large
    ├── UnsupportedMediaType            415 unsupported_media_type
    ├── ValidationFailed                422 validation_error
    ├── RateLimited                     429 rate_limited
    ├── ServiceBusy                     503 service_busy        (the database is too busy now)
    ├── QuotaExceeded                   429 quota_exceeded      (an organization's quota)
    │   └── StorageQuotaExceeded        413 quota_exceeded      (its stored bytes)
    ├── ProviderError                   502 provider_error      (a model provider failed)
    │   └── ProviderUnavailable         503 provider_unavailable (not configured, or down)
    ├── ParseError                      a file could not be read (becomes an item's ``error``)
    └── FetchError                      a URL could not be fetched (idem)
        └── FetchRefused                the address is not allowed (SSRF guard)
"""

from __future__ import annotations

from typing import Any


class ChatforgeError(Exception):
    """Base of every Chatforge error; carries the HTTP status and the error code."""

    status: int = 500
    code: str = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.details = details
        self.headers = headers or {}


class BadRequest(ChatforgeError):
    """The request is malformed (for example, a required query parameter is missing)."""

    status = 400
    code = "bad_request"


class Unauthorized(ChatforgeError):
    """No API key, or one that is unknown or revoked."""

    status = 401
    code = "unauthorized"


class NotFound(ChatforgeError):
    """The resource does not exist or belongs to another organization."""

    status = 404
    code = "not_found"


class MethodNotAllowed(ChatforgeError):
    """The path exists but not with this HTTP method."""

    status = 405
    code = "method_not_allowed"


class Conflict(ChatforgeError):
    """The request conflicts with existing data (for example, a slug already taken)."""

    status = 409
    code = "conflict"


class PayloadTooLarge(ChatforgeError):
    """An upload or body is larger than the configured limit."""

    status = 413
    code = "payload_too_large"


class UnsupportedMediaType(ChatforgeError):
    """An upload whose content is not one of the accepted types."""

    status = 415
    code = "unsupported_media_type"


class ValidationFailed(ChatforgeError):
    """Input that parses but breaks a rule; ``details`` lists each field."""

    status = 422
    code = "validation_error"


class RateLimited(ChatforgeError):
    """Too many requests; ``headers`` carries ``Retry-After``."""

    status = 429
    code = "rate_limited"


class QuotaExceeded(ChatforgeError):
    """An organization holds as much as its quota allows (chatbots, items, queued jobs)."""

    status = 429
    code = "quota_exceeded"


class StorageQuotaExceeded(QuotaExceeded):
    """An organization's knowledge would take more bytes than its quota allows."""

    status = 413


class ServiceBusy(ChatforgeError):
    """The database is too busy to answer now (its write lock, its connections); ``headers``
    carries ``Retry-After``. Nothing was changed: the same request may be sent again."""

    status = 503
    code = "service_busy"


class ProviderError(ChatforgeError):
    """A model provider answered with an error or an invalid response."""

    status = 502
    code = "provider_error"


class ProviderUnavailable(ProviderError):
    """A model provider is not configured (no key) or cannot be reached."""

    status = 503
    code = "provider_unavailable"


class ParseError(ChatforgeError):
    """A file is corrupt, encrypted or empty; recorded as the knowledge item's ``error``."""

    status = 422
    code = "parse_error"


class FetchError(ChatforgeError):
    """A URL could not be fetched (timeout, HTTP error, too large, not HTML)."""

    status = 422
    code = "fetch_error"


class FetchRefused(FetchError):
    """The URL points at an address the SSRF guard refuses (private, loopback, ...)."""

    code = "fetch_refused"
