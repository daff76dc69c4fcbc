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
    Boolean,
    DateTime,
    ForeignKey,
    Index,
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
