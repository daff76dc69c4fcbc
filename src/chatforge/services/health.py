"""Readiness (is the database reachable and at the newest schema?) and the state metrics show."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from chatforge.services.context import AppContext
from chatforge.storage import migrate
from chatforge.storage.memory_index import MemorySearchIndex
from chatforge.storage.models import Job, KnowledgeItem

log = logging.getLogger(__name__)


def readiness_problem(ctx: AppContext) -> str | None:
    """None when ready, else a sentence saying what is wrong."""
    try:
        if not migrate.is_current(ctx.engine):
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
    memory_chatbots: int
    memory_bytes: int


def state(ctx: AppContext) -> State:
    """The ingestion queue and knowledge items by status, and this process's search memory."""
    with ctx.reader().connect() as conn:
        jobs = conn.execute(select(Job.status, func.count()).group_by(Job.status)).all()
        items = conn.execute(
            select(KnowledgeItem.status, func.count()).group_by(KnowledgeItem.status)
        ).all()
    index = ctx.search_index
    chatbots, size = index.usage() if isinstance(index, MemorySearchIndex) else (0, 0)
    return State(
        jobs={str(status): int(count) for status, count in jobs},
        items={str(status): int(count) for status, count in items},
        memory_chatbots=chatbots,
        memory_bytes=size,
    )
