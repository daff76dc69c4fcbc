"""Readiness: is the database reachable and at the newest schema?"""

from __future__ import annotations

import logging

from sqlalchemy.exc import SQLAlchemyError

from chatforge.services.context import AppContext
from chatforge.storage import migrate

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
