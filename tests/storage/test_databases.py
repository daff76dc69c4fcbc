"""The databases themselves: extensions, pragmas and migrations on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import text

from chatforge.app import create_app
from chatforge.settings import Settings
from chatforge.storage import migrate
from chatforge.storage.db import create_db_engine


def test_sqlite_loads_sqlite_vec_and_runs_wal_with_foreign_keys(tmp_path: Path) -> None:
    engine = create_db_engine(f"sqlite:///{tmp_path / 'x.db'}")
    with engine.connect() as conn:
        version = conn.execute(text("SELECT vec_version()")).scalar_one()
        distance = conn.execute(
            text("SELECT vec_distance_cosine(vec_f32('[1, 0]'), vec_f32('[0, 1]'))")
        ).scalar_one()
        journal = conn.execute(text("PRAGMA journal_mode")).scalar_one()
        foreign_keys = conn.execute(text("PRAGMA foreign_keys")).scalar_one()
        fts5 = conn.execute(text("SELECT sqlite_compileoption_used('ENABLE_FTS5')")).scalar_one()
    engine.dispose()

    assert version.startswith("v")
    assert abs(distance - 1.0) < 1e-6
    assert journal == "wal"
    assert foreign_keys == 1
    assert fts5 == 1


def test_postgres_has_pgvector(postgres_url: str) -> None:
    engine = create_db_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text("CREATE EXTENSION IF NOT EXISTS vector"))
        distance = conn.execute(text("SELECT '[1,0]'::vector <=> '[0,1]'::vector")).scalar_one()
    engine.dispose()

    assert abs(distance - 1.0) < 1e-6


def test_migrations_reach_head_on_both_backends(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        assert migrate.current_revision(engine) == migrate.head_revision()
        assert migrate.is_current(engine)
        migrate.upgrade(engine)  # idempotent
    finally:
        engine.dispose()


def test_readyz_is_503_before_migration(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path / "data")  # type: ignore[call-arg]
    with TestClient(create_app(settings)) as client:
        response = client.get("/readyz")

    assert response.status_code == 503
    assert "chatforge migrate" in response.json()["error"]["message"]
