"""Wire shapes of ``POST /api/external/chatbot/{chatbotId}/chat`` (docs/api.md, "Chat")."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, StringConstraints

from chatforge.api.schemas.common import RequestModel
from chatforge.api.schemas.conversations import MessageOut, message_out
from chatforge.services.chat.service import ChatAnswer, ChatMessage, IncomingMessage, Source, Usage


class ChatMessageIn(RequestModel):
    """One message of the conversation; the last one is the new user turn."""

    role: Literal["user", "assistant", "system"]
    content: Annotated[str, StringConstraints(max_length=20000)]


class ChatBody(RequestModel):
    """The chat request, as okchat defines it."""

    messages: list[ChatMessageIn] = Field(min_length=1, max_length=200)
    platform: Annotated[str, StringConstraints(min_length=1, max_length=32)] = "web"
    session_token: Annotated[str, StringConstraints(max_length=255)] | None = Field(
        None, alias="sessionToken"
    )

    def incoming_messages(self) -> list[IncomingMessage]:
        """The messages as the chat service takes them."""
        return [IncomingMessage(m.role, m.content) for m in self.messages]


class SourceOut(BaseModel):
    """A passage the answer was grounded on; the answer cites it as ``[ref]``."""

    knowledge_id: str
    title: str
    source: str
    content: str
    similarity: float
    ref: int


def source_out(source: Source) -> SourceOut:
    """The wire form of a source."""
    return SourceOut(**source.as_dict())


class UsageOut(BaseModel):
    """Tokens of the answer, as the provider counted them (or estimated)."""

    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


def usage_out(usage: Usage) -> UsageOut:
    """The wire form of a usage."""
    return UsageOut(
        prompt_tokens=usage.input_tokens,
        completion_tokens=usage.output_tokens,
        total_tokens=usage.total_tokens,
    )


class ChatResponse(BaseModel):
    """The non-streaming answer."""

    response: str | None = Field(description="The answer; null when a human agent answers.")
    session_id: str
    message: MessageOut | None = Field(description="The stored bot message; null in human mode.")
    sources: list[SourceOut]


def chat_response(answer: ChatAnswer) -> ChatResponse:
    """The wire form of a folded answer."""
    return ChatResponse(
        response=answer.response,
        session_id=answer.session_id,
        message=message_out(answer.message) if answer.message is not None else None,
        sources=[source_out(s) for s in answer.sources],
    )


def done_data(message: ChatMessage | None, usage: Usage) -> dict[str, Any]:
    """The ``data`` of the stream's ``done`` event."""
    return {
        "message": message_out(message).model_dump(mode="json") if message is not None else None,
        "usage": usage_out(usage).model_dump(),
    }
