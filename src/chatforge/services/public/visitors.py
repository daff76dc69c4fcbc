"""Anonymous visitors of a public chatbot: their tokens, their sessions, what they may see.

A visitor is known by an opaque random token the server issues (32 bytes from ``secrets``,
urlsafe). Only its SHA-256 is stored, in the metadata of each session the visitor owns, under
:data:`TOKEN_HASH_KEY`; it is taken out of every response (:func:`visible_metadata`). A session is
read, continued, rated or given a lead only with the token whose hash it holds: anything else is
:class:`NotFound`, exactly as a session that does not exist.

Each visitor session also gets its own random ``sns_user_id``, so that the chat service finds it
again as okchat's ``(chatbot, platform, sessionToken)``; that id is never a visitor's secret.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from chatforge.errors import NotFound
from chatforge.services.conversations import sessions
from chatforge.services.conversations.sessions import ChatMessage, ChatSession, Incoming
from chatforge.storage.models import KnowledgeItem, utcnow

__all__ = [
    "PLATFORM",
    "TOKEN_HASH_KEY",
    "PublicMessage",
    "PublicSource",
    "SessionView",
    "issue_token",
    "new_visitor_session",
    "owned_session",
    "public_messages",
    "public_sources",
    "token_hash",
    "usable_token",
    "visible_metadata",
]

PLATFORM = "web"
"""The platform of every session started through the public API (operators filter on it)."""

TOKEN_HASH_KEY = "visitor_token_sha256"  # noqa: S105 - a metadata key, not a secret
"""Where a session's metadata keeps the hash of the token that owns it (never shown)."""

_TOKEN_BYTES = 32
_TOKEN_SHAPE = re.compile(r"^[A-Za-z0-9_-]{32,128}$")
# Only items fetched from the web link back to where they came from; a file name is not a URL.
_LINKED_TYPES = frozenset({"url"})


@dataclass(frozen=True)
class PublicSource:
    """A source as a visitor sees it: no chunk text, a link only for web pages."""

    ref: int
    knowledge_id: str
    title: str
    source: str
    url: str | None


@dataclass(frozen=True)
class PublicMessage:
    """A message as a visitor sees it."""

    id: str
    sender_type: Literal["user", "bot", "human"]
    content: str
    created_at: datetime
    sources: tuple[PublicSource, ...]
    rating: Literal["up", "down"] | None


@dataclass(frozen=True)
class SessionView:
    """A visitor's session: what the widget needs to draw it."""

    id: str
    is_human_mode: bool
    state: str
    has_email: bool
    created_at: datetime


def issue_token() -> str:
    """A new visitor token: 32 random bytes, urlsafe base64 (43 characters)."""
    return secrets.token_urlsafe(_TOKEN_BYTES)


def usable_token(token: str | None) -> str | None:
    """``token`` when it has the shape of one the server issues, else None (a new one is
    issued then: a corrupted browser store must not break the widget)."""
    if token is None or not _TOKEN_SHAPE.match(token):
        return None
    return token


def token_hash(token: str) -> str:
    """The SHA-256 of a token, as stored; the token itself is never stored or logged."""
    return hashlib.sha256(token.encode()).hexdigest()


def visible_metadata(meta: dict[str, Any] | None) -> dict[str, Any]:
    """A session's metadata without the visitor token's hash, for any response."""
    return {key: value for key, value in (meta or {}).items() if key != TOKEN_HASH_KEY}


def new_visitor_session(db: Session, chatbot_id: str, token: str) -> ChatSession:
    """A new web session of ``chatbot_id`` owned by ``token`` (the caller commits)."""
    chat_session = sessions.open_session(
        db, Incoming(chatbot_id, PLATFORM, f"visitor-{secrets.token_hex(16)}")
    )
    chat_session.meta = {**(chat_session.meta or {}), TOKEN_HASH_KEY: token_hash(token)}
    chat_session.updated_at = utcnow()
    return chat_session


def owned_session(db: Session, chatbot_id: str, session_id: str, token: str | None) -> ChatSession:
    """The session ``session_id`` of ``chatbot_id`` when ``token`` owns it.

    Raises:
        NotFound: No such session, another chatbot's, or one that ``token`` does not own. The
            three read the same, so that a guessed id teaches nothing.
    """
    found = db.scalar(
        select(ChatSession).where(
            ChatSession.id == session_id, ChatSession.chatbot_id == chatbot_id
        )
    )
    stored = str((found.meta or {}).get(TOKEN_HASH_KEY) or "") if found is not None else ""
    # Compared in constant time, and always compared, so that timing says nothing either.
    given = token_hash(token) if token is not None else ""
    if found is None or not stored or not hmac.compare_digest(stored, given):
        raise NotFound(f"Conversation {session_id} not found.")
    return found


def session_view(chat_session: ChatSession) -> SessionView:
    """The widget's view of a session."""
    return SessionView(
        id=chat_session.id,
        is_human_mode=chat_session.is_human_mode,
        state=chat_session.state,
        has_email=chat_session.email is not None,
        created_at=chat_session.created_at,
    )


def public_sources(
    db: Session, chatbot_id: str, stored: list[dict[str, Any]]
) -> tuple[PublicSource, ...]:
    """Sources as a visitor sees them, from their stored form (``metadata.sources``)."""
    return _public_sources(stored, _item_types(db, chatbot_id, [stored]))


def public_messages(
    db: Session, chatbot_id: str, messages: list[ChatMessage]
) -> list[PublicMessage]:
    """Messages as a visitor sees them, with one query for all their sources' items."""
    stored = [_stored_sources(m) for m in messages]
    types = _item_types(db, chatbot_id, stored)
    return [
        PublicMessage(
            id=m.id,
            sender_type=_sender(m.sender_type),
            content=m.content,
            created_at=m.created_at,
            sources=_public_sources(s, types) if m.sender_type == "bot" else (),
            rating=_rating(m),
        )
        for m, s in zip(messages, stored, strict=True)
    ]


def _stored_sources(message: ChatMessage) -> list[dict[str, Any]]:
    """The sources a visitor is shown: none for an answer that rests on none ("not found")."""
    sources = (message.meta or {}).get("sources")
    if not isinstance(sources, list) or not sessions.rests_on_sources(message):
        return []
    return [s for s in sources if isinstance(s, dict)]


def _item_types(db: Session, chatbot_id: str, lists: list[list[dict[str, Any]]]) -> dict[str, str]:
    ids = {str(s.get("knowledge_id")) for sources in lists for s in sources}
    if not ids:
        return {}
    rows = db.execute(
        select(KnowledgeItem.id, KnowledgeItem.type).where(
            KnowledgeItem.chatbot_id == chatbot_id, KnowledgeItem.id.in_(ids)
        )
    )
    return {row.id: row.type for row in rows}


def _public_sources(
    stored: list[dict[str, Any]], types: dict[str, str]
) -> tuple[PublicSource, ...]:
    out = []
    for index, source in enumerate(stored, start=1):
        knowledge_id = str(source.get("knowledge_id") or "")
        where = str(source.get("source") or "")
        linked = types.get(knowledge_id) in _LINKED_TYPES and where.startswith(
            ("https://", "http://")
        )
        out.append(
            PublicSource(
                ref=int(source.get("ref") or index),
                knowledge_id=knowledge_id,
                title=str(source.get("title") or ""),
                source=where,
                url=where if linked else None,
            )
        )
    return tuple(out)


def _sender(value: str) -> Literal["user", "bot", "human"]:
    if value == "bot":
        return "bot"
    return "human" if value == "human" else "user"


def _rating(message: ChatMessage) -> Literal["up", "down"] | None:
    feedback = (message.meta or {}).get("feedback")
    rating = feedback.get("rating") if isinstance(feedback, dict) else None
    if rating == "up":
        return "up"
    return "down" if rating == "down" else None
