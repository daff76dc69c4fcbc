"""``HEAD`` for every ``GET``: the same status and headers, no body.

Uptime monitors and link checkers ask with ``HEAD``. FastAPI's routes answer only the methods
they declare, so without this a ``HEAD /healthz`` is a 405. Rather than declare ``HEAD`` on each
route (and in the OpenAPI document, where it would be an operation of its own), a ``HEAD``
request is served as the ``GET`` it stands for and its body is dropped. A path without ``GET``
still answers 405, listing the methods it has (:mod:`chatforge.api.errors`).
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["HeadMiddleware"]


class HeadMiddleware:
    """Serves ``HEAD`` as ``GET`` without the body. Pure ASGI, so streamed answers stay streams."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return
        # A copy: the server reads the method from its own scope to know that no body follows,
        # whatever Content-Length says.
        as_get = {**scope, "method": "GET"}
        ended = False

        async def headers_only(message: Message) -> None:
            nonlocal ended
            if message["type"] == "http.response.start":
                await send(message)
            elif not ended:  # the body's first part (or a file to send) ends the answer
                ended = True
                await send({"type": "http.response.body", "body": b"", "more_body": False})

        try:
            await self.app(as_get, receive, headers_only)
        finally:
            # The router records the matched route in the scope; the metrics read it there.
            if "route" in as_get:
                scope["route"] = as_get["route"]
