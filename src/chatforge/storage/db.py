"""Database engines for SQLite and PostgreSQL.

SQLite goes through ``sqlean.py``, a DB-API drop-in for ``sqlite3`` that can load extensions (this
Python's own ``sqlite3`` cannot), so that ``sqlite-vec`` is available for vector search. Every
SQLite connection runs in WAL mode with foreign keys on and a busy timeout, so that the API and the
in-process worker can share one file. PostgreSQL goes through psycopg 3.

Pools are sized so that a request never waits for a connection while the threads that hold the
others wait for something else: FastAPI runs sync endpoints and dependencies on a pool of 40
threads, and a thread that waits on an empty connection pool while holding the thread another
request needs to give its connection back is the classic FastAPI deadlock. SQLite connections are
files, so their pool has no upper bound; PostgreSQL's allows more connections than there are
threads, and one that still runs out answers 503 (``chatforge.api.errors``), not 500.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import sqlean
import sqlite_vec
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 15_000
#: Connections a PostgreSQL engine may open beyond ``pool_size``: more than the 40 threads of
#: FastAPI's pool plus the ingestion workers, so a request never waits for a connection.
POSTGRES_MAX_OVERFLOW = 60
#: Seconds a request waits for a PostgreSQL connection before it answers 503.
POOL_TIMEOUT_SECONDS = 10


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
            max_overflow=-1,  # no bound: see the module's docstring
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
    return create_engine(
        url,
        pool_size=pool_size,
        max_overflow=POSTGRES_MAX_OVERFLOW,
        pool_timeout=POOL_TIMEOUT_SECONDS,
        pool_pre_ping=True,
    )


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


@dataclass
class Database:
    """One database as the services use it: the engine that writes and the one that only reads.

    On SQLite the reading engine starts its transactions without the write lock, so reads neither
    queue behind writers nor make writers queue; on PostgreSQL it runs without a transaction of
    its own (each statement already sees its own snapshot under READ COMMITTED), which saves the
    BEGIN and ROLLBACK round trips.
    """

    engine: Engine
    sessions: sessionmaker[Session]
    read_engine: Engine
    read_sessions: sessionmaker[Session]

    @classmethod
    def open(cls, url: str) -> Database:
        """Engines and session factories for ``url``."""
        engine = create_db_engine(url)
        read_engine = (
            create_db_engine(url, read_only=True)
            if engine.dialect.name == "sqlite"
            else engine.execution_options(isolation_level="AUTOCOMMIT")
        )
        return cls(engine, make_sessionmaker(engine), read_engine, make_sessionmaker(read_engine))

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    def request_sessions(self, *, read_only: bool) -> sessionmaker[Session]:
        """The session factory of a request: the reading one for a request that only reads."""
        return self.read_sessions if read_only else self.sessions

    def reader(self) -> Engine:
        """The engine for read-only work (search): on SQLite it never waits for the write lock."""
        return self.read_engine

    def close(self) -> None:
        """Release the connections of both engines."""
        self.engine.dispose()
        if self.read_engine.pool is not self.engine.pool:
            self.read_engine.dispose()
