"""The gate of the public paths (``/api/public/``): per-chatbot origins and CORS, and limits.

A pure ASGI middleware in front of the app's global CORS (which answers ``*`` for
key-authenticated paths, like okchat). On a public path it:

1. counts every request, CORS preflights included, against ``public.per_ip`` for its client
   address;
2. answers CORS preflights itself, per chatbot: the request's ``Origin`` is echoed when the
   chatbot's ``settings.allowedOrigins`` lets it in (or lists none), with ``Vary: Origin``,
   methods ``GET, POST, OPTIONS`` and headers ``Content-Type, X-Visitor-Token``; a refused
   origin gets 403 with no CORS headers, so the browser never sends the call;
3. refuses a request whose ``Origin`` is set, not allowed, and not this server's own (the hosted
   chat page and the console, under whatever host name the browser used): 403
   ``origin_not_allowed`` (with CORS headers, so that the widget can say it is not allowed on
   this site);
4. counts chat, lead and voice calls (each can open a session or cost a model's work) against
   ``public.chat_per_ip`` for their client address, then chat turns, typed or spoken, against
   ``public.chat_per_visitor`` for their ``X-Visitor-Token``; a live call (WebSocket) is
   counted per address when it starts, and refused at the handshake over a limit;
5. passes the rest on without its ``Origin`` header (so that the global CORS stays out of it),
   and adds its own CORS headers to the response, errors and 429s included.

Each utterance a live call answers is then counted as a chat turn of its caller, against the
same ``chat_per_ip`` and ``chat_per_visitor`` counters: the voice router asks
:meth:`PublicLimits.chat_turn` (``app.state.public_limits``, the one instance this gate counts
with) before the call answers, and the call tells the caller to wait instead of answering.

No cookies are used on these paths, so credentials are never allowed. A chatbot that does not
exist or is not public is let through to its 404 (with CORS headers, so the widget can read it).
When the counter store fails, requests are let through, as :mod:`chatforge.api.ratelimit` does.
"""

from __future__ import annotations

import logging
import math
import re
import time
from urllib.parse import urlsplit

import anyio.to_thread
from limits import RateLimitItem, parse
from starlette.datastructures import Headers
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatforge.api.errors import error_response
from chatforge.api.ratelimit import STORE_RETRY_SECONDS, Counter, client_address, make_counter
from chatforge.errors import NotFound
from chatforge.services.context import AppContext
from chatforge.services.public import visitors
from chatforge.services.public.origins import origin_allowed
from chatforge.services.public.service import get_public_chatbot, own_origin
from chatforge.settings import Settings

__all__ = ["PUBLIC_PREFIX", "PublicGateMiddleware", "PublicLimits"]

log = logging.getLogger(__name__)

PUBLIC_PREFIX = "/api/public/"
_CHATBOT = re.compile(r"^/api/public/chatbot/([^/]+)(/.*)?$")
_VISITOR_TURN = re.compile(r"^/api/public/chatbot/[^/]+/(chat|voice/chat)$")
#: Calls that can open a session or cost a model's work: counted per address by chat_per_ip.
_COSTLY = re.compile(r"^/api/public/chatbot/[^/]+/(chat|lead|voice/(chat|transcribe|speak))$")
_ALLOW_METHODS = "GET, POST, OPTIONS"
_ALLOW_HEADERS = "Content-Type, X-Visitor-Token"
_PREFLIGHT_MAX_AGE = "600"


class PublicLimits:
    """The counters of the public paths, shared by the gate (HTTP requests, call handshakes)
    and the live calls' turns, so that a spoken turn and a typed one count alike.

    Args:
        settings: The app's settings (``limits`` for the store, ``public`` for the rates).

    Raises:
        ValueError: A rate is malformed (when the app is built, not on the first request).
    """

    def __init__(self, settings: Settings) -> None:
        self.enabled = settings.limits.enabled
        self.trust_forwarded_for = settings.limits.trust_forwarded_for
        public = settings.public
        self.per_ip = _rate("per_ip", public.per_ip)
        self.per_visitor = _rate("chat_per_visitor", public.chat_per_visitor)
        self.chat_per_ip = _rate("chat_per_ip", public.chat_per_ip)
        self.counter: Counter = make_counter(settings.limits.storage_url)
        self._store_down_until = 0.0

    async def chat_turn(self, address: str, token: str | None) -> int | None:
        """Count one chat turn of ``address`` (and of the visitor ``token``, when it has the
        shape of one); the seconds to wait when it is over a limit, else None."""
        if not self.enabled:
            return None
        # Per address first: a client can always drop its token and be issued a new one.
        wait = await self.hit(self.chat_per_ip, "public-chat-ip", address)
        token = visitors.usable_token(token)
        if wait is None and token is not None:
            wait = await self.hit(self.per_visitor, "visitor", visitors.token_hash(token))
        return wait

    async def hit(self, item: RateLimitItem, *identifiers: str) -> int | None:
        """Count one request; the seconds to wait when it is over the limit, else None."""
        if time.monotonic() < self._store_down_until:
            return None
        try:
            if await self.counter.hit(item, *identifiers):
                return None
            reset_at = await self.counter.reset_at(item, *identifiers)
        except Exception as exc:  # fail open: a down counter store must not fail the request
            self._store_down_until = time.monotonic() + STORE_RETRY_SECONDS
            log.warning(
                "public limits: the counter store failed (%s); not limited for %.0f seconds",
                type(exc).__name__,
                STORE_RETRY_SECONDS,
            )
            return None
        return max(1, math.ceil(reset_at - time.time()))


class PublicGateMiddleware:
    """Origins, CORS and rate limits of the public paths; other paths pass untouched.

    Args:
        app: The app behind the gate.
        ctx: The app's context.
        limits: The counters; the app shares them with live calls (``app.state.public_limits``).
    """

    def __init__(self, app: ASGIApp, ctx: AppContext, limits: PublicLimits) -> None:
        self.app = app
        self.ctx = ctx
        self.limits = limits
        self.enabled = limits.enabled
        self.trust_forwarded_for = limits.trust_forwarded_for
        self.own_origin = own_origin(ctx)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind not in ("http", "websocket") or not scope["path"].startswith(PUBLIC_PREFIX):
            await self.app(scope, receive, send)
            return
        if kind == "websocket":
            await self._call(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        host = headers.get("host")
        preflight = scope["method"] == "OPTIONS" and "access-control-request-method" in headers
        cors = {} if preflight else _cors_headers(origin)
        address = client_address(scope, headers, trust_forwarded_for=self.trust_forwarded_for)
        if self.enabled:  # preflights too: each one looks the chatbot up
            wait = await self.limits.hit(self.limits.per_ip, "public-ip", address)
            if wait is not None:
                message = f"Too many requests from this address. Retry in {wait} seconds."
                await _too_many(message, wait, cors)(scope, receive, send)
                return
        if preflight:
            answer = await self._preflight(scope["path"], origin, host)
            await answer(scope, receive, send)
            return
        if origin is not None and not await self._origin_allowed(scope["path"], origin, host):
            refused = error_response(
                403,
                "origin_not_allowed",
                "This chatbot may not be used from this website: add its origin to the "
                "chatbot's settings.allowedOrigins.",
                headers=cors,
            )
            await refused(scope, receive, send)
            return
        if self.enabled and scope["method"] == "POST" and _COSTLY.match(scope["path"]):
            # Per address first: a client can always drop its token and be issued a new one.
            wait = await self.limits.hit(self.limits.chat_per_ip, "public-chat-ip", address)
            if wait is not None:
                message = f"Too many messages from this address; wait {wait} seconds."
                await _too_many(message, wait, cors)(scope, receive, send)
                return
            token = visitors.usable_token(headers.get("x-visitor-token"))
            if token is not None and _VISITOR_TURN.match(scope["path"]):
                wait = await self.limits.hit(
                    self.limits.per_visitor, "visitor", visitors.token_hash(token)
                )
                if wait is not None:
                    message = f"Too many messages; wait {wait} seconds before sending another."
                    await _too_many(message, wait, cors)(scope, receive, send)
                    return
        await self.app(_without_origin(scope), receive, _with_headers(send, cors))

    async def _call(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A live voice call: counted like a chat message of its address when it starts (the
        service checks its origin; each of its turns is counted later, through
        :meth:`PublicLimits.chat_turn`); over a limit, the handshake is refused (HTTP 403 to the
        browser)."""
        if self.enabled:
            headers = Headers(scope=scope)
            address = client_address(scope, headers, trust_forwarded_for=self.trust_forwarded_for)
            limits = self.limits
            for item, name in (
                (limits.per_ip, "public-ip"),
                (limits.chat_per_ip, "public-chat-ip"),
            ):
                if await limits.hit(item, name, address) is not None:
                    await receive()  # the handshake's websocket.connect
                    await send({"type": "websocket.close", "code": 1008, "reason": "rate limited"})
                    return
        await self.app(scope, receive, send)

    async def _preflight(self, path: str, origin: str | None, host: str | None) -> Response:
        """The answer to a CORS preflight (it runs no handler)."""
        if origin is None or not await self._origin_allowed(path, origin, host):
            return error_response(
                403,
                "origin_not_allowed",
                "This chatbot may not be used from this website.",
                headers={"Vary": "Origin"},
            )
        headers = {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": _ALLOW_METHODS,
            "Access-Control-Allow-Headers": _ALLOW_HEADERS,
            "Access-Control-Max-Age": _PREFLIGHT_MAX_AGE,
            "Vary": "Origin",
        }
        return Response(status_code=204, headers=headers)

    async def _origin_allowed(self, path: str, origin: str, host: str | None) -> bool:
        if host is not None and urlsplit(origin).netloc.lower() == host.lower():
            # Chatforge's own page (the hosted chat, the console), under whatever name the
            # browser reached this server by: a same-origin call is never a cross-site embed.
            return True
        match = _CHATBOT.match(path)
        if match is None:
            return True  # no chatbot named: the app answers 404
        try:
            chatbot = await anyio.to_thread.run_sync(get_public_chatbot, self.ctx, match.group(1))
        except NotFound:
            return True  # the app answers 404, the same for every origin
        return origin_allowed(origin, chatbot.allowed_origins, self.own_origin)


def _rate(name: str, value: str) -> RateLimitItem:
    try:
        return parse(value)
    except ValueError as exc:
        raise ValueError(
            f"CHATFORGE_PUBLIC__{name.upper()}: {value!r} is not a rate such as '20/minute'."
        ) from exc


def _cors_headers(origin: str | None) -> dict[str, str]:
    """The CORS headers of a response to ``origin`` (none without one)."""
    if origin is None:
        return {"Vary": "Origin"}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Expose-Headers": "Retry-After",
        "Vary": "Origin",
    }


def _too_many(message: str, wait: int, cors: dict[str, str]) -> Response:
    return error_response(429, "rate_limited", message, headers={**cors, "Retry-After": str(wait)})


def _without_origin(scope: Scope) -> Scope:
    """The request without its ``Origin``: the app's global CORS must not answer it."""
    kept = [(name, value) for name, value in scope["headers"] if name != b"origin"]
    return {**scope, "headers": kept}


def _with_headers(send: Send, extra: dict[str, str]) -> Send:
    encoded = [(name.lower().encode(), value.encode()) for name, value in extra.items()]
    names = {name for name, _ in encoded}

    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            kept = [(n, v) for n, v in message.get("headers", []) if n.lower() not in names]
            message = {**message, "headers": [*kept, *encoded]}
        await send(message)

    return sending
