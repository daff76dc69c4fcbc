"""Query Knowledge: a chatbot's retrieval, with the chatbot's own defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from chatforge.services.chatbots.service import ChatbotService
from chatforge.services.context import AppContext
from chatforge.services.search.retrieval import (
    DEFAULT_LIMIT,
    DEFAULT_MODE,
    DEFAULT_THRESHOLD,
    Hit,
    Mode,
    Retriever,
    SearchFilter,
)

__all__ = ["Hit", "QueryService", "RetrievalDefaults", "SearchFilter", "retrieval_defaults"]


@dataclass(frozen=True)
class RetrievalDefaults:
    """A chatbot's retrieval settings (``settings.retrieval``), with the server's defaults."""

    limit: int = DEFAULT_LIMIT
    threshold: float = DEFAULT_THRESHOLD
    mode: Mode = DEFAULT_MODE


def retrieval_defaults(settings: dict[str, Any]) -> RetrievalDefaults:
    """The retrieval settings stored on a chatbot, falling back to the defaults."""
    stored = settings.get("retrieval") or {}
    return RetrievalDefaults(
        limit=int(stored.get("limit", DEFAULT_LIMIT)),
        threshold=float(stored.get("threshold", DEFAULT_THRESHOLD)),
        mode=stored.get("mode", DEFAULT_MODE),
    )


class QueryService:
    """Search a chatbot's knowledge, scoped to the caller's organization."""

    def __init__(self, ctx: AppContext, organization_id: str) -> None:
        self.ctx = ctx
        self.organization_id = organization_id
        self.retriever = Retriever(ctx.db, ctx.models)

    def query(
        self,
        chatbot_id: str,
        query: str,
        *,
        limit: int | None = None,
        threshold: float | None = None,
        mode: Mode | None = None,
        search_filter: SearchFilter | None = None,
    ) -> list[Hit]:
        """The chatbot's best chunks for ``query``; unset options use the chatbot's settings."""
        # Read-only: on SQLite the ownership check never queues for the write lock. Its
        # connection goes back before the search, which first embeds the query (a remote
        # embedder may take a while) and then takes one of its own.
        with Session(self.ctx.db.reader()) as db:
            chatbot = ChatbotService(self.ctx, db, self.organization_id).get(chatbot_id)
            defaults = retrieval_defaults(chatbot.settings)
        return self.retriever.search(
            chatbot.id,
            query,
            limit=defaults.limit if limit is None else limit,
            threshold=defaults.threshold if threshold is None else threshold,
            mode=defaults.mode if mode is None else mode,
            search_filter=search_filter,
        )
