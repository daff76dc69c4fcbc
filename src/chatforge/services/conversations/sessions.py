"""Chat sessions and their messages: the storage side of a conversation.

A visitor's session is found by ``(chatbot, platform, sessionToken)``; a call without a token makes
a new session. Every message written goes through :func:`add_message`, which also keeps the
session's last message and ``updated_at`` current, so listings need no join. Callers own the
transaction: these functions never commit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from chatforge.storage.models import ChatMessage, ChatSession, utcnow

__all__ = [
    "ChatMessage",
    "ChatSession",
    "Incoming",
    "SenderType",
    "add_message",
    "find_email",
    "only_gives_email",
    "open_session",
    "recent_messages",
    "record_lead",
]

SenderType = Literal["user", "bot", "human"]

# Enough of RFC 5322 for a visitor typing their address into a chat.
_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")


@dataclass(frozen=True)
class Incoming:
    """Where a chat call lands: its chatbot, platform and the visitor's token (or None)."""

    chatbot_id: str
    platform: str
    session_token: str | None


def open_session(db: Session, incoming: Incoming) -> ChatSession:
    """The visitor's session, made when new; without a token, always a new one.

    Two first calls of one visitor may race; the unique constraint on
    ``(chatbot_id, platform, sns_user_id)`` lets one win and the other reads its session.
    """
    if incoming.session_token is not None:
        found = _find(db, incoming)
        if found is not None:
            return found
    now = utcnow()
    chat_session = ChatSession(
        chatbot_id=incoming.chatbot_id,
        platform=incoming.platform,
        sns_user_id=incoming.session_token,
        meta={"anonymous": True},
        created_at=now,
        updated_at=now,
    )
    if incoming.session_token is None:
        db.add(chat_session)
        db.flush()
        return chat_session
    try:
        with db.begin_nested():
            db.add(chat_session)
    except IntegrityError:
        found = _find(db, incoming)
        if found is None:  # pragma: no cover - the winner's row is committed before we conflict
            raise
        return found
    return chat_session


def _find(db: Session, incoming: Incoming) -> ChatSession | None:
    return db.scalar(
        select(ChatSession).where(
            ChatSession.chatbot_id == incoming.chatbot_id,
            ChatSession.platform == incoming.platform,
            ChatSession.sns_user_id == incoming.session_token,
        )
    )


def recent_messages(db: Session, session_id: str, limit: int = 50) -> list[ChatMessage]:
    """The session's last ``limit`` messages, oldest first."""
    newest = db.scalars(
        select(ChatMessage)
        .where(ChatMessage.session_id == session_id)
        .order_by(ChatMessage.created_at.desc(), ChatMessage.id.desc())
        .limit(limit)
    )
    return list(reversed(list(newest)))


def add_message(
    db: Session,
    chat_session: ChatSession,
    sender_type: SenderType,
    content: str,
    *,
    model: str | None = None,
    provider: str | None = None,
    tokens_used: int = 0,
    metadata: dict[str, Any] | None = None,
) -> ChatMessage:
    """Add a message to ``chat_session`` and make it the session's last message.

    Times of one session's messages strictly increase, so that "oldest first" is their order
    even when two are written within the clock's resolution.
    """
    now = utcnow()
    if chat_session.updated_at is not None and now <= chat_session.updated_at:
        now = chat_session.updated_at + timedelta(microseconds=1)
    message = ChatMessage(
        session_id=chat_session.id,
        sender_type=sender_type,
        content=content,
        model=model,
        provider=provider,
        tokens_used=tokens_used,
        meta=metadata or {},
        created_at=now,
    )
    db.add(message)
    db.flush()
    chat_session.last_message = content
    chat_session.last_message_id = message.id
    chat_session.last_sender_type = sender_type
    chat_session.updated_at = now
    if chat_session.state == "closed":
        chat_session.state = "in_progress"  # a new message reopens the conversation
    return message


def rests_on_sources(message: ChatMessage | None) -> bool:
    """Whether a bot answer rests on the passages it was given: false for one that cited none
    and was not flagged for leaving them out ("not found"). The passages stay in its metadata,
    for operators; the answer's sources, as a client is shown them, are none."""
    citations = (message.meta or {}).get("citations") if message is not None else None
    if not isinstance(citations, dict):
        return True
    return bool(citations.get("cited")) or bool(citations.get("missing"))


def find_email(text: str) -> str | None:
    """The first email address in ``text``, lower-cased, or None."""
    match = _EMAIL.search(text)
    return match.group(0).lower() if match else None


_FILLER_WORDS = """
    my email e mail is it its it's here address sure ok okay yes the this you can reach me at
    contact mine's mines and thanks thank
"""
_EMAIL_FILLER = frozenset(_FILLER_WORDS.split())


def only_gives_email(text: str) -> bool:
    """Whether ``text`` says nothing but an email address ("my email is jo@example.com")."""
    rest = _EMAIL.sub(" ", text).lower()
    words = re.findall(r"[a-z']+", rest)
    return all(word in _EMAIL_FILLER for word in words)


def without_email(text: str) -> str:
    """``text`` with its email addresses taken out ("jo@example.com - what does it cost?")."""
    return _EMAIL.sub(" ", text).strip(" \t\n-:,;") or text


def record_lead(chat_session: ChatSession, email: str) -> None:
    """Store the visitor's email on the session: it becomes a lead."""
    chat_session.email = email
    chat_session.meta = {**(chat_session.meta or {}), "anonymous": False, "email": email}
