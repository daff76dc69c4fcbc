"""Bounds on request bodies, checked before any route reads them.

A JSON body (anything but a multipart upload, which streams to disk under its own limits) may be at
most ``CHATFORGE_LIMITS__MAX_BODY_BYTES`` long and nest at most ``CHATFORGE_LIMITS__MAX_JSON_DEPTH``
objects and lists deep. Past either, the request is answered 413 or 422 and the route never runs:
nothing of it is stored, and no parser recurses through a hostile body.
"""

from __future__ import annotations

import re

import numpy as np
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from chatforge.api.errors import error_response

# A JSON string, escapes included: brackets inside strings do not nest anything.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_OPENERS = frozenset(b"[{")
_BRACKETS = bytes(range(256)).translate(None, b"[]{}")


def json_depth(body: bytes) -> int:
    """How deep the objects and lists of a JSON text nest (0 for a scalar)."""
    brackets = _STRING.sub(b'""', body).translate(None, _BRACKETS)
    if not brackets:
        return 0
    codes = np.frombuffer(brackets, dtype=np.uint8)
    steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1)
    return int(np.cumsum(steps).max())


class BodyLimitMiddleware:
    """Refuses JSON bodies that are too large (413) or nest too deep (422).

    Pure ASGI: the body is read into memory (it is small, by this very limit) and handed on
    unchanged; streamed answers pass through untouched.
    """

    def __init__(self, app: ASGIApp, *, max_bytes: int, max_depth: int) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in ("GET", "HEAD", "OPTIONS", "DELETE"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
        if content_type.startswith("multipart/"):
            await self.app(scope, receive, send)
            return
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._too_large(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._too_large(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        if "json" in content_type or body[:1] in (b"{", b"["):
            depth = json_depth(body)
            if depth > self.max_depth:
                message_text = (
                    f"The JSON body nests {depth} levels deep; at most {self.max_depth} "
                    "(CHATFORGE_LIMITS__MAX_JSON_DEPTH)."
                )
                response = error_response(
                    422,
                    "validation_error",
                    message_text,
                    [{"field": "body", "message": message_text}],
                )
                await response(scope, receive, send)
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413,
            "payload_too_large",
            f"The request body is larger than {self.max_bytes:,} bytes "
            "(CHATFORGE_LIMITS__MAX_BODY_BYTES).",
            headers={"Connection": "close"},
        )
        await response(scope, receive, send)
