"""Wire shapes of knowledge items (API.md §2 rows 9-12 and "Knowledge items")."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from chatforge.api.schemas.chatbots import ChatbotFull
from chatforge.api.schemas.common import Pagination, RequestModel, Timestamp
from chatforge.services.knowledge import KnowledgeItem

HttpUrl = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^https?://\S+$", max_length=2000)
]
NonEmpty = Annotated[str, StringConstraints(min_length=1)]


class TextSource(RequestModel):
    type: Literal["text"]
    title: Annotated[str, StringConstraints(max_length=500)] | None = None
    content: Annotated[str, StringConstraints(min_length=1, max_length=5_000_000)]


class QnaSource(RequestModel):
    type: Literal["qna"]
    question: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=5_000)
    ]
    answer: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=99_999)
    ]


class CrawlOptions(RequestModel):
    max_pages: Annotated[int, Field(ge=1, le=500)] = 1
    same_domain: bool = True


class UrlSource(RequestModel):
    type: Literal["url"]
    url: HttpUrl
    title: str | None = None
    crawl: CrawlOptions | None = None


class SitemapSource(RequestModel):
    type: Literal["sitemap"]
    url: HttpUrl


Source = Annotated[TextSource | QnaSource | UrlSource | SitemapSource, Field(discriminator="type")]


class KnowledgeUpdate(RequestModel):
    """Edits of an item; content edits re-index it, ``enabled`` hides or shows it."""

    title: Annotated[str, StringConstraints(min_length=1, max_length=500)] | None = None
    content: NonEmpty | None = None
    question: NonEmpty | None = None
    answer: NonEmpty | None = None
    url: HttpUrl | None = None
    enabled: bool | None = None


class KnowledgeItemOut(BaseModel):
    """A knowledge item; ``metadata`` shows per-stage timings and counts once indexed."""

    id: str
    chatbot_id: str
    type: str
    title: str
    source: str
    status: Literal["pending", "processing", "ready", "failed"]
    error: str | None
    enabled: bool
    size_bytes: int
    chunks: int
    content_hash: str
    metadata: dict[str, Any]
    created_at: Timestamp
    updated_at: Timestamp


def item_out(item: KnowledgeItem) -> KnowledgeItemOut:
    """The wire form of an item."""
    meta = {k: v for k, v in item.meta.items() if k not in ("question", "answer", "indexed_hash")}
    return KnowledgeItemOut(
        id=item.id,
        chatbot_id=item.chatbot_id,
        type=item.type,
        title=item.title,
        source=item.source,
        status=item.status,
        error=item.error,
        enabled=item.enabled,
        size_bytes=item.size_bytes,
        chunks=item.chunks,
        content_hash=item.content_hash,
        metadata=meta,
        created_at=item.created_at,
        updated_at=item.updated_at,
    )


class KnowledgeList(BaseModel):
    chatbot: ChatbotFull
    knowledge_base: list[KnowledgeItemOut]
    pagination: Pagination


class KnowledgeCreated(BaseModel):
    knowledge_base: list[KnowledgeItemOut]
    message: str


class KnowledgeUpdated(BaseModel):
    knowledge: KnowledgeItemOut
    message: str


class KnowledgeDeleted(BaseModel):
    chatbot: ChatbotFull
    message: str
