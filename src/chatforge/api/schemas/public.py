"""Wire shapes of the public API (``/api/public/chatbot/{chatbot}``): what visitors see.

Nothing here carries a prompt, a model, a key, an organization, managers, knowledge text or the
chatbot's allowed origins: the shapes are built field by field from the public views.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from pydantic.alias_generators import to_camel

from chatforge.api.schemas.common import RequestModel, Timestamp
from chatforge.api.schemas.conversations import FeedbackOut
from chatforge.services.public.service import PublicAnswer, PublicChatbot
from chatforge.services.public.visitors import PublicMessage, PublicSource, SessionView

SessionId = Annotated[str, StringConstraints(min_length=1, max_length=64)]


class _CamelOut(BaseModel):
    # The widget reads okchat's camelCase keys; Python builds these by their snake_case names.
    model_config = ConfigDict(
        alias_generator=to_camel, serialize_by_alias=True, validate_by_name=True
    )


class SnippetOut(_CamelOut):
    """The widget's look: only the keys the chatbot sets."""

    name: str | None = None
    header: str | None = None
    slogan: str | None = None
    logo: str | None = None
    primary_color: str | None = None
    secondary_color: str | None = None
    language: str | None = None


class PublicChatbotOut(_CamelOut):
    """What the widget needs to draw a chatbot."""

    id: str
    slug: str
    name: str
    avatar: str | None
    greeting: str
    suggestions: list[str]
    snippet: SnippetOut
    language: str = Field(description="The widget's language: snippet.language, or 'en'.")
    request_email: bool = Field(
        description="The visitor is asked for an email first (settings.isRequestUserInfoEnabled)."
    )
    voice: bool = Field(description="A voice agent is configured.")


class PublicChatbotEnvelope(BaseModel):
    chatbot: PublicChatbotOut


def public_chatbot_out(chatbot: PublicChatbot) -> dict[str, Any]:
    """The config endpoint's body (``snippet`` keeps only the keys that are set)."""
    envelope = PublicChatbotEnvelope(
        chatbot=PublicChatbotOut(
            id=chatbot.id,
            slug=chatbot.slug,
            name=chatbot.name,
            avatar=chatbot.avatar,
            greeting=chatbot.greeting,
            suggestions=list(chatbot.suggestions),
            snippet=SnippetOut(**chatbot.snippet),
            language=chatbot.language,
            request_email=chatbot.request_email,
            voice=chatbot.voice,
        )
    ).model_dump(mode="json")
    snippet = envelope["chatbot"]["snippet"]
    envelope["chatbot"]["snippet"] = {k: v for k, v in snippet.items() if v is not None}
    return envelope


class PublicSourceOut(BaseModel):
    """A source of an answer: no passage text; ``url`` only for web pages."""

    ref: int
    knowledge_id: str
    title: str
    source: str
    url: str | None


def public_source_out(source: PublicSource) -> PublicSourceOut:
    """The wire form of a public source."""
    return PublicSourceOut(
        ref=source.ref,
        knowledge_id=source.knowledge_id,
        title=source.title,
        source=source.source,
        url=source.url,
    )


class PublicMessageOut(BaseModel):
    """A message of the visitor's conversation."""

    id: str
    sender_type: Literal["user", "bot", "human"]
    content: str
    created_at: Timestamp
    sources: list[PublicSourceOut] = Field(description="The answer's sources (bot messages).")
    rating: Literal["up", "down"] | None


def public_message_out(message: PublicMessage) -> PublicMessageOut:
    """The wire form of a public message."""
    return PublicMessageOut(
        id=message.id,
        sender_type=message.sender_type,
        content=message.content,
        created_at=message.created_at,
        sources=[public_source_out(s) for s in message.sources],
        rating=message.rating,
    )


class PublicMessageIn(RequestModel):
    """One message; only the last one, the visitor's, is used."""

    role: Literal["user", "assistant", "system"]
    content: Annotated[str, StringConstraints(max_length=20000)]


class PublicChatBody(RequestModel):
    """A visitor's chat call."""

    messages: list[PublicMessageIn] = Field(min_length=1, max_length=200)
    session_id: SessionId | None = Field(
        None, description="The visitor's session to continue; a new one when absent."
    )

    def question(self) -> str:
        """The visitor's new message: the last one (earlier ones are never used as history)."""
        return self.messages[-1].content if self.messages[-1].role == "user" else ""


class PublicChatResponse(BaseModel):
    """The non-streaming answer."""

    response: str | None = Field(description="The answer; null when a human agent answers.")
    session_id: str
    message: PublicMessageOut | None = Field(description="The bot's message; null in human mode.")
    sources: list[PublicSourceOut]
    visitor_token: str | None = Field(
        None, description="Present when this call issued the visitor's token: keep it."
    )


def public_chat_response(answer: PublicAnswer) -> dict[str, Any]:
    """The body of the non-streaming answer; ``visitor_token`` only when issued."""
    message = answer.message
    body = PublicChatResponse(
        response=message.content if message is not None else None,
        session_id=answer.session_id,
        message=public_message_out(message) if message is not None else None,
        sources=[public_source_out(s) for s in answer.sources],
        visitor_token=answer.issued_token,
    ).model_dump(mode="json")
    if answer.issued_token is None:
        del body["visitor_token"]
    return body


def public_done_data(message: PublicMessage | None) -> dict[str, Any]:
    """The ``data`` of the stream's ``done`` event. No token usage: with a language model, the
    prompt's size would tell a visitor how large the hidden instructions and context are."""
    return {"message": public_message_out(message).model_dump(mode="json") if message else None}


class PublicSessionOut(BaseModel):
    id: str
    is_human_mode: bool
    state: str
    has_email: bool
    created_at: Timestamp


class PublicSessionEnvelope(BaseModel):
    """The visitor's session and its messages, oldest first."""

    session: PublicSessionOut
    messages: list[PublicMessageOut]


def public_session_out(view: SessionView, messages: list[PublicMessage]) -> PublicSessionEnvelope:
    """The read-back's body."""
    return PublicSessionEnvelope(
        session=PublicSessionOut(
            id=view.id,
            is_human_mode=view.is_human_mode,
            state=view.state,
            has_email=view.has_email,
            created_at=view.created_at,
        ),
        messages=[public_message_out(m) for m in messages],
    )


class LeadIn(RequestModel):
    """The visitor's email."""

    email: Annotated[
        str,
        StringConstraints(
            strip_whitespace=True,
            max_length=320,
            pattern=r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}$",
        ),
    ]
    session_id: SessionId | None = None


class LeadOut(BaseModel):
    session_id: str
    visitor_token: str | None = Field(
        None, description="Present when this call issued the visitor's token: keep it."
    )
    message: str


class PublicFeedbackIn(RequestModel):
    """A rating of one of the chatbot's answers."""

    rating: Literal["up", "down"]
    comment: Annotated[str, StringConstraints(max_length=5000)] | None = None


class PublicFeedbackOut(BaseModel):
    feedback: FeedbackOut
    message: str
