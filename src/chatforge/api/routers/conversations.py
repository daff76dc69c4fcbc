"""``/api/external/chatbot/{chatbotId}/conversations`` (docs/api.md, "Conversations")."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from typing import Annotated

from fastapi import APIRouter, Query

from chatforge.api.deps import ConversationsDep
from chatforge.api.schemas.common import ERROR_RESPONSES, Pagination
from chatforge.api.schemas.conversations import (
    FeedbackIn,
    FeedbackMutation,
    HumanReply,
    HumanReplyOut,
    MessageList,
    SessionEnvelope,
    SessionList,
    SessionMutation,
    SessionUpdate,
    feedback_out,
    message_out,
    session_listed,
    session_out,
)
from chatforge.errors import ValidationFailed
from chatforge.services.conversations.service import Page, SessionPatch

MAX_PAGE = 1_000_000_000

router = APIRouter(
    prefix="/api/external/chatbot", tags=["conversations"], responses=ERROR_RESPONSES
)

PageNumber = Annotated[int, Query(ge=1, le=MAX_PAGE, description="Page number, from 1.")]
PageSize = Annotated[int, Query(ge=1, le=100, description="Rows per page (at most 100).")]
Since = Annotated[
    str | None,
    Query(
        alias="from",
        description="Sessions active at or after this time (ISO 8601; a date is its first moment).",
    ),
]
Until = Annotated[
    str | None,
    Query(
        alias="to",
        description="Sessions active at or before this time (a date is the whole day, inclusive).",
    ),
]


def _bound(value: str | None, name: str, *, day_end: bool) -> datetime | None:
    """A ``from``/``to`` bound in UTC; a bare date stands for the whole day."""
    if not value:  # an empty ?from= is no bound, as forms and generated clients send it
        return None
    try:
        if value.isdigit() and len(value) > 8:  # a Unix time, as the API always accepted
            return datetime.fromtimestamp(int(value), UTC)
        try:
            day = date.fromisoformat(value)  # 2026-11-26, 20261126, 2026-W48-4
        except ValueError:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
        else:
            moment = datetime.combine(day, time.max if day_end else time.min)
        # A time without a zone is read as UTC, like every time this API returns; one with a
        # zone must still be a time in UTC (9999-12-31T23:59:59-23:59 is not).
        moment = moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise ValidationFailed(
            f"'{name}' must be an ISO 8601 date or time, like 2026-11-26 or 2026-11-26T14:30:00Z.",
            details=[{"field": name, "message": "not an ISO 8601 date or time"}],
        ) from exc
    return moment


@router.get(
    "/{chatbotId}/conversations",
    response_model=SessionList,
    summary="List conversations, most recently active first",
)
def list_conversations(
    chatbotId: str,  # noqa: N803
    conversations: ConversationsDep,
    page: PageNumber = 1,
    limit: PageSize = 20,
    platform: Annotated[str | None, Query(description="Only this platform (web, ...).")] = None,
    since: Since = None,
    until: Until = None,
) -> SessionList:
    rows, total = conversations.list_sessions(
        chatbotId,
        Page(page, limit),
        platform=platform,
        since=_bound(since, "from", day_end=False),
        until=_bound(until, "to", day_end=True),
    )
    return SessionList(
        data=[session_listed(s) for s in rows],
        pagination=Pagination(page=page, limit=limit, total=total),
    )


@router.get(
    "/{chatbotId}/conversations/{sessionId}",
    response_model=SessionEnvelope,
    summary="Get a conversation",
)
def get_conversation(
    chatbotId: str,  # noqa: N803
    sessionId: str,  # noqa: N803
    conversations: ConversationsDep,
) -> SessionEnvelope:
    return SessionEnvelope(session=session_out(conversations.get(chatbotId, sessionId)))


@router.get(
    "/{chatbotId}/conversations/{sessionId}/messages",
    response_model=MessageList,
    summary="List a conversation's messages, oldest first",
)
def list_messages(
    chatbotId: str,  # noqa: N803
    sessionId: str,  # noqa: N803
    conversations: ConversationsDep,
    page: PageNumber = 1,
    limit: PageSize = 20,
) -> MessageList:
    rows, total = conversations.list_messages(chatbotId, sessionId, Page(page, limit))
    return MessageList(
        data=[message_out(m) for m in rows],
        pagination=Pagination(page=page, limit=limit, total=total),
    )


@router.patch(
    "/{chatbotId}/conversations/{sessionId}",
    response_model=SessionMutation,
    summary="Hand a conversation to a human or back, close or reopen it, record an email",
)
def update_conversation(
    chatbotId: str,  # noqa: N803
    sessionId: str,  # noqa: N803
    body: SessionUpdate,
    conversations: ConversationsDep,
) -> SessionMutation:
    patch = SessionPatch(is_human_mode=body.is_human_mode, state=body.state, email=body.email)
    chat_session = conversations.update(chatbotId, sessionId, patch)
    return SessionMutation(
        session=session_out(chat_session), message="Conversation updated successfully"
    )


@router.post(
    "/{chatbotId}/conversations/{sessionId}/messages",
    response_model=HumanReplyOut,
    summary="Reply as a human agent (the conversation moves to human mode)",
)
def reply_as_human(
    chatbotId: str,  # noqa: N803
    sessionId: str,  # noqa: N803
    body: HumanReply,
    conversations: ConversationsDep,
) -> HumanReplyOut:
    message = conversations.reply_as_human(chatbotId, sessionId, body.content)
    return HumanReplyOut(data=message_out(message), message="Message sent successfully")


@router.post(
    "/{chatbotId}/conversations/{sessionId}/messages/{messageId}/feedback",
    response_model=FeedbackMutation,
    summary="Rate a bot message (up or down) with an optional comment",
)
def rate_message(
    chatbotId: str,  # noqa: N803
    sessionId: str,  # noqa: N803
    messageId: str,  # noqa: N803
    body: FeedbackIn,
    conversations: ConversationsDep,
) -> FeedbackMutation:
    feedback = conversations.rate(chatbotId, sessionId, messageId, body.rating, body.comment)
    return FeedbackMutation(feedback=feedback_out(feedback), message="Feedback saved successfully")
