"""What every service needs, made once by :func:`chatforge.app.create_app` (or the CLI)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import SecretStr
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

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
from chatforge.providers.files import FileStore, LocalFileStore
from chatforge.providers.web import WebFetcher
from chatforge.services.knowledge.indexing import chunk_terms
from chatforge.services.knowledge.waiting import Waiters
from chatforge.services.secrets import SecretBox
from chatforge.settings import Settings
from chatforge.storage.db import create_db_engine, make_sessionmaker
from chatforge.storage.memory_index import MemorySearchIndex
from chatforge.storage.search import SearchIndex, make_search_index


@dataclass
class AppContext:
    """The wired parts of one Chatforge instance: settings, database, files, secrets."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    files: FileStore
    secrets: SecretBox
    public_base_url: str
    tmp_dir: Path = field(default_factory=Path)
    read_engine: Engine | None = None
    #: Sessions on ``read_engine`` for requests that only read (GET): on SQLite they never take
    #: the write lock, so reads neither queue behind writers nor make writers queue.
    read_sessions: sessionmaker[Session] | None = None
    #: The ``?wait=true`` requests waiting in this process
    #: (:mod:`chatforge.services.knowledge.waiting`).
    waiters: Waiters = field(default_factory=Waiters)
    _embedder: Embedder | None = None
    _search_index: SearchIndex | None = None
    _models: ModelRegistry | None = None
    #: Set once the start-up load of chatbots into search memory is over (``warm_search``).
    search_warmed: threading.Event = field(default_factory=threading.Event)
    _lock: threading.RLock = field(default_factory=threading.RLock)

    @classmethod
    def build(cls, settings: Settings, *, public_base_url: str | None = None) -> AppContext:
        """Wire a context from settings: creates the data directory, engine and stores."""
        data_dir = settings.data_dir.resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp_dir = data_dir / "tmp"
        tmp_dir.mkdir(exist_ok=True)
        engine = create_db_engine(settings.resolved_database_url())
        read_engine = (
            create_db_engine(settings.resolved_database_url(), read_only=True)
            if engine.dialect.name == "sqlite"
            # Reads need no transaction of their own on PostgreSQL (each statement already sees
            # its own snapshot under READ COMMITTED): no BEGIN and ROLLBACK round trips.
            else engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        return cls(
            read_engine=read_engine,
            read_sessions=make_sessionmaker(read_engine),
            settings=settings,
            engine=engine,
            sessions=make_sessionmaker(engine),
            files=LocalFileStore(data_dir / "files"),
            secrets=SecretBox.from_settings(settings),
            public_base_url=public_base_url or settings.resolved_public_base_url(),
            tmp_dir=tmp_dir,
        )

    @property
    def embedder(self) -> Embedder:
        """The embedding model, made on first use (loading it takes a moment)."""
        with self._lock:
            if self._embedder is None:
                config = self.settings.embeddings
                self._embedder = QueryEmbedder(
                    make_embedder(
                        config.model,
                        api_key=config.api_key.get_secret_value() if config.api_key else None,
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
    def models(self) -> ModelRegistry:
        """The chat-model registry, made on first use from ``settings.models``."""
        with self._lock:
            if self._models is None:
                self._models = self._build_models()
            return self._models

    def default_model(self) -> str:
        """The model of a chatbot created without one (``CHATFORGE_MODELS__DEFAULT``).

        Raises:
            ChatforgeError: The configured default names no known model (a server
                misconfiguration, so a 500 that names the setting).
        """
        configured = self.settings.models.default
        if not configured:
            return self.models.default_model()
        try:
            self.models.resolve(configured)
        except ValidationFailed as exc:
            raise ChatforgeError(
                f"CHATFORGE_MODELS__DEFAULT is set to an unknown model: {exc.message}"
            ) from exc
        return configured

    def _build_models(self) -> ModelRegistry:
        config = self.settings.models
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

    @property
    def search_index(self) -> SearchIndex:
        """The keyword and vector indexes of this database."""
        with self._lock:
            if self._search_index is None:
                # Knowing the size does not load a local model; that waits for the first text.
                index = make_search_index(self.engine.dialect.name, self.embedder.dimensions)
                self._search_index = MemorySearchIndex(
                    index, memory_mb=self.settings.search.memory_mb, terms_of=chunk_terms
                )
            return self._search_index

    def ensure_search_index(self) -> None:
        """Create the vector index for the configured embedder when missing."""
        with self.engine.begin() as conn:
            self.search_index.ensure(conn)

    def web_fetcher(self) -> WebFetcher:
        """A fetcher for URL sources, guarded against server-side request forgery."""
        return WebFetcher(allow_private_addresses=self.settings.security.allow_private_addresses)

    def media_url(self, key: str) -> str:
        """The public URL of a publicly served file (avatars)."""
        return f"{self.public_base_url}/media/{key}"

    def request_sessions(self, *, read_only: bool) -> sessionmaker[Session]:
        """The session factory of a request: the read one for a request that only reads."""
        return (self.read_sessions or self.sessions) if read_only else self.sessions

    def reader(self) -> Engine:
        """The engine for read-only work (search): on SQLite it never waits for the write lock."""
        return self.read_engine or self.engine

    def close(self) -> None:
        """Release database connections."""
        self.engine.dispose()
        if self.read_engine is not None and self.read_engine.pool is not self.engine.pool:
            self.read_engine.dispose()


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None
