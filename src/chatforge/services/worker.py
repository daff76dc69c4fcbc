"""The ingestion worker: takes jobs from the jobs table and runs the pipeline.

The jobs table is the queue. A worker claims a few jobs at once (on PostgreSQL with
``FOR UPDATE SKIP LOCKED``, so many workers on many machines never take the same job; SQLite has
one writer at a time, which makes the same statement atomic) and holds them under a lease. A job
whose worker died is claimed again once its lease expires; re-running a job is harmless because an
item's chunks are replaced, never added to. Failures retry with exponential backoff; errors that
no retry can fix (a corrupt file, a refused URL) fail the item at once.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import and_, or_, select, update

from chatforge.services.context import AppContext
from chatforge.services.ingestion import Ingestor, Outcome
from chatforge.storage.models import Job, KnowledgeItem, utcnow

log = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 2.0
BACKOFF_MAX_SECONDS = 600.0


@dataclass(frozen=True)
class Claimed:
    """A job this worker holds."""

    job_id: str
    item_id: str
    attempts: int
    max_attempts: int


class Worker:
    """Claims ingestion jobs and runs them."""

    def __init__(self, ctx: AppContext, *, worker_id: str | None = None) -> None:
        self.ctx = ctx
        self.ingestor = Ingestor(ctx)
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"

    def claim(self, limit: int) -> list[Claimed]:
        """Take up to ``limit`` due jobs (or jobs whose lease expired)."""
        now = utcnow()
        lease = now + timedelta(seconds=self.ctx.settings.ingestion.lease_seconds)
        due = (
            select(Job.id)
            .where(
                or_(
                    and_(Job.status == "queued", Job.run_after <= now),
                    and_(Job.status == "running", Job.lease_until < now),
                )
            )
            .order_by(Job.run_after, Job.created_at)
            .limit(limit)
        )
        if self.ctx.engine.dialect.name == "postgresql":
            due = due.with_for_update(skip_locked=True)
        with self.ctx.sessions() as session:
            rows = session.execute(
                update(Job)
                .where(Job.id.in_(due.scalar_subquery()))
                .values(
                    status="running",
                    attempts=Job.attempts + 1,
                    lease_until=lease,
                    worker_id=self.worker_id,
                    updated_at=now,
                )
                .returning(Job.id, Job.item_id, Job.attempts, Job.max_attempts)
            ).all()
            session.commit()
        return [Claimed(str(r[0]), str(r[1]), int(r[2]), int(r[3])) for r in rows]

    def run_once(self) -> int:
        """Claim a batch and process it; the number of jobs processed."""
        claimed = self.claim(self.ctx.settings.ingestion.batch_items)
        if not claimed:
            return 0
        started = time.perf_counter()
        outcomes = {o.item_id: o for o in self.ingestor.ingest([c.item_id for c in claimed])}
        self._finish(
            [(job, outcomes.get(job.item_id, Outcome(job.item_id, ok=True))) for job in claimed]
        )
        ok = [o for o in outcomes.values() if o.ok]
        log.info(
            "ingested %d items (%d ready, %d failed or retrying), %d chunks, in %.2f s",
            len(claimed),
            len(ok),
            len(outcomes) - len(ok),
            sum(o.chunks for o in ok),
            time.perf_counter() - started,
        )
        return len(claimed)

    def run_until_idle(self) -> int:
        """Process jobs until none is due; the number processed (for the CLI and tests)."""
        total = 0
        while processed := self.run_once():
            total += processed
        return total

    def run(self, stop: threading.Event) -> None:
        """Work until ``stop`` is set; sleeps briefly when there is nothing to do."""
        log.info("ingestion worker %s started", self.worker_id)
        while not stop.is_set():
            try:
                if self.run_once() == 0:
                    stop.wait(self.ctx.settings.ingestion.poll_seconds)
            except Exception:
                # The database may be briefly unavailable; the worker must outlive that.
                log.exception("ingestion worker error")
                stop.wait(5)
        log.info("ingestion worker %s stopped", self.worker_id)

    def _finish(self, results: list[tuple[Claimed, Outcome]]) -> None:
        """Record every job's outcome, in one transaction."""
        done = [job.job_id for job, outcome in results if outcome.ok]
        with self.ctx.sessions() as session:
            if done:
                session.execute(
                    update(Job).where(Job.id.in_(done)).values(status="done", lease_until=None)
                )
            for job, outcome in results:
                if outcome.ok:
                    continue
                if outcome.permanent or job.attempts >= job.max_attempts:
                    job_values: dict[str, object] = {"status": "failed"}
                    item_values: dict[str, object] = {"status": "failed", "error": outcome.error}
                else:
                    delay = min(BACKOFF_BASE_SECONDS**job.attempts, BACKOFF_MAX_SECONDS)
                    job_values = {
                        "status": "queued",
                        "run_after": utcnow() + timedelta(seconds=delay),
                    }
                    item_values = {"status": "pending", "error": f"{outcome.error} Retrying."}
                session.execute(
                    update(Job)
                    .where(Job.id == job.job_id)
                    .values(last_error=outcome.error, lease_until=None, **job_values)
                )
                session.execute(
                    update(KnowledgeItem)
                    .where(KnowledgeItem.id == job.item_id)
                    .values(updated_at=utcnow(), **item_values)
                )
            session.commit()


class BackgroundWorker:
    """A worker on a daemon thread, for ``chatforge serve``."""

    def __init__(self, ctx: AppContext) -> None:
        self.worker = Worker(ctx)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self.worker.run, args=(self._stop,), name="chatforge-worker", daemon=True
        )

    def start(self) -> None:
        """Start working in the background."""
        self._thread.start()

    def stop(self, timeout: float = 30) -> None:
        """Ask the worker to stop after its current batch, and wait for it."""
        self._stop.set()
        self._thread.join(timeout)
