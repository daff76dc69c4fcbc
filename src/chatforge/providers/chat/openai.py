"""OpenAI Chat Completions, spoken over httpx, for OpenAI and every compatible server.

The wire format lives in :class:`OpenAIChatModel`; where to send it lives in a table row,
:class:`OpenAICompatible`. Adding a compatible server (a local runtime or a hosted API) is one line
in :data:`OPENAI_COMPATIBLE`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

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
    ChatModel,
    ChatRequest,
    TextDelta,
    Usage,
    estimate_tokens,
)
from chatforge.providers.chat.spec import ChatModelFactory, ProviderConfig, ProviderSpec


@dataclass(frozen=True)
class OpenAICompatible:
    """One row of the table of OpenAI-compatible providers.

    Attributes:
        name: Registry name, the prefix of ``name:model``.
        label: Human name used in error messages.
        base_url: Default base URL, the one that ends in ``/v1``.
        key_required: Whether the server refuses calls without a key (hosted APIs do, local
            runtimes do not).
        max_tokens_field: How the server names the answer's token limit. OpenAI's own API wants
            ``max_completion_tokens`` (its reasoning models refuse ``max_tokens``); compatible
            servers mostly know only ``max_tokens``.
    """

    name: str
    label: str
    base_url: str
    key_required: bool = False
    max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens"

    @property
    def local(self) -> bool:
        """A runtime on the operator's own machines (its default address is this machine's)."""
        return httpx.URL(self.base_url).host in ("localhost", "127.0.0.1", "::1")

    @property
    def key_setting(self) -> str:
        """The server setting that holds this provider's key.

        ``CHATFORGE_MODELS__OPENAI_API_KEY`` for OpenAI, ``CHATFORGE_MODELS__API_KEYS__GROQ`` for
        the others (see :class:`chatforge.settings.ModelSettings`).
        """
        if self.name == "openai":
            return "CHATFORGE_MODELS__OPENAI_API_KEY"
        return f"CHATFORGE_MODELS__API_KEYS__{self.name.upper()}"


OPENAI_COMPATIBLE: tuple[OpenAICompatible, ...] = (
    OpenAICompatible(
        "openai", "OpenAI", "https://api.openai.com/v1", True, "max_completion_tokens"
    ),
    OpenAICompatible("ollama", "Ollama", "http://localhost:11434/v1"),
    OpenAICompatible("vllm", "vLLM", "http://localhost:8000/v1"),
    OpenAICompatible("lmstudio", "LM Studio", "http://localhost:1234/v1"),
    OpenAICompatible("llamacpp", "llama.cpp server", "http://localhost:8080/v1"),
    OpenAICompatible("groq", "Groq", "https://api.groq.com/openai/v1", key_required=True),
    OpenAICompatible("openrouter", "OpenRouter", "https://openrouter.ai/api/v1", key_required=True),
    OpenAICompatible("deepseek", "DeepSeek", "https://api.deepseek.com/v1", key_required=True),
    OpenAICompatible("mistral", "Mistral", "https://api.mistral.ai/v1", key_required=True),
)
"""The known OpenAI-compatible providers: one line each."""

OPENAI_BARE_NAMES = (
    "gpt-4o",
    "gpt-4o-*",
    "chatgpt-4o-latest",
    "gpt-4.1*",
    "gpt-4",
    "gpt-4-*",
    "gpt-3.5-turbo*",
    "gpt-5*",
    "o1",
    "o1-*",
    "o3",
    "o3-*",
    "o4-mini",
    "o4-mini-*",
)
"""okchat's bare model names, all OpenAI's: ``gpt-4o-mini`` means ``openai:gpt-4o-mini``."""

# OpenAI's reasoning models accept only the default temperature.
_FIXED_TEMPERATURE_PREFIXES = ("o1", "o3", "o4", "gpt-5")


class OpenAIChatModel(ChatModel):
    """A model behind an OpenAI-compatible ``/chat/completions`` endpoint, streamed.

    Usage comes from the final chunk that ``stream_options.include_usage`` asks for; servers that
    do not send it get their usage estimated by counting words.
    """

    def __init__(
        self,
        name: str,
        endpoint: Endpoint,
        *,
        max_tokens_field: Literal["max_tokens", "max_completion_tokens"] = "max_tokens",
    ) -> None:
        """Create the model.

        Args:
            name: The model's name at the server (``"gpt-4o-mini"``, ``"llama3.2:3b"``).
            endpoint: Where the server is and the key it wants.
            max_tokens_field: The body field that carries ``request.max_tokens``.
        """
        self.provider = endpoint.provider
        self.name = name
        self._endpoint = endpoint
        self._max_tokens_field = max_tokens_field

    def __repr__(self) -> str:
        return f"OpenAIChatModel({self.qualified_name!r}, {self._endpoint.display_url!r})"

    def _body(self, request: ChatRequest) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.name,
            "messages": [{"role": m.role, "content": m.content} for m in request.messages],
            "stream": True,
            "stream_options": {"include_usage": True},
            self._max_tokens_field: request.max_tokens,
        }
        if not self.name.startswith(_FIXED_TEMPERATURE_PREFIXES):
            body["temperature"] = request.temperature
        return body

    async def stream(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        """Stream the answer of the ``/chat/completions`` endpoint; see :meth:`ChatModel.stream`."""
        headers = {"Accept": "text/event-stream"}
        if self._endpoint.api_key:
            headers["Authorization"] = f"Bearer {self._endpoint.api_key}"
        usage: Usage | None = None
        output: list[str] = []
        done = False
        async with open_stream(
            self._endpoint, "/chat/completions", headers=headers, body=self._body(request)
        ) as response:
            async for event in iter_sse(response):
                if event.data.strip() == "[DONE]":
                    done = True
                    break
                chunk = decode_json(self._endpoint, event.data)
                if "error" in chunk:  # OpenAI reports failures after the 200 inside the stream
                    raise ProviderError(self._stream_error(chunk["error"]))
                if isinstance(chunk.get("usage"), dict):
                    usage = _usage(chunk["usage"])
                for choice in chunk.get("choices") or ():
                    text = (choice.get("delta") or {}).get("content")
                    if isinstance(text, str) and text:
                        output.append(text)
                        yield TextDelta(text)
        if not done:
            raise ProviderError(
                f"{self._endpoint.label} ended the stream before its end marker; the answer may "
                "be incomplete."
            )
        if usage is None:
            prompt = " ".join(m.content for m in request.messages)
            usage = Usage(estimate_tokens(prompt), estimate_tokens("".join(output)))
        yield usage

    def _stream_error(self, error: object) -> str:
        message = error.get("message") if isinstance(error, dict) else error
        log_detail(self._endpoint, "error event", str(message or ""))
        return f"{self._endpoint.label} failed while answering (its message is in the server log)."


def _usage(raw: dict[str, Any]) -> Usage:
    return Usage(int(raw.get("prompt_tokens") or 0), int(raw.get("completion_tokens") or 0))


def openai_compatible_spec(row: OpenAICompatible) -> ProviderSpec:
    """The registry entry of one OpenAI-compatible provider of the table (or of the config)."""
    is_openai = row.name == "openai"
    examples = {"openai": ("gpt-4o-mini", "openai:gpt-4.1-mini"), "ollama": ("ollama:llama3.2",)}
    return ProviderSpec(
        name=row.name,
        factory=_compatible_factory(row),
        bare_names=OPENAI_BARE_NAMES if is_openai else (),
        examples=examples.get(row.name, ()),
    )


def _compatible_factory(row: OpenAICompatible) -> ChatModelFactory:
    def build(
        model: str,
        *,
        config: ProviderConfig,
        api_key: str | None,
        http_client: httpx.AsyncClient | None,
    ) -> ChatModel:
        if row.name == "openai":
            base_url = config.openai_base_url or row.base_url
            # The chatbot's own key first; it is only ever sent to the OpenAI base URL.
            key = api_key or config.openai_api_key
            hint = f"set {row.key_setting} or the chatbot's openai_api_key"
        else:
            base_url = config.extra_openai_compatible.get(row.name) or row.base_url
            key = config.api_keys.get(row.name)
            hint = f"set {row.key_setting}"
        # A key is needed by the hosted API itself, not by another server put at its name.
        if row.key_required and not key and base_url.rstrip("/") == row.base_url:
            raise ProviderUnavailable(
                f"The model '{row.name}:{model}' needs an API key for {row.label}: {hint}, "
                f"{OFFLINE_HINT}."
            )
        endpoint = Endpoint(
            provider=row.name,
            label=row.label,
            base_url=base_url.rstrip("/"),
            api_key=key,
            key_hint=hint,
            timeout=config.timeout,
            http_client=http_client,
        )
        return OpenAIChatModel(model, endpoint, max_tokens_field=row.max_tokens_field)

    return build
