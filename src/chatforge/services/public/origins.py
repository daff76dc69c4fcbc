"""Web origins: which sites may embed a chatbot and call its public endpoints.

A chatbot's ``settings.allowedOrigins`` lists origins such as ``https://shop.example`` or
``http://localhost:8080``: a scheme (http or https), a host and an optional port, nothing else.
An empty or absent list lets any origin in. Chatforge's own origin (the hosted chat page, the
console's preview) is always allowed.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from chatforge.errors import ValidationFailed

__all__ = ["MAX_ALLOWED_ORIGINS", "check_allowed_origins", "normalize_origin", "origin_allowed"]

MAX_ALLOWED_ORIGINS = 100
"""The most origins one chatbot may list."""

_FIELD = "settings.allowedOrigins"


def normalize_origin(value: str) -> str | None:
    """``value`` as a browser writes an ``Origin`` header (lower-case, no default port), or None
    when it is not an http(s) origin (a path, a query, credentials, a wildcard...)."""
    text = value.strip()
    if text.endswith("/"):
        text = text[:-1]
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if (
        scheme not in ("http", "https")
        or not host
        or "*" in host
        or parts.path
        or parts.query
        or parts.fragment
        or parts.username is not None
        or parts.password is not None
    ):
        return None
    if ":" in host:  # an IPv6 literal keeps its brackets in an origin
        host = f"[{host}]"
    default = 443 if scheme == "https" else 80
    return f"{scheme}://{host}" if port in (None, default) else f"{scheme}://{host}:{port}"


def check_allowed_origins(value: object) -> list[str] | None:
    """Validate ``settings.allowedOrigins``; the normalized list (None stays None).

    Raises:
        ValidationFailed: Not a list of at most 100 http(s) origins without paths.
    """
    if value is None:
        return None
    if not isinstance(value, list):
        raise _invalid("must be a list of origins such as 'https://shop.example'")
    if len(value) > MAX_ALLOWED_ORIGINS:
        raise _invalid(f"at most {MAX_ALLOWED_ORIGINS} origins")
    normalized: list[str] = []
    for index, item in enumerate(value):
        origin = normalize_origin(item) if isinstance(item, str) else None
        if origin is None:
            raise _invalid(
                f"{item!r} is not an origin: write a scheme (http or https), a host and an "
                "optional port, with no path, e.g. 'https://shop.example'",
                index,
            )
        if origin not in normalized:
            normalized.append(origin)
    return normalized


def origin_allowed(origin: str | None, allowed: Sequence[str], own_origin: str | None) -> bool:
    """Whether a request with this ``Origin`` header may use a chatbot that allows ``allowed``.

    A request without ``Origin`` (a server, curl, a same-origin GET) is not a cross-site browser
    call and is allowed; an empty list allows every origin.
    """
    if origin is None or not allowed:
        return True
    normalized = normalize_origin(origin)
    if normalized is None:
        return False
    return normalized in allowed or (own_origin is not None and normalized == own_origin)


def _invalid(message: str, index: int | None = None) -> ValidationFailed:
    field = _FIELD if index is None else f"{_FIELD}.{index}"
    return ValidationFailed(
        f"Invalid {_FIELD}: {message}.", details=[{"field": field, "message": message}]
    )
