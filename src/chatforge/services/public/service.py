"""The public face of a chatbot: what anonymous visitors may see and do, with no API key.

Only a chatbot whose ``is_public`` is true (and that is active) has a public face; any other
reference is :class:`NotFound`, the same as one that does not exist. A visitor chats, gives an
email, rates answers and reads back only the sessions their visitor token owns
(:mod:`chatforge.services.public.visitors`). Answers come from :class:`ChatService`, in the
chatbot's organization, on platform ``web``: operators see these sessions like any other.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Literal

import anyio.to_thread
from sqlalchemy import select
from sqlalchemy.orm import Session

from chatforge.errors import NotFound, ValidationFailed
from chatforge.services.chat.service import (
    AnswerDelta,
    AnswerDone,
    AnswerFailed,
    ChatService,
    IncomingMessage,
    PreparedTurn,
    SessionStarted,
    SourcesFound,
    Usage,
)
from chatforge.services.chatbots.service import DEFAULT_GREETING
from chatforge.services.context import AppContext
from chatforge.services.conversations import sessions
from chatforge.services.conversations.service import ConversationService, MessageFeedback
from chatforge.services.public import visitors
from chatforge.services.public.origins import normalize_origin
from chatforge.services.public.visitors import PublicMessage, PublicSource, SessionView
from chatforge.storage.models import Chatbot, ChatMessage

__all__ = [
    "SNIPPET_KEYS",
    "MessageTooLong",
    "PublicAnswer",
    "PublicChatbot",
    "PublicDone",
    "PublicEvent",
    "PublicService",
    "PublicSources",
    "PublicTurn",
    "get_public_chatbot",
    "own_origin",
]

SNIPPET_KEYS = ("name", "header", "slogan", "logo", "primaryColor", "secondaryColor", "language")
"""The keys of ``settings.snippet`` a visitor may see (the widget's look)."""

#: The most messages a read-back returns: the last ones.
MAX_READ_MESSAGES = 200


class MessageTooLong(ValidationFailed):
    """A visitor's message is longer than ``public.max_message_chars``."""

    code = "message_too_long"


@dataclass(frozen=True)
class PublicChatbot:
    """A public chatbot as a visitor may see it, plus what the server needs to serve it.

    ``organization_id`` and ``allowed_origins`` are for the server only: the API's public
    schema leaves them out.
    """

    id: str
    slug: str
    name: str
    avatar: str | None
    greeting: str
    suggestions: tuple[str, ...]
    snippet: dict[str, str]
    language: str
    request_email: bool
    voice: bool
    organization_id: str
    allowed_origins: tuple[str, ...]


def get_public_chatbot(ctx: AppContext, reference: str) -> PublicChatbot:
    """The public chatbot whose id or slug is ``reference`` (for the widget and the hosted page).

    An id always works. A slug works once published: the first organization to make a chatbot
    with that slug public keeps it (another may not publish the same slug).

    Raises:
        NotFound: No such chatbot, or it is not public (``is_public`` false) or not active.
    """
    with ctx.db.sessions() as db:
        return _find_public(db, reference)


def own_origin(ctx: AppContext) -> str | None:
    """Chatforge's own origin (``public_base_url``'s): always allowed on public paths."""
    return normalize_origin(ctx.public_base_url)


@dataclass(frozen=True)
class PublicTurn:
    """A public chat call once the visitor's message is stored."""

    turn: PreparedTurn
    chatbot: PublicChatbot
    issued_token: str | None


@dataclass(frozen=True)
class PublicSources:
    """The sources of the answer, before its first text."""

    sources: tuple[PublicSource, ...]


@dataclass(frozen=True)
class PublicDone:
    """The end of an answer: the bot's message (None when a human answers) and the usage."""

    message: PublicMessage | None
    usage: Usage


PublicEvent = SessionStarted | PublicSources | AnswerDelta | PublicDone | AnswerFailed


@dataclass(frozen=True)
class PublicAnswer:
    """The folded answer of a non-streaming public chat call."""

    session_id: str
    message: PublicMessage | None
    sources: tuple[PublicSource, ...]
    issued_token: str | None


class PublicService:
    """What anonymous visitors may do with public chatbots."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx

    async def chatbot(self, reference: str) -> PublicChatbot:
        """:func:`get_public_chatbot`, off the event loop."""
        return await anyio.to_thread.run_sync(get_public_chatbot, self.ctx, reference)

    async def start_chat(
        self, reference: str, content: str, session_id: str | None, token: str | None
    ) -> PublicTurn:
        """Store the visitor's message in their session (a new one without ``session_id``).

        Only this message is taken from the visitor: the stored conversation is the history.

        Raises:
            NotFound: The chatbot is not public, or the session is not the token's.
            ValidationFailed: An empty message; MessageTooLong past the configured cap.
        """
        limit = self.ctx.settings.public.max_message_chars
        if not content.strip():
            raise ValidationFailed(
                "Write a message first.",
                details=[{"field": "messages", "message": "the last message is empty"}],
            )
        if len(content) > limit:
            raise MessageTooLong(
                f"The message is {len(content):,} characters long; at most {limit:,}.",
                details=[{"field": "messages", "message": f"at most {limit} characters"}],
            )
        token = visitors.usable_token(token)
        issued = None if token is not None else visitors.issue_token()
        owner = token or issued
        assert owner is not None

        def open_session() -> tuple[PublicChatbot, str | None]:
            with self.ctx.db.sessions() as db:
                chatbot = _find_public(db, reference)
                if session_id is not None:
                    chat_session = visitors.owned_session(db, chatbot.id, session_id, token)
                else:
                    chat_session = visitors.new_visitor_session(db, chatbot.id, owner)
                    db.commit()
                return chatbot, chat_session.sns_user_id

        chatbot, sns_user_id = await anyio.to_thread.run_sync(open_session)
        chat = ChatService(self.ctx, chatbot.organization_id)
        incoming = sessions.Incoming(chatbot.id, visitors.PLATFORM, sns_user_id)
        turn = await chat.start(chatbot.id, [IncomingMessage("user", content)], incoming)
        return PublicTurn(turn, chatbot, issued)

    async def events(self, public_turn: PublicTurn) -> AsyncIterator[PublicEvent]:
        """The answer's events as a visitor sees them (sources without their text)."""
        chat = ChatService(self.ctx, public_turn.chatbot.organization_id)
        chatbot_id = public_turn.chatbot.id
        async for event in chat.events(public_turn.turn):
            if isinstance(event, SourcesFound):
                stored = [s.as_dict() for s in event.sources]
                yield PublicSources(await self._sources(chatbot_id, stored))
            elif isinstance(event, AnswerDone):
                message = event.message
                shown = None if message is None else await self._message(chatbot_id, message)
                yield PublicDone(shown, event.usage)
            else:
                yield event

    async def answer(self, public_turn: PublicTurn) -> PublicAnswer:
        """The whole answer, by folding :meth:`events`.

        Raises:
            ProviderError: The model provider failed (502), or ProviderUnavailable (503).
        """
        sources: tuple[PublicSource, ...] = ()
        async for event in self.events(public_turn):
            if isinstance(event, PublicSources):
                sources = event.sources
            elif isinstance(event, AnswerFailed):
                raise event.error
            elif isinstance(event, PublicDone):
                if event.message is not None:  # what the answer rests on: none when not found
                    sources = event.message.sources
                return PublicAnswer(
                    public_turn.turn.session.id, event.message, sources, public_turn.issued_token
                )
        raise AssertionError("the chat stream ended without done or error")  # pragma: no cover

    def read_session(
        self, reference: str, session_id: str, token: str | None, after: str | None
    ) -> tuple[SessionView, list[PublicMessage]]:
        """The visitor's session and its last messages, oldest first; with ``after``, only
        those written after that message (the widget polls for an operator's replies).

        Raises:
            NotFound: Not public, not the token's session, or ``after`` not one of its messages.
        """
        with self.ctx.db.sessions() as db:
            chatbot = _find_public(db, reference)
            chat_session = visitors.owned_session(db, chatbot.id, session_id, token)
            query = select(ChatMessage).where(ChatMessage.session_id == chat_session.id)
            if after is not None:
                mark = db.scalar(
                    select(ChatMessage.created_at).where(
                        ChatMessage.id == after, ChatMessage.session_id == chat_session.id
                    )
                )
                if mark is None:
                    raise NotFound(f"Message {after} not found in this conversation.")
                query = query.where(ChatMessage.created_at > mark)
            newest = db.scalars(
                query.order_by(ChatMessage.created_at.desc(), ChatMessage.id.desc()).limit(
                    MAX_READ_MESSAGES
                )
            )
            messages = list(reversed(list(newest)))
            shown = visitors.public_messages(db, chatbot.id, messages)
            return visitors.session_view(chat_session), shown

    def save_lead(
        self, reference: str, email: str, session_id: str | None, token: str | None
    ) -> tuple[str, str | None]:
        """Record the visitor's email as their session's lead; a new session without
        ``session_id`` (the widget asks for the email before the first question).

        Returns:
            The session's id and the token issued by this call (None when the caller had one).

        Raises:
            NotFound: Not public, or not the token's session.
            ValidationFailed: Not a valid email address.
        """
        address = sessions.find_email(email)
        if address is None or address != email.strip().lower():
            raise ValidationFailed(
                "The email is not a valid address.",
                details=[{"field": "email", "message": "not a valid email address"}],
            )
        token = visitors.usable_token(token)
        issued = None if token is not None else visitors.issue_token()
        with self.ctx.db.sessions() as db:
            chatbot = _find_public(db, reference)
            if session_id is not None:
                chat_session = visitors.owned_session(db, chatbot.id, session_id, token)
            else:
                owner = token or issued
                assert owner is not None
                chat_session = visitors.new_visitor_session(db, chatbot.id, owner)
            sessions.record_lead(chat_session, address)
            db.commit()
            return chat_session.id, issued

    def rate(
        self,
        reference: str,
        session_id: str,
        message_id: str,
        token: str | None,
        rating: Literal["up", "down"],
        comment: str | None,
    ) -> MessageFeedback:
        """Rate one of the chatbot's answers in the visitor's session; again replaces it.

        Raises:
            NotFound: Not public, not the token's session, or no such message in it.
            BadRequest: The message is not the chatbot's.
        """
        with self.ctx.db.sessions() as db:
            chatbot = _find_public(db, reference)
            visitors.owned_session(db, chatbot.id, session_id, token)
            conversations = ConversationService(self.ctx, db, chatbot.organization_id)
            return conversations.rate(chatbot.id, session_id, message_id, rating, comment)

    async def _sources(
        self, chatbot_id: str, stored: list[dict[str, Any]]
    ) -> tuple[PublicSource, ...]:
        if not stored:
            return ()

        def load() -> tuple[PublicSource, ...]:
            with self.ctx.db.sessions() as db:
                return visitors.public_sources(db, chatbot_id, stored)

        return await anyio.to_thread.run_sync(load)

    async def _message(self, chatbot_id: str, message: ChatMessage) -> PublicMessage:
        def load() -> PublicMessage:
            with self.ctx.db.sessions() as db:
                return visitors.public_messages(db, chatbot_id, [message])[0]

        return await anyio.to_thread.run_sync(load)


def _find_public(db: Session, reference: str) -> PublicChatbot:
    public = (Chatbot.is_public.is_(True), Chatbot.active.is_(True))
    chatbot = db.scalar(select(Chatbot).where(Chatbot.id == reference, *public))
    if chatbot is None:
        # A public slug belongs to one organization (ChatbotService refuses to publish a slug
        # another organization has public); should two ever share it, neither is answered.
        found = db.scalars(select(Chatbot).where(Chatbot.slug == reference, *public).limit(2))
        matches = list(found)
        chatbot = matches[0] if len(matches) == 1 else None
    if chatbot is None:
        raise NotFound(f"Chatbot {reference} not found.")
    return _view(chatbot)


def _view(chatbot: Chatbot) -> PublicChatbot:
    settings = chatbot.settings or {}
    raw_snippet = settings.get("snippet")
    snippet = {
        key: str(raw_snippet[key])
        for key in SNIPPET_KEYS
        if isinstance(raw_snippet, dict) and raw_snippet.get(key) not in (None, "")
    }
    suggestions = chatbot.suggestions if isinstance(chatbot.suggestions, list) else []
    origins = settings.get("allowedOrigins")
    return PublicChatbot(
        id=chatbot.id,
        slug=chatbot.slug,
        name=chatbot.name,
        avatar=str(settings["avatar"]) if settings.get("avatar") else None,
        greeting=str(settings.get("greeting") or DEFAULT_GREETING),
        suggestions=tuple(str(s) for s in suggestions if isinstance(s, str) and s.strip()),
        snippet=snippet,
        language=snippet.get("language") or "en",
        request_email=bool(settings.get("isRequestUserInfoEnabled")),
        voice=bool(chatbot.voice_widget_config),
        organization_id=chatbot.organization_id,
        allowed_origins=tuple(
            o for o in (normalize_origin(str(v)) for v in origins or []) if o is not None
        )
        if isinstance(origins, list)
        else (),
    )
