"""Ingestion that never stalls (issue 12): a hostile PDF against another tenant, and kill -9.

    python bench/ingest_fairness.py [--pages 500] [--stream-mb 5] [--timeout 120]

(a) Fairness. On a fresh SQLite database, tenant A uploads a PDF whose ``--pages`` pages all
share one ``--stream-mb`` MB compressed content stream (about 100 KB on disk; pypdf reads it at
seconds a page), then tenant B adds a one-line text. One worker (the default) runs; the bench
prints how long B's item waited to be ready, and how A's PDF ended (it fails at the
``--timeout`` read limit, CHATFORGE_INGESTION__PARSE_TIMEOUT_SECONDS). Before issue 12 B waited
for the whole PDF, about an hour.

(b) Recovery. A text PDF of 80 pages is queued, a ``chatforge worker`` process claims it and is
killed with SIGKILL; a second ``chatforge worker`` starts at once. The bench prints the seconds
from the kill to the item's ``ready`` (the lease, CHATFORGE_INGESTION__LEASE_SECONDS = 30 s,
then the indexing), and checks that its chunks were written once.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select
from tests.factories.files import make_pdf
from tests.hardening.test_ingestion_limits import make_shared_stream_pdf

from chatforge.services.accounts import keys
from chatforge.services.chatbots.service import ChatbotService
from chatforge.services.context import AppContext
from chatforge.services.knowledge.service import KnowledgeService, Upload
from chatforge.services.knowledge.worker import Worker
from chatforge.settings import Settings
from chatforge.storage import migrate
from chatforge.storage.models import Chunk, Job, KnowledgeItem


def fresh(data_dir: Path, **ingestion: object) -> AppContext:
    ctx = AppContext.build(Settings(data_dir=data_dir, ingestion={"worker": False, **ingestion}))
    migrate.upgrade(ctx.db.engine)
    ctx.ensure_search_index()
    return ctx


def tenant(ctx: AppContext, org: str) -> tuple[KnowledgeService, str]:
    """A knowledge service of a new organization, and a chatbot of it."""
    session = ctx.db.sessions()
    org_id = keys.create_key(session, org).organization_id
    bot = ChatbotService(ctx, session, org_id).create({"name": f"{org} bot"})
    return KnowledgeService(ctx, session, org_id), bot.id


def status(ctx: AppContext, item_id: str) -> tuple[str, str | None]:
    with ctx.db.sessions() as session:
        item = session.get(KnowledgeItem, item_id)
        assert item is not None
        return item.status, item.error


def wait_for(check: Callable[[], bool], seconds: float) -> float:
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > seconds:
            raise TimeoutError(f"not within {seconds} s")
        time.sleep(0.1)
    return time.monotonic() - started


def fairness(data_dir: Path, pages: int, stream_mb: float, timeout: float) -> None:
    ctx = fresh(data_dir, parse_timeout_seconds=timeout)
    pdf = make_shared_stream_pdf(data_dir / "shared-stream.pdf", pages=pages, stream_mb=stream_mb)
    size_kb = pdf.stat().st_size // 1024  # the upload moves the file into the store
    alpha, alpha_bot = tenant(ctx, "alpha")
    beta, beta_bot = tenant(ctx, "beta")
    (slow,), _ = alpha.add_files(alpha_bot, [Upload(filename=pdf.name, path=pdf)])
    (small,) = beta.add_sources(
        beta_bot, [{"type": "text", "title": "Hours", "content": "We open at nine."}]
    )
    queued = time.monotonic()
    worker = Worker(ctx)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    waited = wait_for(lambda: status(ctx, small.id)[0] == "ready", timeout + 60)
    print(
        f"(a) {size_kb} KB PDF, {pages} pages sharing one {stream_mb:g} MB "
        f"stream, queued first by tenant A: tenant B's one-line text was ready after "
        f"{waited:.2f} s"
    )
    wait_for(lambda: status(ctx, slow.id)[0] in ("ready", "failed"), timeout + 60)
    state, error = status(ctx, slow.id)
    print(f"    A's PDF ended {state} after {time.monotonic() - queued:.1f} s: {error}")
    worker.stop.set()
    thread.join(10)
    ctx.close()


def recovery(data_dir: Path) -> None:
    ctx = fresh(data_dir)
    knowledge, bot = tenant(ctx, "gamma")
    pages = [f"Chapter {n}. " + "The ferry leaves the harbour at dawn. " * 40 for n in range(80)]
    pdf = make_pdf(data_dir / "guide.pdf", pages)
    (item,), _ = knowledge.add_files(bot, [Upload(filename=pdf.name, path=pdf)])
    env = {
        **os.environ,
        "CHATFORGE_DATA_DIR": str(data_dir),
        "CHATFORGE_INGESTION__WORKER": "false",
    }
    command = [sys.executable, "-m", "chatforge", "worker"]
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    first = subprocess.Popen(command, env=env, **quiet)  # type: ignore[call-overload]

    def running() -> bool:
        with ctx.db.sessions() as session:
            return session.scalar(select(Job.status).where(Job.item_id == item.id)) == "running"

    wait_for(running, 120)
    first.send_signal(signal.SIGKILL)
    first.wait()
    second = subprocess.Popen(command, env=env, **quiet)  # type: ignore[call-overload]
    try:
        recovered = wait_for(lambda: status(ctx, item.id)[0] == "ready", 300)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(30)
    with ctx.db.sessions() as session:
        chunks = session.scalar(select(func.count()).where(Chunk.item_id == item.id))
        indexes = session.scalar(
            select(func.count(func.distinct(Chunk.chunk_index))).where(Chunk.item_id == item.id)
        )
        attempts = session.scalar(select(Job.attempts).where(Job.item_id == item.id))
    print(
        f"(b) kill -9 of a worker holding an 80-page PDF: ready {recovered:.1f} s after "
        "the kill "
        f"(lease 30 s), {chunks} chunks, {indexes} distinct, attempts {attempts}"
    )
    ctx.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pages", type=int, default=500)
    parser.add_argument("--stream-mb", type=float, default=5)
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()
    for run in ("fairness", "recovery"):
        data_dir = Path(tempfile.mkdtemp(prefix=f"cf-{run}-"))
        try:
            if run == "fairness":
                fairness(data_dir, args.pages, args.stream_mb, args.timeout)
            else:
                recovery(data_dir)
        finally:
            shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
