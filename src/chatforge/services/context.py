"""What every service needs, made once by :func:`chatforge.app.create_app` (or the CLI)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from chatforge.providers.files import FileStore, LocalFileStore
from chatforge.services.secrets import SecretBox
from chatforge.settings import Settings
from chatforge.storage.db import create_db_engine, make_sessionmaker


@dataclass
class AppContext:
    """The wired parts of one Chatforge instance: settings, database, files, secrets."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    files: FileStore
    secrets: SecretBox
    public_base_url: str
    tmp_dir: Path = field(default_factory=lambda: Path())

    @classmethod
    def build(cls, settings: Settings, *, public_base_url: str | None = None) -> AppContext:
        """Wire a context from settings: creates the data directory, engine and stores."""
        data_dir = settings.data_dir.resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp_dir = data_dir / "tmp"
        tmp_dir.mkdir(exist_ok=True)
        engine = create_db_engine(settings.resolved_database_url())
        return cls(
            settings=settings,
            engine=engine,
            sessions=make_sessionmaker(engine),
            files=LocalFileStore(data_dir / "files"),
            secrets=SecretBox.from_settings(settings),
            public_base_url=public_base_url or settings.resolved_public_base_url(),
            tmp_dir=tmp_dir,
        )

    def media_url(self, key: str) -> str:
        """The public URL of a publicly served file (avatars)."""
        return f"{self.public_base_url}/media/{key}"

    def close(self) -> None:
        """Release database connections."""
        self.engine.dispose()
