"""Database engines for SQLite and PostgreSQL.

SQLite goes through ``sqlean.py``, a DB-API drop-in for ``sqlite3`` that can load extensions (this
Python's own ``sqlite3`` cannot), so that ``sqlite-vec`` is available for vector search. Every
SQLite connection runs in WAL mode with foreign keys on and a busy timeout, so that the API and the
in-process worker can share one file. PostgreSQL goes through psycopg 3.
"""

from __future__ import annotations

import logging
from typing import Any

import sqlean
import sqlite_vec
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 15_000


def is_sqlite(url: str) -> bool:
    """Whether a database URL names SQLite."""
    return make_url(url).get_backend_name() == "sqlite"


def normalise_url(url: str) -> str:
    """Use psycopg 3 for plain ``postgresql://`` URLs, which SQLAlchemy would map to psycopg2."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        return parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    return url


def create_db_engine(url: str, *, pool_size: int = 10, read_only: bool = False) -> Engine:
    """Create an engine for ``url`` with Chatforge's connection settings.

    Args:
        url: The database URL.
        pool_size: Connections kept open.
        read_only: For SQLite, start transactions without taking the write lock: for the
            search path, which only reads and must not queue behind writers.
    """
    url = normalise_url(url)
    if is_sqlite(url):
        engine = create_engine(
            url,
            module=sqlean,
            connect_args={"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
            pool_size=pool_size,
            max_overflow=20,
        )
        event.listen(engine, "connect", _configure_sqlite)
        # pysqlite's own transaction handling defers BEGIN and breaks SAVEPOINT; take over so that
        # every transaction starts with an explicit BEGIN (SQLAlchemy's documented recipe).
        # IMMEDIATE takes the write lock up front: a deferred transaction that reads and then
        # writes fails at once with "database is locked" when another connection wrote in
        # between, whatever the busy timeout.
        begin = "BEGIN" if read_only else "BEGIN IMMEDIATE"
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql(begin))
        return engine
    return create_engine(url, pool_size=pool_size, max_overflow=20, pool_pre_ping=True)


def _configure_sqlite(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None
    dbapi_connection.enable_load_extension(True)
    sqlite_vec.load(dbapi_connection)
    dbapi_connection.enable_load_extension(False)
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """A session factory whose objects stay readable after commit."""
    return sessionmaker(bind=engine, expire_on_commit=False)
