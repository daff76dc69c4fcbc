"""Conversations as a business reads and steers them: sessions, messages, handoff, feedback.

Every method is scoped to the organization through the chatbot: a session of another
organization's chatbot, or of another chatbot, is :class:`NotFound`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chatforge.errors import BadRequest, NotFound, ValidationFailed
from chatforge.services.chatbots.service import ChatbotService
from chatforge.services.context import AppContext
from chatforge.services.conversations import sessions
from chatforge.services.conversations.sessions import ChatMessage, ChatSession
from chatforge.storage.models import MessageFeedback, utcnow

__all__ = [
    "ChatMessage",
    "ChatSession",
    "ConversationService",
    "MessageFeedback",
    "Page",
    "SessionPatch",
]

State = Literal["in_progress", "closed"]


@dataclass(frozen=True)
class Page:
    """Which page of a list: ``page`` from 1, ``limit`` rows."""

    page: int = 1
    limit: int = 20

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.limit


@dataclass(frozen=True)
class SessionPatch:
    """The fields a business may change on a session; None leaves a field as it is."""

    is_human_mode: bool | None = None
    state: State | None = None
    email: str | None = None


class ConversationService:
    """Conversation use cases for one organization."""

    def __init__(self, ctx: AppContext, session: Session, organization_id: str) -> None:
        self.session = session
        self.chatbots = ChatbotService(ctx, session, organization_id)

    def get(self, chatbot_id: str, session_id: str) -> ChatSession:
        """One session of one of the organization's chatbots."""
        chatbot = self.chatbots.get(chatbot_id)
        found = self.session.scalar(
            select(ChatSession).where(
                ChatSession.id == session_id, ChatSession.chatbot_id == chatbot.id
            )
        )
        if found is None:
            raise NotFound(f"Conversation {session_id} not found.")
        return found

    def list_sessions(
        self,
        chatbot_id: str,
        page: Page,
        *,
        platform: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> tuple[list[ChatSession], int]:
        """A page of the chatbot's sessions, most recently active first, and the total.

        ``since`` and ``until`` bound the time of the session's last activity (inclusive).
        """
        chatbot = self.chatbots.get(chatbot_id)
        where = [ChatSession.chatbot_id == chatbot.id]
        if platform:
            where.append(ChatSession.platform == platform)
        if since is not None:
            where.append(ChatSession.updated_at >= since)
        if until is not None:
            where.append(ChatSession.updated_at <= until)
        total = self.session.scalar(select(func.count()).select_from(ChatSession).where(*where))
        rows = self.session.scalars(
            select(ChatSession)
            .where(*where)
            .order_by(ChatSession.updated_at.desc(), ChatSession.id)
            .offset(page.offset)
            .limit(page.limit)
        )
        return list(rows), int(total or 0)

    def list_messages(
        self, chatbot_id: str, session_id: str, page: Page
    ) -> tuple[list[ChatMessage], int]:
        """A page of a session's messages, oldest first, and the total."""
        chat_session = self.get(chatbot_id, session_id)
        where = ChatMessage.session_id == chat_session.id
        total = self.session.scalar(select(func.count()).select_from(ChatMessage).where(where))
        rows = self.session.scalars(
            select(ChatMessage)
            .where(where)
            .order_by(ChatMessage.created_at, ChatMessage.id)
            .offset(page.offset)
            .limit(page.limit)
        )
        return list(rows), int(total or 0)

    def update(self, chatbot_id: str, session_id: str, patch: SessionPatch) -> ChatSession:
        """Hand a session to a human (or back), close or reopen it, or record the lead's email."""
        chat_session = self.get(chatbot_id, session_id)
        if patch.is_human_mode is None and patch.state is None and patch.email is None:
            # Nothing to change: the session must not jump to the top of the recent ones.
            raise ValidationFailed(
                "Send at least one of is_human_mode, state and email.",
                details=[{"field": "body", "message": "nothing to change"}],
            )
        if patch.is_human_mode is not None:
            chat_session.is_human_mode = patch.is_human_mode
        if patch.state is not None:
            chat_session.state = patch.state
        if patch.email is not None:
            email = sessions.find_email(patch.email)
            if email is None or email != patch.email.strip().lower():
                raise ValidationFailed(
                    "The email is not a valid address.",
                    details=[{"field": "email", "message": "not a valid email address"}],
                )
            sessions.record_lead(chat_session, email)
        chat_session.updated_at = max(utcnow(), chat_session.updated_at)
        self.session.commit()
        return chat_session

    def reply_as_human(self, chatbot_id: str, session_id: str, content: str) -> ChatMessage:
        """Store a human agent's reply; the session moves to human mode (the bot stays quiet)."""
        if not content.strip():
            raise ValidationFailed(
                "The reply is empty.", details=[{"field": "content", "message": "empty"}]
            )
        chat_session = self.get(chatbot_id, session_id)
        message = sessions.add_message(self.session, chat_session, "human", content)
        chat_session.is_human_mode = True
        self.session.commit()
        return message

    def rate(
        self,
        chatbot_id: str,
        session_id: str,
        message_id: str,
        rating: Literal["up", "down"],
        comment: str | None,
    ) -> MessageFeedback:
        """Record feedback on a bot message; a second rating replaces the first."""
        chat_session = self.get(chatbot_id, session_id)
        message = self.session.scalar(
            select(ChatMessage).where(
                ChatMessage.id == message_id, ChatMessage.session_id == chat_session.id
            )
        )
        if message is None:
            raise NotFound(f"Message {message_id} not found.")
        if message.sender_type != "bot":
            raise BadRequest("Feedback is given on the chatbot's answers only.")
        now = utcnow()
        feedback = self.session.scalar(
            select(MessageFeedback).where(MessageFeedback.message_id == message.id)
        )
        if feedback is None:
            feedback = MessageFeedback(message_id=message.id, created_at=now)
            self.session.add(feedback)
        feedback.rating = rating
        feedback.comment = comment
        feedback.updated_at = now
        # Mirrored on the message, so that reading a conversation shows how it was rated.
        message.meta = {**(message.meta or {}), "feedback": {"rating": rating, "comment": comment}}
        self.session.commit()
        return feedback
