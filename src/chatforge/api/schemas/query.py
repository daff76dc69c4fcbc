"""Wire shapes of Query Knowledge (docs/knowledge.md)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, Field, StringConstraints

from chatforge.api.schemas.common import WHOLE, RequestModel

#: The most item ids one filter may name: a list of millions was parsed, then searched.
MAX_IDS = 1000


class QueryFilter(RequestModel):
    """Restrict the search to some knowledge items or item types."""

    knowledge_ids: list[Annotated[str, StringConstraints(max_length=64)]] | None = Field(
        None, max_length=MAX_IDS, description=f"Item ids to search in (at most {MAX_IDS})."
    )
    ids: list[Annotated[str, StringConstraints(max_length=64)]] | None = Field(
        None, max_length=MAX_IDS, description="Same as knowledge_ids."
    )
    types: list[Literal["file", "text", "qna", "url"]] | None = None


class QueryRequest(RequestModel):
    """``query`` is required; the rest default to the chatbot's ``settings.retrieval``."""

    query: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
    limit: Annotated[int, Field(ge=1, le=50), WHOLE] | None = None
    threshold: Annotated[float, Field(ge=0, le=1)] | None = None
    mode: Literal["hybrid", "vector", "keyword"] | None = None
    filter: QueryFilter | None = None


class QueryResult(BaseModel):
    """One passage. ``content`` and ``similarity`` are okchat's; the rest are extensions."""

    content: str
    similarity: float = Field(description="Relevance in [0, 1], comparable across queries.")
    knowledge_id: str
    title: str
    source: str
    chunk_index: int
    score: float = Field(description="The fused score before Q&A promotion.")


class QueryResponse(BaseModel):
    results: list[QueryResult]
