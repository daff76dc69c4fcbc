"""The models of one Chatforge instance and the search index sized to its embedder.

Each is made on first use: loading the local embedding model takes a moment, and a command that
never searches never pays for it.
"""

from __future__ import annotations

import threading

from pydantic import SecretStr
from sqlalchemy import Engine

from chatforge.errors import ChatforgeError, ValidationFailed
from chatforge.providers.chat import (
    ExtractiveModel,
    ModelRegistry,
    ProviderConfig,
    SentenceScorer,
    extractive_spec,
)
from chatforge.providers.embeddings import Embedder, make_embedder
from chatforge.providers.embeddings.queries import QueryEmbedder
from chatforge.services.knowledge.indexing import chunk_terms
from chatforge.settings import Settings
from chatforge.storage.memory_index import MemorySearchIndex
from chatforge.storage.search import SearchIndex, make_search_index


class ModelSet:
    """The embedder, the chat-model registry and the search index, made once each on first use."""

    def __init__(self, settings: Settings, dialect: str) -> None:
        self._settings = settings
        self._dialect = dialect
        self._embedder: Embedder | None = None
        self._registry: ModelRegistry | None = None
        self._search_index: SearchIndex | None = None
        self._lock = threading.RLock()
        #: Set once the start-up load of chatbots into search memory is over (``warm_search``).
        self.search_warmed = threading.Event()

    @property
    def embedder(self) -> Embedder:
        """The embedding model (``settings.embeddings``)."""
        with self._lock:
            if self._embedder is None:
                config = self._settings.embeddings
                self._embedder = QueryEmbedder(
                    make_embedder(
                        config.model,
                        api_key=_secret(config.api_key),
                        base_url=config.base_url,
                        threads=config.threads,
                        batch_size=config.batch_size,
                    )
                )
            return self._embedder

    def use_embedder(self, embedder: Embedder) -> None:
        """Replace the configured embedder (evaluations wrap it in a cache)."""
        with self._lock:
            self._embedder = embedder

    @property
    def registry(self) -> ModelRegistry:
        """The chat models (``settings.models``)."""
        with self._lock:
            if self._registry is None:
                self._registry = self._build_registry()
            return self._registry

    def default_model(self) -> str:
        """The model of a chatbot created without one (``CHATFORGE_MODELS__DEFAULT``).

        Raises:
            ChatforgeError: The configured default names no known model (a server
                misconfiguration, so a 500 that names the setting).
        """
        configured = self._settings.models.default
        if not configured:
            return self.registry.default_model()
        try:
            self.registry.resolve(configured)
        except ValidationFailed as exc:
            raise ChatforgeError(
                f"CHATFORGE_MODELS__DEFAULT is set to an unknown model: {exc.message}"
            ) from exc
        return configured

    @property
    def search_index(self) -> SearchIndex:
        """The keyword and vector indexes of this database, with chatbots held in memory."""
        with self._lock:
            if self._search_index is None:
                # Knowing the size does not load a local model; that waits for the first text.
                index = make_search_index(self._dialect, self.embedder.dimensions)
                self._search_index = MemorySearchIndex(
                    index, memory_mb=self._settings.search.memory_mb, terms_of=chunk_terms
                )
            return self._search_index

    def ensure_search_index(self, engine: Engine) -> None:
        """Create the vector index for the configured embedder when missing."""
        with engine.begin() as conn:
            self.search_index.ensure(conn)

    def _build_registry(self) -> ModelRegistry:
        config = self._settings.models
        registry = ModelRegistry.with_builtins(
            ProviderConfig(
                openai_api_key=_secret(config.openai_api_key),
                openai_base_url=config.openai_base_url,
                anthropic_api_key=_secret(config.anthropic_api_key),
                anthropic_base_url=config.anthropic_base_url,
                timeout=config.timeout_seconds,
                extra_openai_compatible=dict(config.compatible_base_urls),
                api_keys={name: key.get_secret_value() for name, key in config.api_keys.items()},
            )
        )
        if config.extractive_semantic:
            # The provider's advice: serve the extractive model with the embedder's cosine, so
            # that paraphrases are quotable. Off by default: it embeds every retrieved sentence.
            # A paraphrase shares no word with the question, so its hybrid similarity is low:
            # the sentence scorer, not the similarity floor, decides what is quotable.
            model = ExtractiveModel(score_sentences=self._sentence_scorer(), min_similarity=0.0)
            registry.register(extractive_spec(model), replace=True)
        return registry

    def _sentence_scorer(self) -> SentenceScorer:
        def score(question: str, sentences: list[str]) -> list[float]:
            vectors = self.embedder.embed([question, *sentences])
            return [float(v) for v in vectors[1:] @ vectors[0]]

        return score


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None
