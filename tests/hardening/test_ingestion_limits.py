"""Ingestion that never stalls: time and memory limits, fairness, leases, stops and crashes.

A hostile file (a small PDF whose pages all share one huge compressed content stream, which
parsers decompress again for every page) must fail on its own instead of holding the queue; one
tenant's backlog must not hold another's item; a worker that is stopped, killed or hung must let
its jobs go within seconds. Items are added through the API of an app without a background worker;
the tests drive :class:`~chatforge.services.knowledge.worker.Worker` or
real ``chatforge`` processes.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from tests.factories.files import make_pdf, make_text
from tests.factories.knowledge import add, chunks_of, index_rows, item_by_id, jobs_of, upload

from chatforge.services.accounts import keys
from chatforge.services.context import AppContext
from chatforge.services.knowledge.worker import Worker
from chatforge.settings import Settings
from chatforge.storage.models import Job, utcnow

pytestmark = pytest.mark.usefixtures("reuse_embedder")


def make_shared_stream_pdf(path: Path, *, pages: int = 500, stream_mb: float = 5) -> Path:
    """A PDF whose ``pages`` pages all draw one content stream of ``stream_mb`` MB, compressed.

    About 100 KB on disk for 500 pages of 5 MB; text extraction decompresses and interprets the
    whole stream for every page (seconds a page).
    """
    line = b"BT /F1 12 Tf 72 720 Td (The same words on every page of this file.) Tj ET\n"
    stream = zlib.compress(line * int(stream_mb * 1024 * 1024 / len(line)), 9)
    kids = " ".join(f"{5 + n} 0 R" for n in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
    ] + [
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
        b"/Resources << /Font << /F1 3 0 R >> >> /Contents 4 0 R >>"
    ] * pages
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    path.write_bytes(bytes(out))
    return path


# --- helpers ---------------------------------------------------------------------------------


@pytest.fixture
def configure(configured_api: Callable[..., TestClient]) -> Callable[..., TestClient]:
    """An app with these ingestion settings and no background worker: only the test's run."""

    def make(**ingestion: Any) -> TestClient:
        return configured_api(ingestion={"worker": False, **ingestion})

    return make


def context_of(api: TestClient) -> AppContext:
    ctx: AppContext = api.app.state.ctx  # type: ignore[attr-defined]
    return ctx


def chatbot(api: TestClient, name: str = "Bot") -> str:
    response = api.post("/api/external/chatbots", json={"name": name})
    assert response.status_code == 200, response.text
    value: str = response.json()["chatbot"]["id"]
    return value


def other_tenant(api: TestClient, org: str = "beta") -> TestClient:
    """A client of another organization on the same app."""
    with context_of(api).db.sessions() as session:
        key = keys.create_key(session, org).key
    client = TestClient(api.app, raise_server_exceptions=False)
    client.headers["x-api-key"] = key
    return client


def text(title: str, content: str) -> dict[str, Any]:
    return {"type": "text", "title": title, "content": content}


def queue_text(api: TestClient, chatbot_id: str, *sources: dict[str, Any]) -> list[str]:
    return [item["id"] for item in add(api, chatbot_id, *sources, wait=False)]


def queue_file(api: TestClient, chatbot_id: str, path: Path) -> str:
    (item,) = upload(api, chatbot_id, path, wait=False)
    value: str = item["id"]
    return value


def wait_for(check: Callable[[], bool], seconds: float, what: str) -> float:
    """Seconds until ``check()`` held; fails after ``seconds``."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < seconds, f"{what} not within {seconds} s"
        time.sleep(0.05)
    return time.monotonic() - started


def job_state(ctx: AppContext, item_id: str) -> tuple[str, int]:
    (job,) = jobs_of(ctx, item_id)
    return job.status, job.attempts


# --- limits ----------------------------------------------------------------------------------


def test_file_that_reads_past_the_time_limit_fails_naming_the_limit(
    configure: Callable[..., TestClient], tmp_path: Path
) -> None:
    api = configure(parse_timeout_seconds=1.5)
    bot = chatbot(api)
    slow = queue_file(api, bot, make_shared_stream_pdf(tmp_path / "slow.pdf"))
    (after,) = queue_text(api, bot, text("Hours", "We open at nine."))
    assert (tmp_path / "slow.pdf").stat().st_size < 150_000

    started = time.monotonic()
    assert Worker(context_of(api)).run_until_idle() == 2

    assert time.monotonic() - started < 15
    failed = item_by_id(api, bot, slow)
    assert failed["status"] == "failed"
    assert "took longer than 1.5 s" in failed["error"]
    assert "CHATFORGE_INGESTION__PARSE_TIMEOUT_SECONDS" in failed["error"]
    assert job_state(context_of(api), slow) == ("failed", 1)  # not retried: it would fail again
    assert item_by_id(api, bot, after)["status"] == "ready"  # the worker went on


def test_file_that_needs_more_memory_than_the_limit_fails_naming_the_limit(
    configure: Callable[..., TestClient], tmp_path: Path
) -> None:
    api = configure(parse_memory_mb=16)
    bot = chatbot(api)
    big = make_text(tmp_path / "big.txt", ["Line after line of plain words. " * 64] * 9000)
    assert big.stat().st_size > 16 * 1024 * 1024
    small = make_text(tmp_path / "small.txt", ["A small file reads fine."])
    big_id, small_id = queue_file(api, bot, big), queue_file(api, bot, small)

    Worker(context_of(api)).run_until_idle()

    failed = item_by_id(api, bot, big_id)
    assert failed["status"] == "failed"
    assert "more than 16 MB of memory" in failed["error"]
    assert "CHATFORGE_INGESTION__PARSE_MEMORY_MB" in failed["error"]
    assert item_by_id(api, bot, small_id)["status"] == "ready"


# --- fairness --------------------------------------------------------------------------------


def test_other_tenants_item_is_taken_before_a_tenants_backlog(
    configure: Callable[..., TestClient],
) -> None:
    api = configure(batch_items=4)
    backlog = queue_text(
        api, chatbot(api), *(text(f"Note {n}", f"Note number {n}.") for n in range(12))
    )
    beta = other_tenant(api)
    beta_bot = chatbot(beta)
    (theirs,) = queue_text(beta, beta_bot, text("Beta", "Beta opens on Monday."))

    assert Worker(context_of(api)).run_once() == 4  # one batch, of a queue of thirteen

    assert item_by_id(beta, beta_bot, theirs)["status"] == "ready"
    still_queued = [i for i in backlog if job_state(context_of(api), i)[0] == "queued"]
    assert len(still_queued) == 9


@pytest.mark.slow  # waits out parse timeouts by design
def test_slow_file_delays_another_tenants_items_by_one_read_at_most(
    configure: Callable[..., TestClient], tmp_path: Path
) -> None:
    api = configure(parse_timeout_seconds=3)
    alpha_bot = chatbot(api)
    slow_ids = [
        queue_file(api, alpha_bot, make_shared_stream_pdf(tmp_path / f"slow{n}.pdf", pages=50 + n))
        for n in range(3)
    ]
    queue_text(api, alpha_bot, *(text(f"Note {n}", f"Note number {n}.") for n in range(5)))
    beta = other_tenant(api)
    beta_bot = chatbot(beta)
    (their_text,) = queue_text(beta, beta_bot, text("Beta", "Beta opens on Monday."))
    their_file = queue_file(beta, beta_bot, make_text(tmp_path / "beta.txt", ["Beta closes."]))
    worker = Worker(context_of(api))
    thread = threading.Thread(target=worker.run, daemon=True)

    def ready(item_id: str) -> bool:
        return bool(item_by_id(beta, beta_bot, item_id)["status"] == "ready")

    def slow_failed() -> int:
        return [item_by_id(api, alpha_bot, i)["status"] for i in slow_ids].count("failed")

    thread.start()
    try:
        # Beta's text needs no parser: it is indexed before alpha's first slow file is read.
        assert wait_for(lambda: ready(their_text), 20, "beta's text") < 3
        assert slow_failed() == 0
        # Beta's file waits for one of alpha's slow files (3 s), not for all three.
        assert wait_for(lambda: ready(their_file), 20, "beta's file") < 3 + 2.5
        assert slow_failed() == 1
    finally:
        worker.stop.set()
        thread.join(10)
    assert not thread.is_alive()


# --- leases and crashes ----------------------------------------------------------------------


def test_job_that_keeps_killing_its_worker_fails_after_max_attempts(
    configure: Callable[..., TestClient],
) -> None:
    api = configure(max_attempts=3)
    ctx, bot = context_of(api), chatbot(api)
    (item_id,) = queue_text(api, bot, text("Crash", "This item crashes its worker."))
    for attempt in (1, 2, 3):
        (claimed,) = Worker(ctx, worker_id=f"doomed-{attempt}").claim(10)
        assert claimed.attempts == attempt
        # The worker dies (no heartbeat): its lease runs out.
        with ctx.db.sessions() as session:
            session.execute(update(Job).values(lease_until=utcnow() - timedelta(seconds=1)))
            session.commit()

    assert Worker(ctx, worker_id="next").run_until_idle() == 0

    item = item_by_id(api, bot, item_id)
    assert item["status"] == "failed"
    assert "stopped its worker 3 times" in item["error"]
    assert "CHATFORGE_INGESTION__MAX_ATTEMPTS" in item["error"]
    assert job_state(ctx, item_id) == ("failed", 3)


@pytest.mark.slow  # waits out parse timeouts by design
def test_lease_is_renewed_while_a_long_item_is_read(
    configure: Callable[..., TestClient], tmp_path: Path
) -> None:
    api = configure(lease_seconds=1, parse_timeout_seconds=4)
    ctx, bot = context_of(api), chatbot(api)
    slow = queue_file(api, bot, make_shared_stream_pdf(tmp_path / "slow.pdf"))
    busy, other = Worker(ctx, worker_id="busy"), Worker(ctx, worker_id="other")
    thread = threading.Thread(target=busy.run_once, daemon=True)
    thread.start()
    wait_for(lambda: job_state(ctx, slow)[0] == "running", 5, "the claim")

    taken = 0
    while thread.is_alive():  # four times the lease
        taken += other.run_once()
        time.sleep(0.2)
    thread.join()

    assert taken == 0
    (job,) = jobs_of(ctx, slow)
    assert (job.status, job.attempts, job.worker_id) == ("failed", 1, "busy")
    assert "took longer than 4 s" in item_by_id(api, bot, slow)["error"]


# --- real processes: SIGTERM and kill -9 -----------------------------------------------------


def environment(settings: Settings, **ingestion: object) -> dict[str, str]:
    env = {
        **os.environ,
        "CHATFORGE_DATA_DIR": str(settings.data_dir),
        "CHATFORGE_DATABASE_URL": settings.database_url or "",
    }
    env.update({f"CHATFORGE_INGESTION__{k.upper()}": str(v) for k, v in ingestion.items()})
    return env


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[bytes]]]:
    """Processes a test starts; any still running at its end are killed."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.wait()


def start(
    processes: list[subprocess.Popen[bytes]], env: dict[str, str], *args: str
) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "chatforge", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    processes.append(process)
    return process


def stopped_within(process: subprocess.Popen[bytes], sig: signal.Signals) -> float:
    started = time.monotonic()
    process.send_signal(sig)
    process.wait(30)
    return time.monotonic() - started


@pytest.mark.slow  # starts chatforge processes
def test_sigterm_stops_a_worker_within_ten_seconds_and_requeues_its_job(
    configure: Callable[..., TestClient],
    settings: Settings,
    tmp_path: Path,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    api = configure()
    ctx, bot = context_of(api), chatbot(api)
    slow = queue_file(api, bot, make_shared_stream_pdf(tmp_path / "slow.pdf"))
    worker = start(processes, environment(settings, parse_timeout_seconds=300), "worker")
    wait_for(lambda: job_state(ctx, slow)[0] == "running", 60, "the worker's claim")
    time.sleep(0.5)  # well into the read

    assert stopped_within(worker, signal.SIGTERM) < 10

    assert job_state(ctx, slow) == ("queued", 0)  # at once, the attempt not counted
    (job,) = jobs_of(ctx, slow)
    assert (job.lease_until, job.worker_id) == (None, None)
    assert item_by_id(api, bot, slow)["status"] == "pending"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@pytest.mark.slow  # starts chatforge processes
def test_sigterm_stops_the_server_within_ten_seconds_and_requeues_its_job(
    settings: Settings, tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    if not (settings.database_url or "").startswith("sqlite"):
        pytest.skip("the server's own stop does not depend on the database")
    port = _free_port()
    env = environment(settings, parse_timeout_seconds=300)
    server = start(processes, env, "serve", "--port", str(port))
    base = f"http://127.0.0.1:{port}/api/external"
    wait_for(lambda: _answers(f"http://127.0.0.1:{port}/healthz"), 60, "the server")
    with opened_context(settings) as ctx, ctx.db.sessions() as session:
        key = keys.create_key(session, "acme").key
    with httpx.Client(base_url=base, headers={"x-api-key": key}, timeout=30) as client:
        bot = client.post("/chatbots", json={"name": "S"}).json()["chatbot"]["id"]
        pdf = make_shared_stream_pdf(tmp_path / "slow.pdf")
        response = client.post(
            f"/chatbot/{bot}/knowledge-base/files",
            files=[("files", (pdf.name, pdf.read_bytes(), "application/pdf"))],
        )
        assert response.status_code == 200, response.text
        (item,) = response.json()["knowledge_base"]
        with opened_context(settings) as ctx:
            wait_for(lambda: job_state(ctx, item["id"])[0] == "running", 30, "the claim")
            time.sleep(0.5)

            assert stopped_within(server, signal.SIGTERM) < 10

            assert job_state(ctx, item["id"]) == ("queued", 0)


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=1).status_code < 500
    except httpx.HTTPError:
        return False


def opened_context(settings: Settings) -> Any:
    from chatforge.commands.common import opened

    return opened(settings, migrate=False)


@pytest.mark.slow  # starts chatforge processes
def test_after_kill_9_another_worker_finishes_the_item_within_60_s_without_duplicates(
    configure: Callable[..., TestClient],
    settings: Settings,
    tmp_path: Path,
    processes: list[subprocess.Popen[bytes]],
) -> None:
    api = configure()
    ctx, bot = context_of(api), chatbot(api)
    pages = [f"Chapter {n}. " + "The ferry leaves the harbour at dawn. " * 40 for n in range(80)]
    item_id = queue_file(api, bot, make_pdf(tmp_path / "guide.pdf", pages))
    env = environment(settings, lease_seconds=5)
    first = start(processes, env, "worker")
    wait_for(lambda: job_state(ctx, item_id)[0] == "running", 60, "the first claim")

    first.send_signal(signal.SIGKILL)
    first.wait(10)
    assert job_state(ctx, item_id) == ("running", 1)  # held by a dead worker
    started = time.monotonic()
    start(processes, env, "worker")
    wait_for(lambda: item_by_id(api, bot, item_id)["status"] == "ready", 60, "the item")

    assert time.monotonic() - started < 60
    assert job_state(ctx, item_id) == ("done", 2)
    chunks = chunks_of(ctx, item_id)
    assert [c.chunk_index for c in chunks] == list(range(1, len(chunks) + 1))
    assert len(chunks) == item_by_id(api, bot, item_id)["chunks"] > 1
    ids = {c.id for c in chunks}
    assert index_rows(ctx) == (ids, ids)
