"""The tables, as typed SQLAlchemy 2 models.

Ids are UUID v4 strings (okchat's ids), times are timezone-aware UTC. Every row that belongs to a
customer carries its ``organization_id`` directly or through its chatbot, and every repository query
filters on it. Schema changes go through Alembic (``storage/migrations``), never ``create_all``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


def new_id() -> str:
    """A new UUID v4 as a string."""
    return str(uuid.uuid4())


def utcnow() -> datetime:
    """The current time in UTC."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp that is always timezone-aware UTC, also on SQLite (which drops the zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime; use chatforge.storage.models.utcnow()")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    """Base of all tables."""

    type_annotation_map: ClassVar[dict[Any, Any]] = {
        dict[str, Any]: JSONType,
        list[Any]: JSONType,
        datetime: UTCDateTime,
    }


class Organization(Base):
    """A customer of this server; it owns chatbots and API keys."""

    __tablename__ = "organizations"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """An API key. Only its SHA-256 is stored; the key itself is shown once when made."""

    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    prefix: Mapped[str] = mapped_column(String(12), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class Chatbot(Base):
    """A chatbot and its okchat fields."""

    __tablename__ = "chatbots"
    __table_args__ = (UniqueConstraint("organization_id", "slug", name="uq_chatbots_org_slug"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    slug: Mapped[str] = mapped_column(String(120))
    description: Mapped[str | None] = mapped_column(Text, default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_public: Mapped[bool] = mapped_column(Boolean, default=False)
    personality_config: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    suggestions: Mapped[list[Any] | None] = mapped_column(default=None)
    voice_widget_config: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    # Fernet token of the chatbot's own OpenAI key; never returned in clear.
    openai_api_key_encrypted: Mapped[str | None] = mapped_column(Text, default=None)
    openai_api_key_mask: Mapped[str | None] = mapped_column(String(24), default=None)
    avatar_key: Mapped[str | None] = mapped_column(String(300), default=None)
    docs_metadata: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    enabled_plugins: Mapped[list[Any] | None] = mapped_column(default=None)
    managers: Mapped[list[Any] | None] = mapped_column(default=None)
    migrated_data: Mapped[bool] = mapped_column(Boolean, default=False)
    v1_chatbot_id: Mapped[str | None] = mapped_column(String(36), default=None)
    version_id: Mapped[str | None] = mapped_column(String(36), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


Index("ix_chatbots_org_created", Chatbot.organization_id, Chatbot.created_at)


class KnowledgeItem(Base):
    """One source of a chatbot's knowledge: a file, a text, a Q&A pair or a web page."""

    __tablename__ = "knowledge_items"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    chatbot_id: Mapped[str] = mapped_column(ForeignKey("chatbots.id", ondelete="CASCADE"))
    type: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(16), default="pending")
    error: Mapped[str | None] = mapped_column(Text, default=None)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    size_bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    chunks: Mapped[int] = mapped_column(Integer, default=0)
    content_hash: Mapped[str] = mapped_column(String(64))
    # Text and Q&A items keep their content here; files live in the file store under file_key.
    content: Mapped[str | None] = mapped_column(Text, default=None)
    file_key: Mapped[str | None] = mapped_column(String(300), default=None)
    # Source options (crawl limits, Q&A parts) and the pipeline's per-stage timings and counts.
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


Index("ix_knowledge_items_chatbot_created", KnowledgeItem.chatbot_id, KnowledgeItem.created_at)
Index("ix_knowledge_items_chatbot_hash", KnowledgeItem.chatbot_id, KnowledgeItem.content_hash)

ChunkId = BigInteger().with_variant(Integer(), "sqlite")


class Chunk(Base):
    """A passage of a knowledge item, with its embedding.

    The keyword and vector indexes (``storage/search``) are derived from these rows and hold only
    the chunks that retrieval may return: an item that is disabled keeps its chunks here and
    leaves the indexes, so enabling it again needs no re-embedding.

    ``title``, ``heading`` and ``body`` are what readers use; ``content`` is okchat's
    presentation form (``Title: ...\nChunk: n\n\nContent:\n<body>``), built from them once at
    ingestion and returned as is by the API, never parsed back. A Q&A pair (the one chunk of a
    ``qna`` item) has its question as ``title`` and its answer as ``body``; its content is
    ``Title: <q>\nChunk: 1\n\nQuestion: <q>\n\nAnswer: <body>``.
    """

    __tablename__ = "chunks"
    # Ids are never reused (the memory index tells chunks apart by id).
    __table_args__ = {"sqlite_autoincrement": True}  # noqa: RUF012

    id: Mapped[int] = mapped_column(ChunkId, primary_key=True, autoincrement=True)
    item_id: Mapped[str] = mapped_column(
        ForeignKey("knowledge_items.id", ondelete="CASCADE"), index=True
    )
    chatbot_id: Mapped[str] = mapped_column(String(36), index=True)
    chunk_index: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(Text, default="")
    #: The heading of the section the chunk comes from; None when it has none, and for chunks
    #: indexed before the column existed (their old form does not say which line is one).
    heading: Mapped[str | None] = mapped_column(Text, default=None)
    #: The chunk's text, as under ``Content:`` (its section's heading line first when that
    #: heading is not the title); a Q&A pair's answer.
    body: Mapped[str] = mapped_column(Text, default="", server_default="")
    content: Mapped[str] = mapped_column(Text)
    tokens: Mapped[int] = mapped_column(Integer, default=0)
    page: Mapped[int | None] = mapped_column(Integer, default=None)
    embedding: Mapped[bytes] = mapped_column(LargeBinary)
    #: The analysed title and body terms, for rebuilding keyword indexes without the analyser.
    terms: Mapped[str | None] = mapped_column(Text, default=None)


class SearchVersion(Base):
    """Moves whenever a chatbot's indexed chunks change (``storage/memory_index``)."""

    __tablename__ = "search_versions"

    chatbot_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    version: Mapped[int] = mapped_column(BigInteger)


class Job(Base):
    """A unit of background work (indexing one knowledge item); the jobs table is the queue."""

    __tablename__ = "jobs"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    kind: Mapped[str] = mapped_column(String(32))
    item_id: Mapped[str] = mapped_column(
        ForeignKey("knowledge_items.id", ondelete="CASCADE"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=5)
    run_after: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    worker_id: Mapped[str | None] = mapped_column(String(64), default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


Index("ix_jobs_claim", Job.status, Job.run_after)


class ChatSession(Base):
    """A conversation between a chatbot and one visitor (okchat's session, API.md §3).

    A visitor is known by ``(chatbot_id, platform, sns_user_id)``, where ``sns_user_id`` is the
    chat call's ``sessionToken``; calls without a token each make a session whose
    ``sns_user_id`` is null (NULLs never collide in the unique constraint). The last message is
    kept here too, so that listings need no join.
    """

    __tablename__ = "chat_sessions"
    __table_args__ = (
        UniqueConstraint("chatbot_id", "platform", "sns_user_id", name="uq_chat_sessions_visitor"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    chatbot_id: Mapped[str] = mapped_column(ForeignKey("chatbots.id", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(32), default="web")
    sns_user_id: Mapped[str | None] = mapped_column(String(255), default=None)
    session_token: Mapped[str | None] = mapped_column(String(255), default=None)
    user_id: Mapped[str | None] = mapped_column(String(36), default=None)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    is_human_mode: Mapped[bool] = mapped_column(Boolean, default=False)
    state: Mapped[str] = mapped_column(String(16), default="in_progress")
    # The lead: an email the visitor gave (isRequestUserInfoEnabled).
    email: Mapped[str | None] = mapped_column(String(320), default=None)
    last_message: Mapped[str | None] = mapped_column(Text, default=None)
    last_message_id: Mapped[str | None] = mapped_column(String(36), default=None)
    last_sender_type: Mapped[str | None] = mapped_column(String(8), default=None)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    migrated_data: Mapped[bool] = mapped_column(Boolean, default=False)
    voice_path: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


Index("ix_chat_sessions_chatbot_updated", ChatSession.chatbot_id, ChatSession.updated_at)
Index(
    "ix_chat_sessions_chatbot_platform_updated",
    ChatSession.chatbot_id,
    ChatSession.platform,
    ChatSession.updated_at,
)
# The inbox: an organization's conversations, most recently active first.
Index("ix_chat_sessions_updated", ChatSession.updated_at)
# Insights: the conversations each chatbot started in a period.
Index("ix_chat_sessions_chatbot_created", ChatSession.chatbot_id, ChatSession.created_at)


class ChatMessage(Base):
    """One message of a session: the visitor's (``user``), the chatbot's (``bot``) or a human
    agent's (``human``). Bot messages record the model, provider, tokens and sources."""

    __tablename__ = "chat_messages"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    session_id: Mapped[str] = mapped_column(ForeignKey("chat_sessions.id", ondelete="CASCADE"))
    sender_type: Mapped[str] = mapped_column(String(8))
    content: Mapped[str] = mapped_column(Text, default="")
    model: Mapped[str | None] = mapped_column(String(200), default=None)
    provider: Mapped[str | None] = mapped_column(String(64), default=None)
    tokens_used: Mapped[int] = mapped_column(Integer, default=0)
    meta: Mapped[dict[str, Any]] = mapped_column("metadata", default=dict)
    attachments: Mapped[list[Any] | None] = mapped_column(default=None)
    tool_calls: Mapped[list[Any] | None] = mapped_column(default=None)
    tool_results: Mapped[list[Any] | None] = mapped_column(default=None)
    session_token: Mapped[str | None] = mapped_column(String(255), default=None)
    migrated_data: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


Index("ix_chat_messages_session_created", ChatMessage.session_id, ChatMessage.created_at)
# Insights count the messages of a period (today's on every visit).
Index("ix_chat_messages_created", ChatMessage.created_at)


class MessageFeedback(Base):
    """A rating of a bot message (``up`` or ``down``) with an optional comment; one per message."""

    __tablename__ = "message_feedback"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    message_id: Mapped[str] = mapped_column(
        ForeignKey("chat_messages.id", ondelete="CASCADE"), unique=True
    )
    rating: Mapped[str] = mapped_column(String(8))
    comment: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


Index("ix_message_feedback_created", MessageFeedback.created_at)


class User(Base):
    """A person who signs in to the console, in one organization, as ``owner`` or ``agent``.

    Only an argon2 hash of the password is stored. Emails are unique on the server (lower case):
    signing in names no organization.
    """

    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    organization_id: Mapped[str] = mapped_column(
        ForeignKey("organizations.id", ondelete="CASCADE"), index=True
    )
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16), default="agent")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(default=None)


class WebSession(Base):
    """A signed-in browser. The cookie holds a random token; only its SHA-256 is stored here,
    with the session's CSRF token. Signing out deletes the row."""

    __tablename__ = "web_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[str] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
