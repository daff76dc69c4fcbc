"""What the console reads and does beyond the API's own services.

Lists paginated in the database (chatbots with their counts, the organization-wide inbox), the
models a chatbot may choose on this server, retrying a failed knowledge item, and the
organization's own API keys. Every function is scoped to one organization.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from chatforge.errors import ChatforgeError, NotFound
from chatforge.services.accounts import keys
from chatforge.services.context import AppContext
from chatforge.services.knowledge.service import KnowledgeService
from chatforge.storage.models import (
    ApiKey,
    Chatbot,
    ChatMessage,
    ChatSession,
    KnowledgeItem,
    MessageFeedback,
    Organization,
    utcnow,
)

#: Models offered in the console when their provider is usable here (a key set, or none needed).
CANDIDATE_MODELS = (
    "extractive",
    "gpt-4o-mini",
    "gpt-4o",
    "openai:gpt-4.1-mini",
    "claude-sonnet-4-6",
    "anthropic:claude-haiku-4-5",
)


@dataclass(frozen=True)
class ChatbotRow:
    """A chatbot in the console's list, with what it holds."""

    chatbot: Chatbot
    items: int
    conversations: int


@dataclass(frozen=True)
class InboxRow:
    """A conversation in the inbox, with the name of its chatbot."""

    conversation: ChatSession
    chatbot_name: str
    rated_down: bool


@dataclass(frozen=True)
class InboxFilters:
    """Which conversations the inbox shows; None or False filters nothing."""

    chatbot_id: str | None = None
    human_mode: bool = False
    has_lead: bool = False
    rated_down: bool = False
    #: Only conversations whose last message is the visitor's (nobody has answered it yet).
    waiting: bool = False
    #: Only conversations on this platform (``web``, ``api``, ``whatsapp``...).
    platform: str | None = None
    #: Only conversations active on or after this day (UTC), and on or before ``until``.
    since: date | None = None
    until: date | None = None
    #: Conversations of these platforms are left out (the console's own playground).
    hidden_platforms: tuple[str, ...] = ("playground",)


@dataclass(frozen=True)
class KeyRow:
    """One of the organization's API keys (its prefix only)."""

    id: str
    prefix: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def chatbot_page(
    session: Session, organization_id: str, page: int, limit: int
) -> tuple[list[ChatbotRow], int]:
    """A page of the organization's chatbots, newest first, with counts, and the total."""
    where = Chatbot.organization_id == organization_id
    total = session.scalar(select(func.count()).select_from(Chatbot).where(where)) or 0
    bots = list(
        session.scalars(
            select(Chatbot)
            .where(where)
            .order_by(Chatbot.created_at.desc(), Chatbot.id)
            .offset((page - 1) * limit)
            .limit(limit)
        )
    )
    ids = [bot.id for bot in bots]
    items = _counts(session, KnowledgeItem.chatbot_id, ids)
    chats = _counts(session, ChatSession.chatbot_id, ids)
    rows = [ChatbotRow(bot, items.get(bot.id, 0), chats.get(bot.id, 0)) for bot in bots]
    return rows, int(total)


def _counts(session: Session, column: InstrumentedAttribute[str], ids: list[str]) -> dict[str, int]:
    if not ids:
        return {}
    rows = session.execute(select(column, func.count()).where(column.in_(ids)).group_by(column))
    return {str(key): int(count) for key, count in rows}


def inbox_page(
    session: Session, organization_id: str, filters: InboxFilters, page: int, limit: int
) -> tuple[list[InboxRow], int]:
    """A page of the organization's conversations, most recently active first, and the total."""
    # The few sessions with a down rating, found from the (small) feedback table.
    rated_down = (
        select(ChatMessage.session_id)
        .join(MessageFeedback, MessageFeedback.message_id == ChatMessage.id)
        .where(MessageFeedback.rating == "down")
    )
    where = [Chatbot.organization_id == organization_id]
    if filters.hidden_platforms:
        where.append(ChatSession.platform.not_in(filters.hidden_platforms))
    if filters.platform:
        where.append(ChatSession.platform == filters.platform)
    if filters.since:
        where.append(ChatSession.updated_at >= datetime.combine(filters.since, time(), UTC))
    if filters.until:
        end = datetime.combine(filters.until + timedelta(days=1), time(), UTC)
        where.append(ChatSession.updated_at < end)
    if filters.chatbot_id:
        where.append(ChatSession.chatbot_id == filters.chatbot_id)
    if filters.human_mode:
        where.append(ChatSession.is_human_mode.is_(True))
    if filters.has_lead:
        where.append(ChatSession.email.is_not(None))
    if filters.rated_down:
        where.append(ChatSession.id.in_(rated_down))
    if filters.waiting:
        where.append(ChatSession.last_sender_type == "user")
    base = select(ChatSession).join(Chatbot, Chatbot.id == ChatSession.chatbot_id).where(*where)
    total = session.scalar(select(func.count()).select_from(base.subquery())) or 0
    # The page's ids first, sorted from narrow rows; then only those 25 conversations whole
    # (sorting every conversation with its last message made deep pages slow).
    order = (ChatSession.updated_at.desc(), ChatSession.id)
    ids_of_page = (
        select(ChatSession.id)
        .join(Chatbot, Chatbot.id == ChatSession.chatbot_id)
        .where(*where)
        .order_by(*order)
        .offset((page - 1) * limit)
        .limit(limit)
    )
    rows = list(
        session.execute(
            select(ChatSession, Chatbot.name)
            .join(Chatbot, Chatbot.id == ChatSession.chatbot_id)
            .where(ChatSession.id.in_(list(session.scalars(ids_of_page))))
            # (checked on each of those rows, wrapped so that SQLite picks them by their ids
            # rather than walking the organization's conversations again)
            .where((Chatbot.organization_id + "") == organization_id)
            .order_by(*order)
        )
    )
    ids = [conv.id for conv, _ in rows]
    down = set(session.scalars(rated_down.where(ChatMessage.session_id.in_(ids)))) if ids else set()
    return [InboxRow(conv, name, conv.id in down) for conv, name in rows], int(total)


def platforms(session: Session, organization_id: str) -> list[str]:
    """The platforms the organization's conversations came from (for the inbox's filter)."""
    return sorted(
        session.scalars(
            select(ChatSession.platform)
            .join(Chatbot, Chatbot.id == ChatSession.chatbot_id)
            .where(Chatbot.organization_id == organization_id)
            .where(ChatSession.platform.not_in(("playground",)))
            .distinct()
        )
    )


def chatbot_names(session: Session, organization_id: str, limit: int = 200) -> list[Chatbot]:
    """The organization's chatbots for a filter menu (the newest ``limit``)."""
    return list(
        session.scalars(
            select(Chatbot)
            .where(Chatbot.organization_id == organization_id)
            .order_by(Chatbot.created_at.desc(), Chatbot.id)
            .limit(limit)
        )
    )


def usable_models(ctx: AppContext, current: str | None = None) -> list[str]:
    """The models a chatbot may choose here: those whose provider builds (a key is set, or none
    is needed), the server's default first, and the chatbot's ``current`` one whatever it is."""
    found: list[str] = []
    for name in (ctx.models.default_model(), *CANDIDATE_MODELS):
        if name in found:
            continue
        try:
            ctx.models.registry.build(name)
        except ChatforgeError:
            continue
        found.append(name)
    if current and current not in found:
        found.append(current)
    return found


def retry_item(knowledge: KnowledgeService, chatbot_id: str, item_id: str) -> KnowledgeItem:
    """Queue a failed (or any) item again, as editing it with its own content would."""
    item = knowledge.get(chatbot_id, item_id)
    if item.type == "qna":
        patch: dict[str, object] = {"question": item.meta.get("question") or item.title}
    elif item.type == "url":
        patch = {"url": item.source}
    elif item.type == "text":
        patch = {"content": item.content or ""}
    else:
        patch = {"title": item.title}
    return knowledge.update(chatbot_id, item_id, patch)


def list_keys(session: Session, organization_id: str) -> list[KeyRow]:
    """The organization's keys, newest first."""
    rows = session.scalars(
        select(ApiKey)
        .where(ApiKey.organization_id == organization_id)
        .order_by(ApiKey.created_at.desc(), ApiKey.id)
    )
    return [KeyRow(k.id, k.prefix, k.created_at, k.last_used_at, k.revoked_at) for k in rows]


def create_key(session: Session, organization_id: str) -> str:
    """A new key of the organization, in clear (shown once)."""
    org = session.get(Organization, organization_id)
    if org is None:
        raise NotFound("Organization not found.")
    return keys.create_key(session, org.name).key


def revoke_key(session: Session, organization_id: str, key_id: str) -> None:
    """Revoke one of the organization's keys; another organization's is :class:`NotFound`."""
    key = session.scalar(
        select(ApiKey).where(ApiKey.id == key_id, ApiKey.organization_id == organization_id)
    )
    if key is None:
        raise NotFound("API key not found.")
    if key.revoked_at is None:
        key.revoked_at = utcnow()
    session.commit()
