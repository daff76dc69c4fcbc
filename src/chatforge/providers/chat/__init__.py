"""Chat models: one streaming interface, providers registered by name.

A model is named ``provider:model`` (``openai:gpt-4o-mini``, ``ollama:llama3.2``,
``anthropic:claude-sonnet-4-6``, ``extractive``); okchat's bare names resolve to their provider.
Build models with :class:`ModelRegistry`, stream with :meth:`ChatModel.stream`, or fold the stream
with :func:`complete`. No module here imports the web framework, the database or the services.
"""

from chatforge.providers.chat.anthropic import AnthropicChatModel
from chatforge.providers.chat.base import (
    CITATION_MARKER,
    ChatEvent,
    ChatMessage,
    ChatModel,
    ChatRequest,
    Completion,
    Passage,
    TextDelta,
    Usage,
    complete,
    estimate_tokens,
    streaming,
)
from chatforge.providers.chat.extractive import (
    NOT_FOUND_ANSWER,
    ExtractiveModel,
    SentenceScorer,
    extractive_spec,
)
from chatforge.providers.chat.openai import OPENAI_COMPATIBLE, OpenAIChatModel, OpenAICompatible
from chatforge.providers.chat.registry import (
    ENTRY_POINT_GROUP,
    OFFLINE_MODEL,
    ModelRegistry,
    default_model,
)
from chatforge.providers.chat.spec import ChatModelFactory, ProviderConfig, ProviderSpec

__all__ = [
    "CITATION_MARKER",
    "ENTRY_POINT_GROUP",
    "NOT_FOUND_ANSWER",
    "OFFLINE_MODEL",
    "OPENAI_COMPATIBLE",
    "AnthropicChatModel",
    "ChatEvent",
    "ChatMessage",
    "ChatModel",
    "ChatModelFactory",
    "ChatRequest",
    "Completion",
    "ExtractiveModel",
    "ModelRegistry",
    "OpenAIChatModel",
    "OpenAICompatible",
    "Passage",
    "ProviderConfig",
    "ProviderSpec",
    "SentenceScorer",
    "TextDelta",
    "Usage",
    "complete",
    "default_model",
    "estimate_tokens",
    "extractive_spec",
    "streaming",
]
