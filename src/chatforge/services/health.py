"""Readiness (is the database reachable and at the newest schema?) and the state metrics show."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from chatforge.services.model_set import ModelSet
from chatforge.storage import migrate
from chatforge.storage.db import Database
from chatforge.storage.memory_index import MemorySearchIndex
from chatforge.storage.models import Job, KnowledgeItem

log = logging.getLogger(__name__)


def readiness_problem(db: Database) -> str | None:
    """None when ready, else a sentence saying what is wrong."""
    try:
        if not migrate.is_current(db.reader()):
            return "The database schema is not current; run `chatforge migrate`."
    except SQLAlchemyError as exc:
        log.warning("readiness check failed: %s", type(exc).__name__)
        return "The database is not reachable."
    return None


@dataclass(frozen=True)
class State:
    """Counts across every organization (no names or ids), for operators' metrics."""

    jobs: dict[str, int]
    items: dict[str, int]


def state(db: Database) -> State:
    """The ingestion queue and the knowledge items, by status."""
    with db.reader().connect() as conn:
        jobs = conn.execute(select(Job.status, func.count()).group_by(Job.status)).all()
        items = conn.execute(
            select(KnowledgeItem.status, func.count()).group_by(KnowledgeItem.status)
        ).all()
    return State(
        jobs={str(status): int(count) for status, count in jobs},
        items={str(status): int(count) for status, count in items},
    )


def memory_usage(models: ModelSet) -> tuple[int, int]:
    """Chatbots held in this process's search memory, and their bytes."""
    index = models.search_index
    return index.usage() if isinstance(index, MemorySearchIndex) else (0, 0)
