"""``POST /api/external/chatbot/{chatbotId}/query-knowledge`` (docs/knowledge.md)."""

from __future__ import annotations

from fastapi import APIRouter

from chatforge.api.deps import QueryDep
from chatforge.api.schemas.common import ERROR_RESPONSES
from chatforge.api.schemas.query import QueryRequest, QueryResponse, QueryResult
from chatforge.services.search.query import SearchFilter

router = APIRouter(prefix="/api/external/chatbot", tags=["knowledge"], responses=ERROR_RESPONSES)


@router.post(
    "/{chatbotId}/query-knowledge",
    response_model=QueryResponse,
    summary="Search the chatbot's knowledge (hybrid keyword + vector by default)",
)
def query_knowledge(
    chatbotId: str,  # noqa: N803
    body: QueryRequest,
    service: QueryDep,
) -> QueryResponse:
    search_filter = None
    if body.filter is not None:
        search_filter = SearchFilter(
            knowledge_ids=tuple([*(body.filter.knowledge_ids or []), *(body.filter.ids or [])]),
            types=tuple(body.filter.types or []),
        )
    hits = service.query(
        chatbotId,
        body.query,
        limit=body.limit,
        threshold=body.threshold,
        mode=body.mode,
        search_filter=search_filter,
    )
    return QueryResponse(
        results=[
            QueryResult(
                content=h.content,
                similarity=h.similarity,
                knowledge_id=h.knowledge_id,
                title=h.title,
                source=h.source,
                chunk_index=h.chunk_index,
                score=round(h.score, 6),
            )
            for h in hits
        ]
    )
