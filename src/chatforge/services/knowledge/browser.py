"""What the console shows of a chatbot's knowledge beyond the API's list: a search over the
items' titles and sources, and one item with its chunks. Scoped through :class:`KnowledgeService`
(another organization's chatbot or item is :class:`~chatforge.errors.NotFound`)."""

from __future__ import annotations

from sqlalchemy import func, or_, select

from chatforge.services.knowledge.service import KnowledgeService
from chatforge.storage.models import Chatbot, Chunk, KnowledgeItem

#: The chunks of an item shown at most (an item of a long book has thousands).
CHUNK_LIMIT = 200


def search_items(
    knowledge: KnowledgeService, chatbot_id: str, *, page: int, limit: int,
    status: str | None = None, item_type: str | None = None, search: str = "",
) -> tuple[Chatbot, list[KnowledgeItem], int]:  # fmt: skip
    """A page of the chatbot's items whose title or source holds ``search`` (any case), newest
    first, filtered by status and type, and the total that match. Counted in the database."""
    chatbot = knowledge.chatbots.get(chatbot_id)
    query = select(KnowledgeItem).where(KnowledgeItem.chatbot_id == chatbot.id)
    if status:
        query = query.where(KnowledgeItem.status == status)
    if item_type:
        query = query.where(KnowledgeItem.type == item_type)
    words = search.strip()[:200]
    if words:
        escaped = words.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern = f"%{escaped}%"
        query = query.where(
            or_(
                func.lower(KnowledgeItem.title).like(pattern, escape="\\"),
                func.lower(KnowledgeItem.source).like(pattern, escape="\\"),
            )
        )
    session = knowledge.session
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    items = session.scalars(
        query.order_by(KnowledgeItem.created_at.desc(), KnowledgeItem.id)
        .offset((page - 1) * limit)
        .limit(limit)
    )
    return chatbot, list(items), int(total)


def item_with_chunks(
    knowledge: KnowledgeService, chatbot_id: str, item_id: str
) -> tuple[KnowledgeItem, list[Chunk]]:
    """One item and its first :data:`CHUNK_LIMIT` chunks, in order."""
    item = knowledge.get(chatbot_id, item_id)
    chunks = knowledge.session.scalars(
        select(Chunk).where(Chunk.item_id == item.id).order_by(Chunk.chunk_index).limit(CHUNK_LIMIT)
    )
    return item, list(chunks)
