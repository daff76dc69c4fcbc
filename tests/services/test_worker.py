"""The ingestion worker on SQLite and PostgreSQL: leases, takeovers, idempotence and retries.

Items are added through the API of an app that runs no background worker; the test then drives
:class:`~chatforge.services.knowledge.worker.Worker` itself, so that it decides exactly when a
worker claims, dies, or comes back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import update
from tests.factories.files import make_text
from tests.factories.knowledge import (
    add,
    chunks_of,
    found_text,
    index_rows,
    item_by_id,
    jobs_of,
    patch,
    stored_files,
    upload,
)
from tests.providers.servers import Failure, ModelServer, model_server

from chatforge.providers.embeddings import Embedder
from chatforge.providers.embeddings.base import Vectors
from chatforge.services.context import AppContext
from chatforge.services.knowledge.ingestion import Ingestor
from chatforge.services.knowledge.worker import Worker
from chatforge.storage.models import Chunk, Job, utcnow

# The real local model, loaded once for all these tests (see conftest).
pytestmark = pytest.mark.usefixtures("reuse_embedder")

LEASE_SECONDS = 2
NO_BACKGROUND_WORKER = {"worker": False, "lease_seconds": LEASE_SECONDS}


@pytest.fixture
def api(configured_api: Callable[..., TestClient]) -> TestClient:
    """A client of an app without a background worker: only the test's workers run jobs."""
    return configured_api(ingestion=NO_BACKGROUND_WORKER)


@pytest.fixture
def ctx(api: TestClient) -> AppContext:
    context: AppContext = api.app.state.ctx  # type: ignore[attr-defined]
    return context


@pytest.fixture
def chatbot_id(api: TestClient) -> str:
    response = api.post("/api/external/chatbots", json={"name": "Worker Bot"})
    assert response.status_code == 200, response.text
    value: str = response.json()["chatbot"]["id"]
    return value


def text(title: str, content: str) -> dict[str, Any]:
    return {"type": "text", "title": title, "content": content}


def queue(api: TestClient, chatbot_id: str, *sources: dict[str, Any]) -> list[str]:
    """Add sources without waiting; the ids of their (pending) items."""
    items = add(api, chatbot_id, *sources, wait=False)
    assert {i["status"] for i in items} == {"pending"}
    return [i["id"] for i in items]


def status(api: TestClient, chatbot_id: str, item_id: str) -> str:
    value: str = item_by_id(api, chatbot_id, item_id)["status"]
    return value


def vector_of(chunk: Chunk) -> np.ndarray:
    return np.frombuffer(chunk.embedding, dtype=np.float32)


def make_due(ctx: AppContext) -> None:
    """Let the backoff pass without waiting for it: every queued job is due now."""
    with ctx.db.sessions() as session:
        session.execute(
            update(Job).where(Job.status == "queued").values(run_after=utcnow() - timedelta(1))
        )
        session.commit()


def test_worker_indexes_queued_items(api: TestClient, ctx: AppContext, chatbot_id: str) -> None:
    ids = queue(
        api,
        chatbot_id,
        text("Trains", "The night train leaves at ten."),
        {"type": "qna", "question": "Is there a dining car?", "answer": "Yes, until nine."},
    )

    processed = Worker(ctx).run_until_idle()

    assert processed == 2
    assert [status(api, chatbot_id, i) for i in ids] == ["ready", "ready"]
    assert [j.status for i in ids for j in jobs_of(ctx, i)] == ["done", "done"]
    assert found_text(ctx, chatbot_id, "night train")
    assert found_text(ctx, chatbot_id, "dining car")


def test_workers_claiming_at_once_never_take_the_same_job(
    api: TestClient, ctx: AppContext, chatbot_id: str
) -> None:
    # Eight workers race for forty jobs, each taking three at a time, all released together:
    # PostgreSQL's FOR UPDATE SKIP LOCKED (SQLite's write lock) hands each job to one of them.
    ids = queue(api, chatbot_id, *(text(f"Note {n}", f"Note number {n}.") for n in range(40)))
    workers = [Worker(ctx, worker_id=f"racer-{n}") for n in range(8)]
    start = threading.Barrier(len(workers))
    claimed: dict[str, list[str]] = {w.worker_id: [] for w in workers}

    def race(worker: Worker) -> None:
        start.wait()
        while taken := worker.claim(3):
            claimed[worker.worker_id] += [c.job_id for c in taken]

    threads = [threading.Thread(target=race, args=(w,)) for w in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    jobs = [job for i in ids for job in jobs_of(ctx, i)]
    every_claim = [job_id for taken in claimed.values() for job_id in taken]
    assert sorted(every_claim) == sorted(job.id for job in jobs)  # each once, none left
    assert {job.status for job in jobs} == {"running"}
    assert {job.attempts for job in jobs} == {1}
    assert {job.worker_id for job in jobs} == {w for w, taken in claimed.items() if taken}


def test_job_of_a_dead_worker_is_taken_over_once_its_lease_expires(
    api: TestClient, ctx: AppContext, chatbot_id: str
) -> None:
    untouched, half_done = queue(
        api,
        chatbot_id,
        text("Ferries", "The ferry to the island runs hourly."),
        text("Buses", "Bus 42 goes to the airport. " * 40),
    )
    dead = Worker(ctx, worker_id="dead-worker")
    survivor = Worker(ctx, worker_id="survivor")
    claimed = dead.claim(10)
    assert {c.item_id for c in claimed} == {untouched, half_done}
    # While the lease holds, nobody else takes the jobs.
    assert survivor.run_until_idle() == 0
    # The dead worker indexed one item but died before marking its job done.
    dead.ingestor.ingest([half_done])
    first_run = [(c.chunk_index, c.content) for c in chunks_of(ctx, half_done)]
    assert len(first_run) > 1

    # The dead worker's leases run out (moved into the past rather than waited for).
    with ctx.db.sessions() as session:
        session.execute(
            update(Job)
            .where(Job.worker_id == "dead-worker")
            .values(lease_until=utcnow() - timedelta(seconds=1))
        )
        session.commit()
    assert survivor.run_until_idle() == 2

    assert [status(api, chatbot_id, i) for i in (untouched, half_done)] == ["ready", "ready"]
    for item_id in (untouched, half_done):
        (job,) = jobs_of(ctx, item_id)
        assert (job.status, job.attempts, job.worker_id) == ("done", 2, "survivor")
    # Indexed once: the re-run replaced the dead worker's chunks instead of adding to them.
    assert [(c.chunk_index, c.content) for c in chunks_of(ctx, half_done)] == first_run
    all_chunks = {c.id for i in (untouched, half_done) for c in chunks_of(ctx, i)}
    assert index_rows(ctx) == (all_chunks, all_chunks)
    assert item_by_id(api, chatbot_id, half_done)["chunks"] == len(first_run)


def test_running_a_finished_job_again_changes_nothing(
    api: TestClient, ctx: AppContext, chatbot_id: str
) -> None:
    (item_id,) = queue(api, chatbot_id, text("Museum", "The museum is free on Sundays. " * 30))
    worker = Worker(ctx)
    worker.run_until_idle()
    once = chunks_of(ctx, item_id)
    item_once = item_by_id(api, chatbot_id, item_id)

    # The queue delivers the job again (say, its "done" was lost with the database connection).
    with ctx.db.sessions() as session:
        session.execute(update(Job).values(status="queued"))
        session.commit()
    assert worker.run_until_idle() == 1

    twice = chunks_of(ctx, item_id)
    assert [(c.chunk_index, c.content) for c in twice] == [(c.chunk_index, c.content) for c in once]
    for first, second in zip(once, twice, strict=True):
        assert np.allclose(vector_of(first), vector_of(second), atol=1e-5)
    ids = {c.id for c in chunks_of(ctx, item_id)}
    assert index_rows(ctx) == (ids, ids)
    again = item_by_id(api, chatbot_id, item_id)
    assert (again["status"], again["chunks"]) == ("ready", item_once["chunks"])
    assert found_text(ctx, chatbot_id, "museum free sundays")


def test_edits_queued_before_the_worker_runs_index_the_last_content_once(
    api: TestClient, ctx: AppContext, chatbot_id: str
) -> None:
    (item_id,) = queue(api, chatbot_id, text("Weather", "Sunny all week."))
    for content in ("Rain on Tuesday.", "Snow on Friday."):
        assert patch(api, chatbot_id, item_id, {"content": content}).status_code == 200
    assert len(jobs_of(ctx, item_id)) == 3

    Worker(ctx).run_until_idle()

    assert status(api, chatbot_id, item_id) == "ready"
    assert [c.content for c in chunks_of(ctx, item_id)] == [
        "Title: Weather\nChunk: 1\n\nContent:\nSnow on Friday."
    ]
    assert {j.status for j in jobs_of(ctx, item_id)} == {"done"}
    assert found_text(ctx, chatbot_id, "sunny") == found_text(ctx, chatbot_id, "rain") == []


class EditsWhileEmbedding(Embedder):
    """The real model, but on its first call something else happens first (a user's edit)."""

    def __init__(self, model: Embedder, meanwhile: Callable[[], None]) -> None:
        self.model = model
        self.name, self.dimensions, self.max_tokens = model.name, model.dimensions, model.max_tokens
        self._meanwhile: Callable[[], None] | None = meanwhile

    def embed(self, texts: Sequence[str]) -> Vectors:
        if self._meanwhile is not None:
            meanwhile, self._meanwhile = self._meanwhile, None
            meanwhile()
        return self.model.embed(texts)

    def count_tokens(self, text: str) -> int:
        return self.model.count_tokens(text)


def test_older_run_finishing_late_does_not_overwrite_a_newer_edit(
    api: TestClient, ctx: AppContext, chatbot_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (item_id,) = queue(api, chatbot_id, text("Soup", "Today's soup is pumpkin."))

    def user_edits_and_another_worker_indexes_it() -> None:
        assert patch(api, chatbot_id, item_id, {"content": "Today's soup is lentil."}).status_code
        assert Worker(ctx, worker_id="fast").run_until_idle() >= 1

    monkeypatch.setattr(
        ctx.models,
        "_embedder",
        EditsWhileEmbedding(ctx.models.embedder, user_edits_and_another_worker_indexes_it),
    )

    # The slow worker embedded "pumpkin" while the edit was made and indexed by the fast one.
    Worker(ctx, worker_id="slow").run_until_idle()

    assert status(api, chatbot_id, item_id) == "ready"
    assert [c.content for c in chunks_of(ctx, item_id)] == [
        "Title: Soup\nChunk: 1\n\nContent:\nToday's soup is lentil."
    ]
    assert found_text(ctx, chatbot_id, "pumpkin") == []
    assert found_text(ctx, chatbot_id, "lentil")


def test_refused_url_fails_at_once_without_retrying(
    api: TestClient, ctx: AppContext, chatbot_id: str
) -> None:
    (item_id,) = queue(api, chatbot_id, {"type": "url", "url": "http://localhost:9/"})

    Worker(ctx).run_until_idle()

    item = item_by_id(api, chatbot_id, item_id)
    assert item["status"] == "failed" and "Refused to fetch" in item["error"]
    (job,) = jobs_of(ctx, item_id)
    assert (job.status, job.attempts) == ("failed", 1)


# --- transient failures: a real embeddings server that answers 503 ----------------------------

#: One embedding call fails: the client's own retries (three answers) all get a 503.
DOWN = [Failure(503, {"retry-after": "0"}, {"error": {"message": "overloaded"}})] * 3


@pytest.fixture
def embeddings_server() -> Iterator[ModelServer]:
    # The local model's size, so that PostgreSQL's vector table fits both.
    with model_server(dimensions=384) as server:
        yield server


@pytest.fixture
def remote_api(
    configured_api: Callable[..., TestClient], embeddings_server: ModelServer
) -> TestClient:
    """An app (without a background worker) whose embeddings come from the local server."""
    return configured_api(
        ingestion={**NO_BACKGROUND_WORKER, "max_attempts": 2},
        embeddings={
            "model": "openai-compatible:hashed-words",
            "base_url": embeddings_server.base_url,
            "api_key": SecretStr("sk-test"),
        },
    )


def test_transient_failure_retries_with_backoff_then_fails_at_max_attempts(
    remote_api: TestClient, embeddings_server: ModelServer
) -> None:
    ctx: AppContext = remote_api.app.state.ctx  # type: ignore[attr-defined]
    chatbot_id = remote_api.post("/api/external/chatbots", json={"name": "R"}).json()["chatbot"][
        "id"
    ]
    (item_id,) = queue(remote_api, chatbot_id, text("Tea", "Green tea steeps for two minutes."))
    assert ctx.models.embedder.dimensions == 384
    worker = Worker(ctx)
    embeddings_server.failures.extend(DOWN)

    before = utcnow()
    assert worker.run_once() == 1
    assert worker.run_until_idle() == 0  # backed off: not due again yet

    item = item_by_id(remote_api, chatbot_id, item_id)
    assert item["status"] == "pending"
    assert "503" in item["error"] and item["error"].endswith("Retrying.")
    (job,) = jobs_of(ctx, item_id)
    assert (job.status, job.attempts) == ("queued", 1)
    assert job.run_after >= before + timedelta(seconds=1.5)  # backed off, not retried at once
    assert "503" in (job.last_error or "")

    make_due(ctx)
    embeddings_server.failures.extend(DOWN)
    assert worker.run_once() == 1

    item = item_by_id(remote_api, chatbot_id, item_id)
    assert item["status"] == "failed" and "503" in item["error"]
    assert not item["error"].endswith("Retrying.")
    (job,) = jobs_of(ctx, item_id)
    assert (job.status, job.attempts) == ("failed", 2)
    assert chunks_of(ctx, item_id) == []


def test_item_becomes_ready_when_a_retry_succeeds(
    remote_api: TestClient, embeddings_server: ModelServer
) -> None:
    ctx: AppContext = remote_api.app.state.ctx  # type: ignore[attr-defined]
    chatbot_id = remote_api.post("/api/external/chatbots", json={"name": "R"}).json()["chatbot"][
        "id"
    ]
    (item_id,) = queue(remote_api, chatbot_id, text("Coffee", "Espresso is pulled in 25 seconds."))
    assert ctx.models.embedder.dimensions == 384
    worker = Worker(ctx)
    embeddings_server.failures.extend(DOWN)
    worker.run_once()
    assert status(remote_api, chatbot_id, item_id) == "pending"

    make_due(ctx)
    assert worker.run_until_idle() == 1

    item = item_by_id(remote_api, chatbot_id, item_id)
    assert (item["status"], item["error"]) == ("ready", None)
    (job,) = jobs_of(ctx, item_id)
    assert (job.status, job.attempts) == ("done", 2)
    assert found_text(ctx, chatbot_id, "espresso")
    assert len(Ingestor(ctx).ingest([item_id])) == 1  # and a re-run is still harmless
    assert len(chunks_of(ctx, item_id)) == item["chunks"]


def test_adding_a_failed_item_again_retries_it(
    remote_api: TestClient, embeddings_server: ModelServer, tmp_path: Path
) -> None:
    ctx: AppContext = remote_api.app.state.ctx  # type: ignore[attr-defined]
    chatbot_id = remote_api.post("/api/external/chatbots", json={"name": "R"}).json()["chatbot"][
        "id"
    ]
    assert ctx.models.embedder.dimensions == 384
    report = make_text(tmp_path / "report.txt", ["The audit found no issues in the ledger."])
    (file_item,) = upload(remote_api, chatbot_id, report, wait=False)
    (text_id,) = queue(remote_api, chatbot_id, text("Audit", "The auditors visit in May."))
    worker = Worker(ctx)
    for _attempt in range(2):  # max_attempts, each with the embeddings server down
        embeddings_server.failures.extend(DOWN)
        make_due(ctx)
        worker.run_once()
    ids = [file_item["id"], text_id]
    assert [status(remote_api, chatbot_id, i) for i in ids] == ["failed", "failed"]

    # The server is back; the user adds the same file and text again.
    (file_again,) = upload(remote_api, chatbot_id, report, wait=False)
    (text_again,) = add(
        remote_api, chatbot_id, text("Audit", "The auditors visit in May."), wait=False
    )

    assert [file_again["id"], text_again["id"]] == ids  # still one item each
    assert [(i["status"], i["error"]) for i in (file_again, text_again)] == [("pending", None)] * 2
    assert worker.run_until_idle() == 2
    assert [status(remote_api, chatbot_id, i) for i in ids] == ["ready", "ready"]
    assert found_text(ctx, chatbot_id, "audit ledger") and found_text(
        ctx, chatbot_id, "auditors may"
    )
    assert len(stored_files(ctx)) == 1


def test_released_jobs_are_taken_again_at_once_without_counting_the_attempt(
    api: TestClient, ctx: AppContext, chatbot_id: str
) -> None:
    ids = queue(api, chatbot_id, text("Parks", "The park closes at dusk."))
    stopping = Worker(ctx, worker_id="stopping")
    assert len(stopping.claim(10)) == 1

    assert stopping.release() == 1  # what a stopped worker does with the jobs it holds

    (job,) = jobs_of(ctx, ids[0])
    assert (job.status, job.attempts, job.lease_until, job.worker_id) == ("queued", 0, None, None)
    assert status(api, chatbot_id, ids[0]) == "pending"
    assert Worker(ctx, worker_id="next").run_until_idle() == 1  # no lease to wait for
    assert status(api, chatbot_id, ids[0]) == "ready"
    (job,) = jobs_of(ctx, ids[0])
    assert (job.status, job.attempts, job.worker_id) == ("done", 1, "next")
