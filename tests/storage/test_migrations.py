"""The migrations build exactly the schema the models describe, and go down and up again cleanly,
on SQLite and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect

from chatforge.storage import migrate
from chatforge.storage.db import create_db_engine
from chatforge.storage.models import Base


def _only_modelled(
    obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    # The search index's own tables (FTS5, sqlite-vec, their shadow tables) are made by the
    # migrations and the search code, outside the ORM: compare what the models declare.
    if type_ == "table" and reflected and compare_to is None:
        return name in Base.metadata.tables
    return True


def _drift(engine: Engine) -> list[Any]:
    with engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "compare_server_default": False,
                "include_object": _only_modelled,
            },
        )
        return list(compare_metadata(context, Base.metadata))


def _config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(Path(migrate.__file__).parent / "migrations"))
    return config


def _run(engine: Engine, verb: str, revision: str) -> None:
    config = _config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        getattr(command, verb)(config, revision)


def test_the_migrated_schema_is_the_models_schema(database_url: str) -> None:
    engine = create_db_engine(database_url)
    try:
        assert migrate.is_current(engine)
        assert _drift(engine) == []
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_every_migration_goes_down_and_up_again(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        url = f"sqlite:///{tmp_path / 'updown.db'}"
    else:
        from sqlalchemy import text

        base: str = request.getfixturevalue("postgres_url")
        admin = create_db_engine(base)
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("DROP DATABASE IF EXISTS chatforge_updown"))
            conn.execute(text("CREATE DATABASE chatforge_updown"))
        admin.dispose()
        url = base.replace("/chatforge_test?", "/chatforge_updown?")
    engine = create_db_engine(url)
    try:
        migrate.upgrade(engine)
        tables = set(inspect(engine).get_table_names())
        _run(engine, "downgrade", "base")
        assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
        migrate.upgrade(engine)
        assert set(inspect(engine).get_table_names()) == tables
        assert _drift(engine) == []
    finally:
        engine.dispose()
