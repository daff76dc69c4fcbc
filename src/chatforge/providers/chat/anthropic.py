"""Anthropic's Messages API, streamed, spoken over httpx."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx

from chatforge.errors import ProviderError, ProviderUnavailable
from chatforge.providers.chat._http import (
    OFFLINE_HINT,
    Endpoint,
    decode_json,
    iter_sse,
    log_detail,
    open_stream,
)
from chatforge.providers.chat.base import (
    ChatEvent,
    ChatMessage,
    ChatModel,
    ChatRequest,
    TextDelta,
    Usage,
)
from chatforge.providers.chat.spec import ProviderConfig, ProviderSpec

ANTHROPIC_BASE_URL = "https://api.anthropic.com"
ANTHROPIC_VERSION = "2023-06-01"
ANTHROPIC_KEY_SETTING = "CHATFORGE_MODELS__ANTHROPIC_API_KEY"

# Error types of the stream's ``error`` event that mean "later", not "broken".
_TRANSIENT_ERRORS = frozenset({"overloaded_error", "rate_limit_error"})


class AnthropicChatModel(ChatModel):
    """A Claude model behind ``POST /v1/messages`` with ``stream: true``.

    The prompt's system messages become the ``system`` field; the other turns are sent in order,
    consecutive turns of one role merged, because the API wants user and assistant to alternate.
    """

    def __init__(self, name: str, endpoint: Endpoint) -> None:
        """Create the model.

        Args:
            name: The model's name at Anthropic (``"claude-sonnet-4-6"``).
            endpoint: The API's base URL (without ``/v1``) and the key.
        """
        self.provider = endpoint.provider
        self.name = name
        self._endpoint = endpoint

    def __repr__(self) -> str:
        return f"AnthropicChatModel({self.qualified_name!r}, {self._endpoint.display_url!r})"

    def _body(self, request: ChatRequest) -> dict[str, Any]:
        system = "\n\n".join(m.content for m in request.messages if m.role == "system")
        body: dict[str, Any] = {
            "model": self.name,
            "max_tokens": request.max_tokens,
            "messages": _alternating(request.messages),
            "temperature": request.temperature,
            "stream": True,
        }
        if system:
            body["system"] = system
        return body

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        """Stream the answer of the Messages API; see :meth:`ChatModel.stream`."""
        headers = {
            "x-api-key": self._endpoint.api_key or "",
            "anthropic-version": ANTHROPIC_VERSION,
            "Accept": "text/event-stream",
        }
        path = "/messages" if self._endpoint.base_url.endswith("/v1") else "/v1/messages"
        input_tokens = output_tokens = 0
        stopped = False
        async with open_stream(
            self._endpoint, path, headers=headers, body=self._body(request)
        ) as response:
            async for event in iter_sse(response):
                if event.event == "ping":
                    continue
                data = decode_json(self._endpoint, event.data)
                kind = data.get("type", event.event)
                if kind == "message_start":
                    usage = (data.get("message") or {}).get("usage") or {}
                    input_tokens = _input_tokens(usage)
                    output_tokens = int(usage.get("output_tokens") or 0)
                elif kind == "content_block_delta":
                    delta = data.get("delta") or {}
                    if delta.get("type") == "text_delta" and delta.get("text"):
                        yield TextDelta(str(delta["text"]))
                elif kind == "message_delta":
                    usage = data.get("usage") or {}
                    # The counts here are cumulative; input appears only in recent API versions.
                    output_tokens = int(usage.get("output_tokens") or output_tokens)
                    input_tokens = _input_tokens(usage) or input_tokens
                elif kind == "message_stop":
                    stopped = True
                    break
                elif kind == "error":
                    raise self._stream_error(data.get("error"))
        if not stopped:
            raise ProviderError(
                f"{self._endpoint.label} ended the stream before message_stop; the answer may "
                "be incomplete."
            )
        yield Usage(input_tokens, output_tokens)

    def _stream_error(self, error: object) -> ProviderError:
        kind = message = ""
        if isinstance(error, dict):
            kind, message = str(error.get("type") or ""), str(error.get("message") or "")
        log_detail(self._endpoint, f"error event {kind}", message)
        text = f"{self._endpoint.label} failed while answering ({kind or 'unknown error'})"
        if kind in _TRANSIENT_ERRORS:
            return ProviderUnavailable(text + "; try again later.")
        return ProviderError(text)


def _alternating(messages: tuple[ChatMessage, ...]) -> list[dict[str, str]]:
    """The non-system turns, consecutive turns of one role joined into one."""
    turns: list[dict[str, str]] = []
    for message in messages:
        if message.role == "system":
            continue
        if turns and turns[-1]["role"] == message.role:
            turns[-1]["content"] += "\n\n" + message.content
        else:
            turns.append({"role": message.role, "content": message.content})
    return turns


def _input_tokens(usage: dict[str, Any]) -> int:
    # Cached prompt tokens are counted apart from ``input_tokens``; all of them were read.
    keys = ("input_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
    return sum(int(usage.get(key) or 0) for key in keys)


def _build(
    model: str,
    *,
    config: ProviderConfig,
    api_key: str | None,
    http_client: httpx.AsyncClient | None,
) -> ChatModel:
    # ``api_key`` is the chatbot's OpenAI key: never sent to Anthropic.
    hint = f"set {ANTHROPIC_KEY_SETTING}"
    if not config.anthropic_api_key:
        raise ProviderUnavailable(
            f"The model 'anthropic:{model}' needs an Anthropic API key: {hint}, {OFFLINE_HINT}."
        )
    endpoint = Endpoint(
        provider="anthropic",
        label="Anthropic",
        base_url=(config.anthropic_base_url or ANTHROPIC_BASE_URL).rstrip("/"),
        api_key=config.anthropic_api_key,
        key_hint=hint,
        timeout=config.timeout,
        http_client=http_client,
    )
    return AnthropicChatModel(model, endpoint)


ANTHROPIC_SPEC = ProviderSpec(
    name="anthropic",
    factory=_build,
    bare_names=("claude-*",),
    examples=("claude-sonnet-4-6", "anthropic:claude-haiku-4-5"),
)
"""The registry entry of Anthropic; ``claude-*`` names resolve to it bare."""
