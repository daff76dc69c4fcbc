"""Many requests at once, on a real server with real threads (uvicorn, as ``chatforge serve``).

Reads never take SQLite's write lock, a busy database answers 503 with ``Retry-After`` instead of
500, and ``?wait=true`` holds no thread: it stops at its cap, when its client leaves, and answers
at once past the organization's bound on waiters.
"""

from __future__ import annotations

import asyncio
import shutil
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlean
import uvicorn
from sqlalchemy.exc import OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from chatforge.api.errors import is_database_busy
from chatforge.app import create_app
from chatforge.services.accounts import keys
from chatforge.services.context import AppContext
from chatforge.settings import IngestionSettings, LimitSettings, Settings
from chatforge.storage import db

API = "/api/external"


@dataclass
class Server:
    base: str
    key: str
    ctx: AppContext
    database: Path

    def client(self, **options: Any) -> httpx.AsyncClient:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        options.setdefault("timeout", 60)
        return httpx.AsyncClient(
            base_url=self.base, headers={"x-api-key": self.key}, limits=limits, **options
        )


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.fixture
def serve(tmp_path: Path, sqlite_template: Path) -> Iterator[Callable[..., Server]]:
    """Start the app under uvicorn in a thread, on a fresh SQLite file, with the worker off
    (so waited items never finish) and no rate limits; ``serve(wait_timeout_seconds=1)``."""
    started: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(**ingestion: Any) -> Server:
        database = tmp_path / "chatforge.db"
        shutil.copy(sqlite_template, database)
        settings = Settings(
            _env_file=None,
            data_dir=tmp_path / "data",
            database_url=f"sqlite:///{database}",
            ingestion=IngestionSettings(worker=False, **ingestion),
            limits=LimitSettings(enabled=False),
        )
        port = _free_port()
        app = create_app(settings, public_base_url=f"http://127.0.0.1:{port}")
        ctx: AppContext = app.state.ctx
        with ctx.db.sessions() as session:
            key = keys.create_key(session, "acme").key
        config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        server = uvicorn.Server(config)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        started.append((server, thread))
        deadline = time.monotonic() + 30
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.05)
        assert server.started, "uvicorn did not start"
        return Server(f"http://127.0.0.1:{port}", key, ctx, database)

    yield start
    for server, thread in started:
        server.should_exit = True
        thread.join(timeout=15)


async def _chatbot(client: httpx.AsyncClient) -> str:
    response = await client.post(f"{API}/chatbots", json={"name": "Busy"})
    assert response.status_code == 200, response.text
    chatbot_id: str = response.json()["chatbot"]["id"]
    return chatbot_id


def _upload(client: httpx.AsyncClient, chatbot_id: str, n: int) -> Any:
    files = {"files": (f"note-{n}.txt", f"Note number {n}: the answer is {n}.".encode())}
    return client.post(f"{API}/chatbot/{chatbot_id}/knowledge-base/files?wait=true", files=files)


async def _eventually(check: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        await asyncio.sleep(0.05)
    return True


def test_many_concurrent_reads_and_creates_on_sqlite_answer_no_5xx(
    serve: Callable[..., Server],
) -> None:
    server = serve()

    async def run() -> list[int]:
        async with server.client() as client:
            chatbot_id = await _chatbot(client)
            requests = [
                *(client.get(f"{API}/chatbots") for _ in range(40)),
                *(client.get(f"{API}/chatbot/{chatbot_id}") for _ in range(20)),
                *(client.post(f"{API}/chatbots", json={"name": f"Bot {n}"}) for n in range(20)),
                *(client.get(f"{API}/chatbot/{chatbot_id}/knowledge-base") for _ in range(10)),
            ]
            responses = await asyncio.gather(*requests)
        return [r.status_code for r in responses]

    statuses = asyncio.run(run())
    assert len(statuses) == 90
    assert [s for s in statuses if s >= 500] == []
    assert set(statuses) == {200}


def test_busy_database_answers_503_with_retry_after_and_reads_go_on(
    serve: Callable[..., Server], monkeypatch: pytest.MonkeyPatch
) -> None:
    # A short busy timeout, so that the held lock is "really busy" in a fraction of a second.
    monkeypatch.setattr(db, "SQLITE_BUSY_TIMEOUT_MS", 300)
    server = serve()

    async def run() -> tuple[httpx.Response, httpx.Response]:
        async with server.client() as client:
            await _chatbot(client)  # the key's last use is recorded before the lock is held
            holder = sqlean.connect(str(server.database), isolation_level=None)
            holder.execute("BEGIN IMMEDIATE")  # another process writing for a long time
            try:
                created = await client.post(f"{API}/chatbots", json={"name": "Blocked"})
                listed = await client.get(f"{API}/chatbots")
            finally:
                holder.execute("ROLLBACK")
                holder.close()
        return created, listed

    created, listed = asyncio.run(run())
    assert created.status_code == 503, created.text
    assert created.headers["retry-after"] == "1"
    assert created.json()["error"]["code"] == "service_busy"
    assert listed.status_code == 200  # reads never wait for the write lock
    assert [c["name"] for c in listed.json()["chatbots"]] == ["Busy"]


@pytest.mark.slow  # fifty held connections on a real server
def test_fifty_waiting_uploads_leave_healthz_answering_and_stop_when_clients_leave(
    serve: Callable[..., Server],
) -> None:
    server = serve(max_waiters_per_org=100, wait_timeout_seconds=60)

    async def run() -> tuple[list[float], int]:
        async with server.client() as setup:
            chatbot_id = await _chatbot(setup)
        waiting = server.client()
        uploads = [asyncio.ensure_future(_upload(waiting, chatbot_id, n)) for n in range(50)]
        assert await _eventually(lambda: server.ctx.waiters.count() == 50, 30)
        timings = []
        async with httpx.AsyncClient(base_url=server.base, timeout=5) as probe:
            for _ in range(5):
                began = time.perf_counter()
                assert (await probe.get("/healthz")).status_code == 200
                timings.append(time.perf_counter() - began)
        assert not any(upload.done() for upload in uploads)  # still waiting, as they should
        for upload in uploads:
            upload.cancel()
        await asyncio.gather(*uploads, return_exceptions=True)
        await waiting.aclose()  # the clients go: their connections close
        assert await _eventually(lambda: server.ctx.waiters.count() == 0, 10)
        return timings, server.ctx.waiters.count()

    timings, left = asyncio.run(run())
    assert max(timings) < 1.0, timings
    assert left == 0


def test_waiting_at_the_cap_answers_with_the_items_as_they_are(
    serve: Callable[..., Server],
) -> None:
    server = serve(wait_timeout_seconds=1)

    async def run() -> tuple[httpx.Response, float]:
        async with server.client() as client:
            chatbot_id = await _chatbot(client)
            began = time.perf_counter()
            response = await _upload(client, chatbot_id, 1)
            return response, time.perf_counter() - began

    response, elapsed = asyncio.run(run())
    assert response.status_code == 200, response.text
    assert [i["status"] for i in response.json()["knowledge_base"]] == ["pending"]
    assert 0.9 < elapsed < 5


def test_waiters_past_the_organization_bound_answer_at_once(
    serve: Callable[..., Server],
) -> None:
    server = serve(max_waiters_per_org=2, wait_timeout_seconds=60)

    async def run() -> tuple[httpx.Response, float]:
        async with server.client() as client:
            chatbot_id = await _chatbot(client)
            first = [asyncio.ensure_future(_upload(client, chatbot_id, n)) for n in range(2)]
            assert await _eventually(lambda: server.ctx.waiters.count() == 2, 10)
            began = time.perf_counter()
            third = await _upload(client, chatbot_id, 3)
            elapsed = time.perf_counter() - began
            for upload in first:
                upload.cancel()
            await asyncio.gather(*first, return_exceptions=True)
        return third, elapsed

    third, elapsed = asyncio.run(run())
    assert third.status_code == 200, third.text
    assert [i["status"] for i in third.json()["knowledge_base"]] == ["pending"]
    assert elapsed < 1.0


class _PgError(Exception):
    def __init__(self, message: str, sqlstate: str | None) -> None:
        super().__init__(message)
        self.sqlstate = sqlstate


@pytest.mark.parametrize(
    ("error", "busy"),
    [
        (OperationalError("BEGIN", {}, Exception("database is locked")), True),
        (OperationalError("SELECT", {}, _PgError("too many connections", "53300")), True),
        (OperationalError("connect", {}, _PgError("sorry, too many clients already", None)), True),
        (OperationalError("UPDATE", {}, _PgError("deadlock detected", "40P01")), True),
        (PoolTimeout("QueuePool limit of size 10 overflow 60 reached"), True),
        (OperationalError("SELECT", {}, Exception("no such table: chatbots")), False),
        (ValueError("database is locked"), False),
    ],
)
def test_only_passing_database_conditions_count_as_busy(error: Exception, busy: bool) -> None:
    assert is_database_busy(error) is busy
