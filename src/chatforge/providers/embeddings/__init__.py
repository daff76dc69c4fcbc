"""Embedding models: one interface, the offline default and an OpenAI-compatible client.

    Embedder                    the interface: embed(texts) -> unit vectors, count_tokens(text)
    ├── LocalMiniLMEmbedder     all-MiniLM-L6-v2 int8 on onnxruntime ("local")
    └── OpenAICompatibleEmbedder  any POST /embeddings server ("openai:<model>", "ollama:<model>")

:func:`make_embedder` builds one from its ``provider:model`` name.
"""

from __future__ import annotations

from chatforge.providers.embeddings.base import Embedder, Vectors, normalise
from chatforge.providers.embeddings.local import LocalMiniLMEmbedder
from chatforge.providers.embeddings.openai import OpenAICompatibleEmbedder
from chatforge.providers.embeddings.registry import (
    EmbedderOptions,
    make_embedder,
    register_embedder,
)

__all__ = [
    "Embedder",
    "EmbedderOptions",
    "LocalMiniLMEmbedder",
    "OpenAICompatibleEmbedder",
    "Vectors",
    "make_embedder",
    "normalise",
    "register_embedder",
]
