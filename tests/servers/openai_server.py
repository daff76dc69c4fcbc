"""A fake OpenAI Chat Completions server on 127.0.0.1, for tests.

It speaks the wire format of ``POST /v1/chat/completions`` (streamed as ``chat.completion.chunk``
SSE events ending in ``data: [DONE]``, with the usage chunk that ``stream_options.include_usage``
asks for, or as one ``chat.completion`` object) and ``GET /v1/models``. Usage::

    with openai_server(api_key="sk-test") as server:
        server.script(Reply(text="Paris."), Reply(status=429, headers={"Retry-After": "7"}))
        ...  # point a client at server.base_url
        assert server.last_request.body["model"] == "gpt-4o-mini"
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.servers.base import Exchange, FakeServer, RecordedRequest, Reply, serve

__all__ = ["OpenAIServer", "Reply", "openai_server"]

_ERROR_TYPES = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
}


class OpenAIServer(FakeServer):
    """The OpenAI protocol over the shared fake server; see :class:`tests.servers.base.Reply`."""

    models: tuple[str, ...] = ("gpt-4o-mini", "gpt-4o")

    def handle(self, exchange: Exchange) -> None:
        request = exchange.request
        if request.method == "GET" and request.path == "/v1/models":
            data = [
                {"id": m, "object": "model", "created": 0, "owned_by": "fake"} for m in self.models
            ]
            exchange.send_json(200, {"object": "list", "data": data})
            return
        if request.method != "POST" or request.path != "/v1/chat/completions":
            exchange.send_json(404, _error(f"Unknown path {request.path}", 404))
            return
        reply = self.next_reply(request)
        if reply.delay and self.stopping.wait(reply.delay):
            return
        sent = request.headers.get("authorization", "").removeprefix("Bearer ")
        if self.api_key is not None and sent != self.api_key:
            # As OpenAI does: the refused key is quoted back, partly masked.
            message = (
                f"Incorrect API key provided: {sent[:6]}***{sent[-4:]}. You can find your API "
                "key at https://platform.openai.com/account/api-keys."
            )
            exchange.send_json(401, _error(message, 401))
            return
        if reply.status >= 400:
            body = reply.body or _error(f"Scripted failure {reply.status}", reply.status)
            exchange.send_json(reply.status, body, reply.headers)
            return
        problem = _invalid(request.body)
        if problem:
            exchange.send_json(400, _error(problem, 400))
            return
        if request.body.get("stream"):
            self._stream(exchange, reply)
        else:
            exchange.send_json(200, _completion(request, reply), reply.headers)

    def _stream(self, exchange: Exchange, reply: Reply) -> None:
        request = exchange.request
        include_usage = bool((request.body.get("stream_options") or {}).get("include_usage"))
        chunk_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"

        def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            payload: dict[str, Any] = {
                "id": chunk_id,
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": request.body["model"],
                "system_fingerprint": "fp_fake",
                "choices": [
                    {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
                ],
            }
            if include_usage:
                payload["usage"] = None
            return payload

        exchange.start_stream(reply.headers)
        exchange.send_event(_dumps(chunk({"role": "assistant", "content": ""})))
        for index, piece in enumerate(reply.pieces_for(request)):
            if reply.close_after is not None and index >= reply.close_after:
                exchange.drop()
                return
            if reply.chunk_delay and self.stopping.wait(reply.chunk_delay):
                return
            exchange.send_event(_dumps(chunk({"content": piece})))
        if reply.close_after is not None:
            exchange.drop()
            return
        if reply.stream_error is not None:
            error = {
                "message": reply.stream_error,
                "type": "server_error",
                "param": None,
                "code": None,
            }
            exchange.send_event(_dumps({"error": error}))
            exchange.end_stream()
            return
        exchange.send_event(_dumps(chunk({}, "stop")))
        if include_usage and reply.report_usage:
            final = chunk({})
            final["choices"] = []
            final["usage"] = _usage(request, reply)
            exchange.send_event(_dumps(final))
        if reply.end:
            exchange.send_event("[DONE]")
        exchange.end_stream()


def _invalid(body: dict[str, Any]) -> str:
    """What OpenAI would refuse in ``body`` with a 400, or ``""``."""
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "you must provide a model parameter"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "'messages' must be a non-empty array"
    for message in messages:
        if message.get("role") not in ("system", "developer", "user", "assistant", "tool"):
            return f"Invalid value for 'role': {message.get('role')!r}"
    if "max_tokens" in body and "max_completion_tokens" in body:
        return "max_tokens and max_completion_tokens cannot both be set"
    return ""


def _usage(request: RecordedRequest, reply: Reply) -> dict[str, int]:
    prompt, completion = reply.usage_for(request)
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _completion(request: RecordedRequest, reply: Reply) -> dict[str, Any]:
    message = {"role": "assistant", "content": reply.answer_for(request), "refusal": None}
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.body["model"],
        "system_fingerprint": "fp_fake",
        "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}],
        "usage": _usage(request, reply),
    }


def _error(message: str, status: int) -> dict[str, Any]:
    kind, code = _ERROR_TYPES.get(status, ("server_error", None))
    return {"error": {"message": message, "type": kind, "param": None, "code": code}}


def _dumps(payload: Any) -> str:
    return json.dumps(payload, separators=(",", ":"))


@contextmanager
def openai_server(*, api_key: str | None = None) -> Iterator[OpenAIServer]:
    """Run an :class:`OpenAIServer`; its ``base_url`` ends in ``/v1`` as OpenAI's does."""
    with serve(OpenAIServer(api_key=api_key), path_prefix="/v1") as server:
        yield server
