"""A fake Anthropic Messages server on 127.0.0.1, for tests.

It speaks the wire format of ``POST /v1/messages``: with ``stream: true`` the typed SSE events
(``message_start``, ``content_block_start``, ``ping``, ``content_block_delta``,
``content_block_stop``, ``message_delta``, ``message_stop``, or ``error``), otherwise one
``message`` object. It checks what the real API checks that a client could get wrong: the
key and ``anthropic-version`` headers, ``max_tokens``, and that ``messages`` holds only
``user`` and ``assistant`` turns (the system prompt belongs in ``system``). Usage::

    with anthropic_server(api_key="sk-ant-test") as server:
        server.script(Reply(text="Paris."))
        ...  # point a client at server.base_url (no /v1, as Anthropic's SDK expects)
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.servers.base import Exchange, FakeServer, Reply, serve

__all__ = ["AnthropicServer", "Reply", "anthropic_server"]

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


class AnthropicServer(FakeServer):
    """The Anthropic protocol over the shared fake server; see :class:`tests.servers.base.Reply`.

    ``Reply.stream_error`` sends an ``overloaded_error`` event carrying that message.
    """

    def handle(self, exchange: Exchange) -> None:
        request = exchange.request
        if request.method != "POST" or request.path != "/v1/messages":
            exchange.send_json(404, _error(f"Unknown path {request.path}", 404))
            return
        reply = self.next_reply(request)
        if reply.delay and self.stopping.wait(reply.delay):
            return
        # The API takes the key as ``x-api-key`` or, from recent SDKs, as a Bearer token.
        bearer = request.headers.get("authorization", "").removeprefix("Bearer ")
        sent = request.headers.get("x-api-key") or bearer
        if self.api_key is not None and sent != self.api_key:
            exchange.send_json(401, _error("invalid x-api-key", 401))
            return
        if reply.status >= 400:
            body = reply.body or _error(f"Scripted failure {reply.status}", reply.status)
            exchange.send_json(reply.status, body, reply.headers)
            return
        problem = _invalid(request.headers, request.body)
        if problem:
            exchange.send_json(400, _error(problem, 400))
            return
        if request.body.get("stream"):
            self._stream(exchange, reply)
        else:
            exchange.send_json(200, _message(exchange, reply), reply.headers)

    def _stream(self, exchange: Exchange, reply: Reply) -> None:
        request = exchange.request
        input_tokens, output_tokens = reply.usage_for(request)

        def send(kind: str, payload: dict[str, Any]) -> None:
            exchange.send_event(json.dumps({"type": kind, **payload}), event=kind)

        exchange.start_stream(reply.headers)
        start = _message(exchange, reply)
        start.update(content=[], stop_reason=None)
        start["usage"] = {"input_tokens": input_tokens, "output_tokens": 1}
        send("message_start", {"message": start})
        send("content_block_start", {"index": 0, "content_block": {"type": "text", "text": ""}})
        send("ping", {})
        for index, piece in enumerate(reply.pieces_for(request)):
            if reply.close_after is not None and index >= reply.close_after:
                exchange.drop()
                return
            if reply.chunk_delay and self.stopping.wait(reply.chunk_delay):
                return
            delta = {"type": "text_delta", "text": piece}
            send("content_block_delta", {"index": 0, "delta": delta})
        if reply.close_after is not None:
            exchange.drop()
            return
        if reply.stream_error is not None:
            error = {"type": "overloaded_error", "message": reply.stream_error}
            send("error", {"error": error})
            exchange.end_stream()
            return
        send("content_block_stop", {"index": 0})
        stop = {"stop_reason": "end_turn", "stop_sequence": None}
        send("message_delta", {"delta": stop, "usage": {"output_tokens": output_tokens}})
        if reply.end:
            send("message_stop", {})
        exchange.end_stream()


def _invalid(headers: dict[str, str], body: dict[str, Any]) -> str:
    """What the Messages API would refuse with a 400, or ``""``."""
    if "anthropic-version" not in headers:
        return "anthropic-version: header is required"
    if not isinstance(body.get("model"), str):
        return "model: Field required"
    if not isinstance(body.get("max_tokens"), int):
        return "max_tokens: Field required"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "messages: at least one message is required"
    for index, message in enumerate(messages):
        if message.get("role") not in ("user", "assistant"):
            return f"messages.{index}.role: Input should be 'user' or 'assistant'"
    if "system" in body and not isinstance(body["system"], (str, list)):
        return "system: Input should be a valid string or list"
    return ""


def _message(exchange: Exchange, reply: Reply) -> dict[str, Any]:
    request = exchange.request
    input_tokens, output_tokens = reply.usage_for(request)
    return {
        "id": f"msg_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": request.body["model"],
        "content": [{"type": "text", "text": reply.answer_for(request)}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": input_tokens, "output_tokens": output_tokens},
    }


def _error(message: str, status: int) -> dict[str, Any]:
    kind = _ERROR_TYPES.get(status, "api_error")
    return {"type": "error", "error": {"type": kind, "message": message}}


@contextmanager
def anthropic_server(*, api_key: str | None = None) -> Iterator[AnthropicServer]:
    """Run an :class:`AnthropicServer`; its ``base_url`` has no ``/v1``, like Anthropic's."""
    with serve(AnthropicServer(api_key=api_key), path_prefix="") as server:
        yield server
