"""What every service needs, made once by :func:`chatforge.app.create_app` (or the CLI)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from chatforge.providers.embeddings import Embedder, make_embedder
from chatforge.providers.files import FileStore, LocalFileStore
from chatforge.providers.web import WebFetcher
from chatforge.services.secrets import SecretBox
from chatforge.settings import Settings
from chatforge.storage.db import create_db_engine, make_sessionmaker
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
    _embedder: Embedder | None = None
    _search_index: SearchIndex | None = None
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
            else engine
        )
        return cls(
            read_engine=read_engine,
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
                self._embedder = make_embedder(
                    config.model,
                    api_key=config.api_key.get_secret_value() if config.api_key else None,
                    base_url=config.base_url,
                    threads=config.threads,
                    batch_size=config.batch_size,
                )
            return self._embedder

    @property
    def search_index(self) -> SearchIndex:
        """The keyword and vector indexes of this database."""
        with self._lock:
            if self._search_index is None:
                # Knowing the size does not load a local model; that waits for the first text.
                self._search_index = make_search_index(
                    self.engine.dialect.name, self.embedder.dimensions
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

    def reader(self) -> Engine:
        """The engine for read-only work (search): on SQLite it never waits for the write lock."""
        return self.read_engine or self.engine

    def close(self) -> None:
        """Release database connections."""
        self.engine.dispose()
        if self.read_engine is not None and self.read_engine is not self.engine:
            self.read_engine.dispose()
