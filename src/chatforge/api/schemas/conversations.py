"""Wire shapes of sessions, messages and the conversation extensions (docs/api.md)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from chatforge.api.schemas.common import Pagination, RequestModel, Timestamp
from chatforge.services.conversations.service import ChatMessage, ChatSession, MessageFeedback
from chatforge.services.public.visitors import visible_metadata


class MessageOut(BaseModel):
    """A message, as okchat shows it."""

    attachments: list[Any] | None
    content: str
    created_at: Timestamp
    id: str
    metadata: dict[str, Any]
    migrated_data: bool
    model: str | None
    provider: str | None
    sender_type: Literal["user", "bot", "human"]
    session_id: str
    session_token: str | None
    tokens_used: int
    tool_calls: list[Any] | None
    tool_results: list[Any] | None


def message_out(message: ChatMessage) -> MessageOut:
    """The wire form of a stored message."""
    return MessageOut(
        attachments=message.attachments,
        content=message.content,
        created_at=message.created_at,
        id=message.id,
        metadata=message.meta or {},
        migrated_data=message.migrated_data,
        model=message.model,
        provider=message.provider,
        sender_type=message.sender_type,
        session_id=message.session_id,
        session_token=message.session_token,
        tokens_used=message.tokens_used,
        tool_calls=message.tool_calls,
        tool_results=message.tool_results,
    )


class _SessionBase(BaseModel):
    active: bool
    chatbot_id: str
    created_at: Timestamp
    id: str
    is_human_mode: bool
    metadata: dict[str, Any]
    migrated_data: bool
    platform: str
    session_token: str | None
    sns_user_id: str | None
    state: str
    updated_at: Timestamp
    user_id: str | None
    voice_path: str | None


class SessionOut(_SessionBase):
    """A session as ``GET .../conversations/{sessionId}`` shows it: the last message a string."""

    last_message: str | None


class LastMessage(BaseModel):
    content: str
    id: str
    sender_type: str


class SessionListed(_SessionBase):
    """A session as the list shows it: the last message an object."""

    last_message: LastMessage | None


def _session_fields(chat_session: ChatSession) -> dict[str, Any]:
    return {
        "active": chat_session.active,
        "chatbot_id": chat_session.chatbot_id,
        "created_at": chat_session.created_at,
        "id": chat_session.id,
        "is_human_mode": chat_session.is_human_mode,
        # A visitor's token hash is the server's, never shown (services/public/visitors.py).
        "metadata": visible_metadata(chat_session.meta),
        "migrated_data": chat_session.migrated_data,
        "platform": chat_session.platform,
        "session_token": chat_session.session_token,
        "sns_user_id": chat_session.sns_user_id,
        "state": chat_session.state,
        "updated_at": chat_session.updated_at,
        "user_id": chat_session.user_id,
        "voice_path": chat_session.voice_path,
    }


def session_out(chat_session: ChatSession) -> SessionOut:
    """The single-session form."""
    return SessionOut(**_session_fields(chat_session), last_message=chat_session.last_message)


def session_listed(chat_session: ChatSession) -> SessionListed:
    """The list form."""
    last = None
    if chat_session.last_message_id is not None:
        last = LastMessage(
            content=chat_session.last_message or "",
            id=chat_session.last_message_id,
            sender_type=chat_session.last_sender_type or "user",
        )
    return SessionListed(**_session_fields(chat_session), last_message=last)


class SessionEnvelope(BaseModel):
    session: SessionOut


class SessionMutation(BaseModel):
    session: SessionOut
    message: str


class SessionList(BaseModel):
    data: list[SessionListed]
    pagination: Pagination


class MessageList(BaseModel):
    data: list[MessageOut]
    pagination: Pagination


class SessionUpdate(RequestModel):
    """``PATCH .../conversations/{sessionId}``."""

    is_human_mode: bool | None = None
    state: Literal["in_progress", "closed"] | None = None
    email: Annotated[str, StringConstraints(max_length=320)] | None = None


class HumanReply(RequestModel):
    """``POST .../conversations/{sessionId}/messages``: a human agent's reply."""

    # Some character that is not space to Python's str.strip() (which also strips \x1c-\x1f and
    # \x85) nor to JSON Schema's \s: an empty-looking reply is refused by the schema itself.
    content: Annotated[
        str, StringConstraints(min_length=1, max_length=20000, pattern=r"[^\s\x1c-\x1f\x85]")
    ]


class HumanReplyOut(BaseModel):
    data: MessageOut
    message: str


class FeedbackIn(RequestModel):
    """``POST .../messages/{messageId}/feedback``."""

    rating: Literal["up", "down"]
    comment: str | None = Field(None, max_length=5000)


class FeedbackOut(BaseModel):
    id: str
    message_id: str
    rating: str
    comment: str | None
    created_at: Timestamp
    updated_at: Timestamp


def feedback_out(feedback: MessageFeedback) -> FeedbackOut:
    """The wire form of a feedback."""
    return FeedbackOut(
        id=feedback.id,
        message_id=feedback.message_id,
        rating=feedback.rating,
        comment=feedback.comment,
        created_at=feedback.created_at,
        updated_at=feedback.updated_at,
    )


class FeedbackMutation(BaseModel):
    feedback: FeedbackOut
    message: str
