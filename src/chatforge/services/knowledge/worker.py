"""The ingestion worker: takes jobs from the jobs table and runs the pipeline.

The jobs table is the queue. A worker claims a few jobs at once (on PostgreSQL with
``FOR UPDATE SKIP LOCKED``, so many workers on many machines never take the same job; SQLite has
one writer at a time, which makes the same statement atomic) and holds them under a short lease
that a heartbeat renews while it works. A job whose worker died is claimed again once its lease
expires (within ``lease_seconds``); re-running a job is harmless because an item's chunks are
replaced, never added to. A job that killed its worker ``max_attempts`` times fails. Failures
retry with exponential backoff; errors that no retry can fix (a corrupt file, a refused URL, a
parse past its time or memory limit) fail the item at once.

Fairness: jobs are claimed round-robin across organizations, then chatbots (each one's oldest
first, those with a job already running last), and once a batch has spent
:data:`FAIR_SHARE_SECONDS` reading, its other items of organizations already served go back to
the queue. One tenant's backlog or slow file thus delays another's item by one item's reading at
most, not by the backlog.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select, update
from sqlalchemy.orm import Session, aliased
from sqlalchemy.orm.util import AliasedClass

from chatforge.services.context import AppContext
from chatforge.services.knowledge.ingestion import READ_IN_CHILD, Ingestor, Outcome
from chatforge.services.knowledge.parsing import Parser, Stopped
from chatforge.storage.models import Chatbot, Job, KnowledgeItem, utcnow

log = logging.getLogger(__name__)

BACKOFF_BASE_SECONDS = 2.0
BACKOFF_MAX_SECONDS = 600.0
#: Reading a batch may take this long before its items of tenants already served are released.
FAIR_SHARE_SECONDS = 2.0


@dataclass(frozen=True)
class Claimed:
    """A job this worker holds."""

    job_id: str
    item_id: str
    attempts: int
    max_attempts: int
    organization_id: str = ""
    chatbot_id: str = ""
    item_type: str = ""


class Worker:
    """Claims ingestion jobs and runs them.

    ``stop`` ends :meth:`run`; setting it also interrupts a parse in progress, after which the
    worker gives back the jobs it holds (see :meth:`release`).
    """

    def __init__(
        self,
        ctx: AppContext,
        *,
        worker_id: str | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.ctx = ctx
        self.stop = stop or threading.Event()
        self.parser = Parser(ctx.settings.ingestion, stopping=lambda: self.stop.is_set())
        self.ingestor = Ingestor(ctx, self.parser)
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"

    def claim(self, limit: int) -> list[Claimed]:
        """Take up to ``limit`` due jobs (or jobs whose lease expired), in fair order."""
        now = utcnow()
        lease = now + timedelta(seconds=self.ctx.settings.ingestion.lease_seconds)
        with self.ctx.db.sessions() as session:
            self._give_up_on_crashers(session, now)
            due = _fair_due(self.ctx, now, limit)
            if self.ctx.db.engine.dialect.name == "postgresql":
                # Locked first, then updated by id: PostgreSQL does not promise to run a LIMIT
                # subquery of an IN once (one plan took 13 jobs for a batch of 4).
                picked = Job.id.in_(list(session.scalars(due)))
            else:
                # One statement under SQLite's write lock (taken by the update above).
                picked = Job.id.in_(due.scalar_subquery())
            rows = session.execute(
                update(Job)
                .where(picked)
                .values(
                    status="running",
                    attempts=Job.attempts + 1,
                    lease_until=lease,
                    worker_id=self.worker_id,
                    updated_at=now,
                )
                .returning(Job.id, Job.item_id, Job.attempts, Job.max_attempts, Job.created_at)
            ).all()
            owners = {
                str(r[0]): (str(r[1]), str(r[2]), str(r[3]))
                for r in session.execute(
                    select(
                        KnowledgeItem.id,
                        Chatbot.organization_id,
                        KnowledgeItem.chatbot_id,
                        KnowledgeItem.type,
                    )
                    .join(Chatbot, Chatbot.id == KnowledgeItem.chatbot_id)
                    .where(KnowledgeItem.id.in_([r[1] for r in rows]))
                )
            }
            session.commit()
        claimed = [
            Claimed(
                str(r[0]), str(r[1]), int(r[2]), int(r[3]), *owners.get(str(r[1]), ("", "", ""))
            )
            for r in rows
        ]
        return _interleave(claimed, {str(r[0]): r[4] for r in rows})

    def run_once(self) -> int:
        """Claim a batch and process it; the number of jobs processed (released ones excluded)."""
        claimed = self.claim(self.ctx.settings.ingestion.batch_items)
        if not claimed:
            return 0
        started = time.perf_counter()
        jobs = {job.item_id: job for job in claimed}
        served: set[str] = set()

        def keep(item_id: str) -> bool:
            # Past the fair share, read only the first file or web page of each organization
            # not yet served; the others go back to the queue (texts cost nothing to read).
            job = jobs[item_id]
            if job.item_type not in READ_IN_CHILD:
                return True
            late = time.perf_counter() - started > FAIR_SHARE_SECONDS
            if late and job.organization_id in served:
                self.release([job])  # at once: another worker may take it meanwhile
                return False
            served.add(job.organization_id)
            return True

        try:
            with _Heartbeat(self):
                ingested = self.ingestor.ingest([c.item_id for c in claimed], keep=keep)
        except Stopped:
            self.release()
            return 0
        outcomes = {o.item_id: o for o in ingested}
        results = [
            (job, outcomes.get(job.item_id, Outcome(job.item_id, ok=True))) for job in claimed
        ]
        deferred = [job for job, outcome in results if outcome.deferred]
        self._finish([(job, outcome) for job, outcome in results if not outcome.deferred])
        ok = [o for o in outcomes.values() if o.ok]
        log.info(
            "ingested %d items (%d ready, %d failed or retrying), %d chunks, in %.2f s",
            len(claimed) - len(deferred),
            len(ok),
            len(outcomes) - len(ok) - len(deferred),
            sum(o.chunks for o in ok),
            time.perf_counter() - started,
        )
        if deferred:
            log.info("put %d items back in the queue, for other tenants first", len(deferred))
        return len(claimed) - len(deferred)

    def run_until_idle(self) -> int:
        """Process jobs until none is due; the number processed (for the CLI and tests)."""
        total = 0
        while processed := self.run_once():
            total += processed
        return total

    def run(self, stop: threading.Event | None = None) -> None:
        """Work until ``stop`` (or the worker's own event) is set; sleeps briefly when idle."""
        if stop is not None:
            self.stop = stop
        log.info("ingestion worker %s started", self.worker_id)
        try:
            while not self.stop.is_set():
                try:
                    if self.run_once() == 0:
                        self.stop.wait(self.ctx.settings.ingestion.poll_seconds)
                except Exception:
                    # The database may be briefly unavailable; the worker must outlive that.
                    log.exception("ingestion worker error")
                    self.stop.wait(5)
        finally:
            self.close()
        log.info("ingestion worker %s stopped", self.worker_id)

    def release(self, jobs: list[Claimed] | None = None) -> int:
        """Give back held jobs (all of them by default) to the queue, their attempt not counted.

        Their items are ``pending`` again, and another worker may take them at once. Returns the
        number released.
        """
        held = and_(Job.worker_id == self.worker_id, Job.status == "running")
        if jobs is not None:
            held = and_(held, Job.id.in_([job.job_id for job in jobs]))
        with self.ctx.db.sessions() as session:
            items = (
                session.execute(
                    update(Job)
                    .where(held)
                    .values(
                        status="queued",
                        attempts=Job.attempts - 1,
                        lease_until=None,
                        worker_id=None,
                        # Behind other tenants' jobs of the same rank (see _fair_due).
                        run_after=utcnow(),
                    )
                    .returning(Job.item_id)
                )
                .scalars()
                .all()
            )
            if items:
                session.execute(
                    update(KnowledgeItem)
                    .where(KnowledgeItem.id.in_(items), KnowledgeItem.status == "processing")
                    .values(status="pending")
                )
            session.commit()
        return len(items)

    def renew(self) -> None:
        """Extend the lease of every job this worker holds (the heartbeat calls this)."""
        now = utcnow()
        with self.ctx.db.sessions() as session:
            session.execute(
                update(Job)
                .where(Job.worker_id == self.worker_id, Job.status == "running")
                .values(
                    lease_until=now + timedelta(seconds=self.ctx.settings.ingestion.lease_seconds)
                )
            )
            session.commit()

    def close(self) -> None:
        """Stop the parsing child."""
        self.parser.close()

    def _give_up_on_crashers(self, session: Session, now: datetime) -> None:
        """Fail the jobs whose worker died while holding them on each of their attempts."""
        crashed = session.execute(
            update(Job)
            .where(
                Job.status == "running",
                Job.lease_until < now,
                Job.attempts >= Job.max_attempts,
            )
            .values(status="failed", lease_until=None)
            .returning(Job.id, Job.item_id, Job.attempts)
        ).all()
        for job_id, item_id, attempts in crashed:
            error = (
                f"Indexing this item stopped its worker {attempts} times, so it was given up "
                "(CHATFORGE_INGESTION__MAX_ATTEMPTS). Check the file, then add it again."
            )
            log.warning("job %s of item %s: %s", job_id, item_id, error)
            session.execute(update(Job).where(Job.id == job_id).values(last_error=error))
            session.execute(
                update(KnowledgeItem)
                .where(KnowledgeItem.id == item_id)
                .values(status="failed", error=error, updated_at=now)
            )

    def _finish(self, results: list[tuple[Claimed, Outcome]]) -> None:
        """Record every job's outcome, in one transaction (jobs this worker still holds only)."""
        held = and_(Job.worker_id == self.worker_id, Job.status == "running")
        done = [job.job_id for job, outcome in results if outcome.ok]
        with self.ctx.db.sessions() as session:
            if done:
                session.execute(
                    update(Job)
                    .where(held, Job.id.in_(done))
                    .values(status="done", lease_until=None)
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
                changed = session.execute(
                    update(Job)
                    .where(held, Job.id == job.job_id)
                    .values(last_error=outcome.error, lease_until=None, **job_values)
                    .returning(Job.id)
                ).first()
                if changed is not None:  # not when another worker took the job over meanwhile
                    session.execute(
                        update(KnowledgeItem)
                        .where(KnowledgeItem.id == job.item_id)
                        .values(updated_at=utcnow(), **item_values)
                    )
            session.commit()


def _fair_due(ctx: AppContext, now: datetime, limit: int) -> Select[str]:
    """The ids of up to ``limit`` due jobs, round-robin across organizations, then chatbots.

    Each due job is ranked within its organization and within its chatbot (jobs already running
    count first, so a tenant being served comes after one waiting); the lowest ranks win. A job
    put back for fairness has a fresh ``run_after``, which orders it behind others of its rank.
    """
    ranked_job = aliased(Job)
    held = and_(ranked_job.status == "running", ranked_job.lease_until >= now)
    due = _due(ranked_job, now)
    order = (case((held, 0), else_=1), ranked_job.run_after, ranked_job.created_at)
    ranked = (
        select(
            ranked_job.id,
            ranked_job.run_after,
            ranked_job.created_at,
            case((due, 1), else_=0).label("due"),
            func.row_number()
            .over(partition_by=Chatbot.organization_id, order_by=order)
            .label("org_rank"),
            func.row_number()
            .over(partition_by=KnowledgeItem.chatbot_id, order_by=order)
            .label("bot_rank"),
        )
        .join(KnowledgeItem, KnowledgeItem.id == ranked_job.item_id)
        .join(Chatbot, Chatbot.id == KnowledgeItem.chatbot_id)
        .where(or_(due, held))
        .subquery()
    )
    # Locked through a second alias: PostgreSQL locks no rows of a subquery with window functions.
    # The alias repeats the due test: a row another worker claimed and committed since this
    # query's snapshot is re-read when locked, and only a test on the locked row itself sees
    # that it is no longer due (the ranking keeps its old snapshot).
    job = aliased(Job)
    query = (
        select(job.id)
        .join(ranked, ranked.c.id == job.id)
        .where(ranked.c.due == 1, _due(job, now))
        .order_by(ranked.c.org_rank, ranked.c.bot_rank, ranked.c.run_after, ranked.c.created_at)
        .limit(limit)
    )
    if ctx.db.engine.dialect.name == "postgresql":
        query = query.with_for_update(of=job, skip_locked=True)
    return query


def _due(job: type[Job] | AliasedClass[Job], now: datetime) -> ColumnElement[bool]:
    """Queued and due, or running on a lease that expired with attempts left."""
    return or_(
        and_(job.status == "queued", job.run_after <= now),
        and_(job.status == "running", job.lease_until < now, job.attempts < job.max_attempts),
    )


def _interleave(claimed: list[Claimed], created: dict[str, datetime]) -> list[Claimed]:
    """The batch in the order to read it: items that need no parser (texts, Q&A pairs) first,
    then each organization's first file or web page, then each one's second, and so on."""
    seen: dict[tuple[bool, str], int] = {}
    ranks: dict[str, int] = {}
    for job in sorted(claimed, key=lambda j: created[j.job_id]):
        group = (job.item_type in READ_IN_CHILD, job.organization_id)
        seen[group] = ranks[job.job_id] = seen.get(group, 0) + 1
    return sorted(
        claimed,
        key=lambda j: (j.item_type in READ_IN_CHILD, ranks[j.job_id], created[j.job_id]),
    )


class _Heartbeat:
    """Renews a worker's leases every third of ``lease_seconds`` while a batch is worked on."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="chatforge-lease", daemon=True)

    def __enter__(self) -> _Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._done.set()
        self._thread.join()

    def _beat(self) -> None:
        interval = self.worker.ctx.settings.ingestion.lease_seconds / 3
        while not self._done.wait(interval):
            try:
                self.worker.renew()
            except Exception:  # the next beat tries again; the lease has two more thirds
                log.exception("could not renew the leases of %s", self.worker.worker_id)


class BackgroundWorker:
    """``settings.ingestion.workers`` workers on daemon threads, for ``chatforge serve``."""

    def __init__(self, ctx: AppContext, count: int | None = None) -> None:
        self._stop = threading.Event()
        count = count or ctx.settings.ingestion.workers
        self.workers = [Worker(ctx, stop=self._stop) for _ in range(count)]
        self._threads = [
            threading.Thread(target=w.run, name=f"chatforge-worker-{n}", daemon=True)
            for n, w in enumerate(self.workers, start=1)
        ]

    def start(self) -> None:
        """Start working in the background."""
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 5) -> None:
        """Stop the workers within about ``timeout`` seconds, their held jobs back in the queue.

        A parse in progress is stopped at once; a worker still embedding after ``timeout`` is
        left to die with the process, its jobs released here so that none waits for a lease.
        """
        stop_workers(self.workers, self._threads, self._stop, timeout)


def stop_workers(
    workers: list[Worker], threads: list[threading.Thread], stop: threading.Event, timeout: float
) -> None:
    """Set ``stop``, wait up to ``timeout`` for the threads, then release every held job."""
    stop.set()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(deadline - time.monotonic(), 0))
    for worker in workers:
        worker.close()
        try:
            released = worker.release()
        except Exception:  # the database is gone: the leases expire instead, within seconds
            log.exception("could not release the jobs of %s", worker.worker_id)
            continue
        if released:
            log.info("released %d unfinished job(s) of %s for retry", released, worker.worker_id)
