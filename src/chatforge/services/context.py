"""What the services of one Chatforge instance share, made once by :func:`chatforge.app.create_app`
(or the CLI).

The context is the composition root: it holds the parts (settings, the database, the models, the
file store, the secret box) and hands each service what it uses. A service that needs one or two
parts takes those (:class:`~chatforge.services.search.retrieval.Retriever` takes the database and
the models; :mod:`~chatforge.services.accounts.keys` takes the database); a use case that works
across most of them (chat, knowledge) takes the context.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from chatforge.providers.files import FileStore, LocalFileStore
from chatforge.providers.web import WebFetcher
from chatforge.services.knowledge.waiting import Waiters
from chatforge.services.model_set import ModelSet
from chatforge.services.secrets import SecretBox
from chatforge.settings import Settings
from chatforge.storage.db import Database


@dataclass
class AppContext:
    """The wired parts of one Chatforge instance."""

    settings: Settings
    db: Database
    models: ModelSet
    files: FileStore
    secrets: SecretBox
    public_base_url: str
    tmp_dir: Path = field(default_factory=Path)
    #: The ``?wait=true`` requests waiting in this process
    #: (:mod:`chatforge.services.knowledge.waiting`).
    waiters: Waiters = field(default_factory=Waiters)

    @classmethod
    def build(cls, settings: Settings, *, public_base_url: str | None = None) -> AppContext:
        """Wire a context from settings: creates the data directory, engines and stores."""
        data_dir = settings.data_dir.resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp_dir = data_dir / "tmp"
        tmp_dir.mkdir(exist_ok=True)
        db = Database.open(settings.resolved_database_url())
        return cls(
            settings=settings,
            db=db,
            models=ModelSet(settings, db.dialect),
            files=LocalFileStore(data_dir / "files"),
            secrets=SecretBox.from_settings(settings),
            public_base_url=public_base_url or settings.resolved_public_base_url(),
            tmp_dir=tmp_dir,
        )

    def ensure_search_index(self) -> None:
        """Create the vector index for the configured embedder when missing."""
        self.models.ensure_search_index(self.db.engine)

    def web_fetcher(self) -> WebFetcher:
        """A fetcher for URL sources, guarded against server-side request forgery."""
        return WebFetcher(allow_private_addresses=self.settings.security.allow_private_addresses)

    def media_url(self, key: str) -> str:
        """The public URL of a publicly served file (avatars)."""
        return f"{self.public_base_url}/media/{key}"

    def close(self) -> None:
        """Release database connections."""
        self.db.close()
