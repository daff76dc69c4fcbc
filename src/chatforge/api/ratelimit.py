"""Request rate limits: per client address, per API key, and failed authentications per address.

A pure ASGI middleware, so that streamed answers pass through it untouched: it decides before the
request reaches the app, and afterwards only looks at the response's status. Three limits apply
(``settings.limits``), counted by the ``limits`` library with its sliding-window counter:

- ``per_ip``: every request of one client address, with or without a key;
- ``per_key``: every request that carries a key, counted by the key's SHA-256 (the key itself is
  never kept, logged or sent to the counter store);
- ``failed_auth_per_ip``: answers 401 to one address. Once over it, the address is refused,
  a correct key included, until the window lets it in again; this is what stops key guessing.

A refused request gets 429 with ``Retry-After`` in API.md's error body, or in OpenAI's under
``/v1``. Counters live in memory (one process) or in Redis (``storage_url``) when several
processes serve. When Redis is unreachable, requests are let through (fail open) and a warning
is logged: a down counter store must not take the API down.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Protocol

from limits import RateLimitItem, parse
from limits import strategies as sync_strategies
from limits.aio import strategies as async_strategies
from limits.storage import storage_from_string
from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatforge.api.errors import error_response
from chatforge.api.schemas.openai_compat import error_object
from chatforge.settings import LimitSettings

__all__ = [
    "EXEMPT_PATHS",
    "Counter",
    "RateLimitMiddleware",
    "client_address",
    "key_fingerprint",
    "make_counter",
]

log = logging.getLogger(__name__)

EXEMPT_PATHS = frozenset({"/healthz", "/readyz", "/metrics"})
"""Probes and scrapes, which are never limited."""

#: After the counter store fails, requests go unlimited this long before it is tried again, so
#: that a down Redis costs one timeout every few seconds, not one per request.
STORE_RETRY_SECONDS = 5.0
_REDIS_TIMEOUT_SECONDS = 0.5
_KEY_PREFIX = "chatforge"


def key_fingerprint(key: str) -> str:
    """The name an API key is counted under: its SHA-256, never the key."""
    return hashlib.sha256(key.encode()).hexdigest()


class Counter(Protocol):
    """The three calls of a ``limits`` rate limiter, awaited whatever the storage."""

    async def hit(self, item: RateLimitItem, *identifiers: str) -> bool: ...

    async def test(self, item: RateLimitItem, *identifiers: str) -> bool: ...

    async def reset_at(self, item: RateLimitItem, *identifiers: str) -> float: ...


class _MemoryCounter:
    """Counters in this process. Each call is a few dictionary operations under a lock, so it
    runs on the event loop directly; unlike the async memory storage it is bound to no loop."""

    def __init__(self) -> None:
        self.limiter = sync_strategies.SlidingWindowCounterRateLimiter(
            storage_from_string("memory://")
        )

    async def hit(self, item: RateLimitItem, *identifiers: str) -> bool:
        return self.limiter.hit(item, *identifiers)

    async def test(self, item: RateLimitItem, *identifiers: str) -> bool:
        return self.limiter.test(item, *identifiers)

    async def reset_at(self, item: RateLimitItem, *identifiers: str) -> float:
        return self.limiter.get_window_stats(item, *identifiers).reset_time


class _SharedCounter:
    """Counters in a shared store (Redis), reached asynchronously with short timeouts."""

    def __init__(self, url: str) -> None:
        options: dict[str, float | str | bool] = {"key_prefix": _KEY_PREFIX}
        if url.startswith(("redis", "rediss")):
            options |= {
                "connect_timeout": _REDIS_TIMEOUT_SECONDS,
                "stream_timeout": _REDIS_TIMEOUT_SECONDS,
            }
        self.limiter = async_strategies.SlidingWindowCounterRateLimiter(
            storage_from_string(f"async+{url}", wrap_exceptions=True, **options)
        )

    async def hit(self, item: RateLimitItem, *identifiers: str) -> bool:
        return await self.limiter.hit(item, *identifiers)

    async def test(self, item: RateLimitItem, *identifiers: str) -> bool:
        return await self.limiter.test(item, *identifiers)

    async def reset_at(self, item: RateLimitItem, *identifiers: str) -> float:
        return (await self.limiter.get_window_stats(item, *identifiers)).reset_time


@dataclass(frozen=True)
class _Refusal:
    """Why a request is refused, and how long until it may come back."""

    message: str
    retry_after: int


def _rate(name: str, value: str) -> RateLimitItem:
    try:
        return parse(value)
    except ValueError as exc:
        raise ValueError(
            f"CHATFORGE_LIMITS__{name.upper()}: {value!r} is not a rate such as '600/minute'."
        ) from exc


class RateLimitMiddleware:
    """Refuses requests over the limits of ``settings`` with 429 and ``Retry-After``."""

    def __init__(self, app: ASGIApp, settings: LimitSettings) -> None:
        self.app = app
        self.enabled = settings.enabled
        self.trust_forwarded_for = settings.trust_forwarded_for
        # A malformed rate fails here, when the app is built, not on the first request.
        self.per_ip = _rate("per_ip", settings.per_ip)
        self.per_key = _rate("per_key", settings.per_key)
        self.failed_auth = _rate("failed_auth_per_ip", settings.failed_auth_per_ip)
        url = settings.storage_url
        self.counter: Counter = make_counter(url)
        self._store_down_until = 0.0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if not self.enabled or scope["type"] != "http" or scope["path"] in EXEMPT_PATHS:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        address = self._client_address(scope, headers)
        key = _api_key(headers)
        refusal = await self._guarded(self._check(address, key))
        if refusal is not None:
            await self._refuse(refusal, scope, receive, send)
            return
        status = 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        await self.app(scope, receive, sending)
        if status == 401:
            await self._guarded(self._count_failure(address))

    async def _check(self, address: str, key: str | None) -> _Refusal | None:
        # The lockout is tested before anything else: a locked-out address is refused even with
        # a correct key, so that guessing stops paying off for the rest of the window.
        if not await self.counter.test(self.failed_auth, "auth", address):
            wait = await self._retry_after(self.failed_auth, "auth", address)
            return _Refusal(
                "Too many requests with a wrong or missing API key from this address "
                f"(at most {self.failed_auth}); every request from it is refused for now. "
                f"Retry in {wait} seconds with a valid key.",
                wait,
            )
        if not await self.counter.hit(self.per_ip, "ip", address):
            wait = await self._retry_after(self.per_ip, "ip", address)
            return _Refusal(
                f"Too many requests from this address (at most {self.per_ip}). "
                f"Retry in {wait} seconds.",
                wait,
            )
        if key is not None:
            fingerprint = key_fingerprint(key)
            if not await self.counter.hit(self.per_key, "key", fingerprint):
                wait = await self._retry_after(self.per_key, "key", fingerprint)
                return _Refusal(
                    f"Too many requests with this API key (at most {self.per_key}). "
                    f"Retry in {wait} seconds.",
                    wait,
                )
        return None

    async def _count_failure(self, address: str) -> None:
        await self.counter.hit(self.failed_auth, "auth", address)

    async def _retry_after(self, item: RateLimitItem, *identifiers: str) -> int:
        reset_at = await self.counter.reset_at(item, *identifiers)
        return max(1, math.ceil(reset_at - time.time()))

    async def _guarded(self, call: Coroutine[Any, Any, _Refusal | None]) -> _Refusal | None:
        """Await a counter call; when the store fails, let requests through for a while."""
        if time.monotonic() < self._store_down_until:
            call.close()
            return None
        try:
            return await call
        except Exception as exc:  # fail open: any store failure must not fail the request
            self._store_down_until = time.monotonic() + STORE_RETRY_SECONDS
            log.warning(
                "rate limits: the counter store failed (%s: %s); requests are not limited "
                "for %.0f seconds",
                type(exc).__name__,
                exc,
                STORE_RETRY_SECONDS,
            )
            return None

    def _client_address(self, scope: Scope, headers: Headers) -> str:
        return client_address(scope, headers, trust_forwarded_for=self.trust_forwarded_for)

    async def _refuse(self, refusal: _Refusal, scope: Scope, receive: Receive, send: Send) -> None:
        log.debug("rate limits: refused %s %s", scope["method"], scope["path"])
        headers = {"Retry-After": str(refusal.retry_after)}
        path: str = scope["path"]
        response: JSONResponse
        if path == "/v1" or path.startswith("/v1/"):
            # OpenAI SDKs parse their own error shape, and back off on 429 with Retry-After.
            body = error_object(429, "rate_limited", refusal.message)
            response = JSONResponse(body, status_code=429, headers=headers)
        else:
            response = error_response(429, "rate_limited", refusal.message, headers=headers)
        await response(scope, receive, send)


def client_address(scope: Scope, headers: Headers, *, trust_forwarded_for: bool) -> str:
    """The address a request is counted under: the socket's peer, or the last address of
    ``X-Forwarded-For`` when a trusted proxy sets it."""
    if trust_forwarded_for:
        # The proxy appends the address it saw; earlier entries are the client's own say.
        forwarded = headers.get("x-forwarded-for", "").split(",")[-1].strip()
        if forwarded:
            return forwarded
    client = scope.get("client")
    return str(client[0]) if client else "unknown"


def make_counter(storage_url: str) -> Counter:
    """Counters in this process (``memory://``) or in a shared store such as Redis."""
    return _MemoryCounter() if storage_url.startswith("memory://") else _SharedCounter(storage_url)


def _api_key(headers: Headers) -> str | None:
    """The key of ``x-api-key`` or ``Authorization: Bearer``, as the API reads it."""
    key = headers.get("x-api-key")
    if key:
        return key
    scheme, _, credentials = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return None
