"""How a chat provider plugs in: its configuration and its registration record.

A provider is a :class:`ProviderSpec`: a name, a factory that builds its models, and the bare
model names (okchat's ``gpt-4o-mini``) it claims. Built-in providers are specs exactly like a
plugin's, and they read their settings from one explicit :class:`ProviderConfig`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from chatforge.providers.chat.base import ChatModel


@dataclass(frozen=True)
class ProviderConfig:
    """The server's chat-provider settings, passed explicitly (no global settings).

    Attributes:
        openai_api_key: The server's OpenAI key (``CHATFORGE_MODELS__OPENAI_API_KEY``); a
            chatbot's own ``openai_api_key`` takes precedence.
        openai_base_url: OpenAI's base URL, or any OpenAI-compatible server's; None for OpenAI.
            When it points elsewhere, OpenAI model names work without a key.
        anthropic_api_key: The server's Anthropic key (``CHATFORGE_MODELS__ANTHROPIC_API_KEY``).
        anthropic_base_url: The Messages API's base URL, without ``/v1``; None for Anthropic.
        timeout: Seconds to wait to connect to a provider and between two chunks of an answer.
        extra_openai_compatible: More OpenAI-compatible servers, name to base URL (ending in
            ``/v1``). A name of the built-in table (``ollama``) moves that server; a new name
            adds a provider that needs no key.
        api_keys: Keys of the other OpenAI-compatible providers, by provider name
            (``{"groq": ...}``, from ``CHATFORGE_MODELS__API_KEYS__GROQ``).
    """

    openai_api_key: str | None = field(default=None, repr=False)
    openai_base_url: str | None = None
    anthropic_api_key: str | None = field(default=None, repr=False)
    anthropic_base_url: str | None = None
    timeout: float = 60.0
    extra_openai_compatible: Mapping[str, str] = field(default_factory=dict)
    api_keys: Mapping[str, str] = field(default_factory=dict, repr=False)


class ChatModelFactory(Protocol):
    """Builds the model named ``model`` of one provider.

    Args:
        model: The model part of ``provider:model``.
        config: The server's provider settings.
        api_key: The chatbot's own key (its ``openai_api_key``), or None. Providers other than
            OpenAI ignore it, so that a chatbot's OpenAI key is never sent elsewhere.
        http_client: A shared HTTP client, or None to open one per call.

    Raises:
        ProviderUnavailable: The provider needs a key and none is set.
        ValidationFailed: The provider has no such model.
    """

    def __call__(
        self,
        model: str,
        *,
        config: ProviderConfig,
        api_key: str | None,
        http_client: httpx.AsyncClient | None,
    ) -> ChatModel: ...


@dataclass(frozen=True)
class ProviderSpec:
    """A chat provider as the registry knows it.

    Attributes:
        name: The provider's name, the prefix of ``name:model``.
        factory: Builds its models.
        bare_names: Glob patterns (``fnmatch``, case-sensitive) of model names that resolve to
            this provider without a prefix, such as okchat's ``gpt-4o-mini``.
        models: The only model names it has, or None when it takes any name (a server decides).
        examples: Model names shown when a name is unknown.
    """

    name: str
    factory: ChatModelFactory
    bare_names: tuple[str, ...] = ()
    models: tuple[str, ...] | None = None
    examples: tuple[str, ...] = ()
