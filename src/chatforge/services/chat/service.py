"""Chat: a grounded, cited answer in a remembered conversation, streamed.

One code path: :meth:`ChatService.start` stores the visitor's message and decides what happens,
:meth:`ChatService.events` streams typed events (:class:`SessionStarted`, :class:`SourcesFound`
before any text, :class:`AnswerDelta`..., then :class:`AnswerDone` or :class:`AnswerFailed`), and
:meth:`ChatService.answer` folds that stream for the non-streaming call.

Nothing is lost: the user's message is committed before a model is called; a provider failure
keeps it (and what was said so far); a client that disconnects stops the provider's generation
and the partial answer is stored with ``metadata.partial = true``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import AsyncExitStack
from typing import Any, Literal

import anyio
import anyio.to_thread
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from chatforge.errors import ChatforgeError, NotFound, ProviderUnavailable, ValidationFailed
from chatforge.providers.chat import (
    ChatMessage as PromptMessage,
)
from chatforge.providers.chat import (
    ChatModel,
    ChatRequest,
    TextDelta,
    Usage,
    complete,
    estimate_tokens,
    streaming,
)
from chatforge.providers.chat.extractive import is_not_found
from chatforge.rag.citations import check_citations
from chatforge.rag.prompt import (
    Persona,
    SourceText,
    Turn,
    build_prompt,
    clean_rewrite,
    follow_up_query,
    follow_up_question,
    standalone_question_prompt,
)
from chatforge.services.chat.events import (
    AnswerDelta,
    AnswerDone,
    AnswerFailed,
    ChatAnswer,
    ChatStreamEvent,
    IncomingMessage,
    PreparedTurn,
    SessionStarted,
    Source,
    SourcesFound,
)
from chatforge.services.chat.small_talk import small_talk_reply
from chatforge.services.chatbots.service import DEFAULT_GREETING, ChatbotService
from chatforge.services.context import AppContext
from chatforge.services.conversations import sessions
from chatforge.services.conversations.sessions import ChatMessage, ChatSession, Incoming
from chatforge.services.knowledge.service import KnowledgeService
from chatforge.services.search.query import retrieval_defaults
from chatforge.services.search.retrieval import Hit, Retriever
from chatforge.storage.models import Chunk, KnowledgeItem
from chatforge.text.spelling import correct_spelling, known_words

__all__ = [
    "EMAIL_REQUEST",
    "AnswerDelta",
    "AnswerDone",
    "AnswerFailed",
    "ChatAnswer",
    "ChatMessage",
    "ChatService",
    "ChatSession",
    "ChatStreamEvent",
    "Incoming",
    "IncomingMessage",
    "PreparedTurn",
    "SessionStarted",
    "Source",
    "SourcesFound",
    "Usage",
]

log = logging.getLogger(__name__)

EMAIL_REQUEST = (
    "Before we continue, could you please share your email address? That way we can follow up "
    "with you if needed."
)
"""What a chatbot with ``isRequestUserInfoEnabled`` says until the visitor gives an email."""

_HISTORY_MESSAGES = 50
_OFFERED = 3  # example questions offered after "not found"
_REWRITE_TOKENS = 200


class ChatService:
    """Chat use cases for one organization."""

    def __init__(self, ctx: AppContext, organization_id: str) -> None:
        self.ctx = ctx
        self.organization_id = organization_id

    async def chatbot_id_of(self, reference: str) -> str:
        """The id of the organization's chatbot whose id or slug is ``reference``.

        Raises:
            NotFound: No such chatbot in the organization.
        """

        def find() -> str:
            with self.ctx.db.sessions() as db:
                chatbots = ChatbotService(self.ctx, db, self.organization_id)
                try:
                    return chatbots.get_by_reference(reference).id
                except NotFound as exc:
                    raise NotFound(
                        f"The model {reference!r} does not exist: name one of your chatbots by "
                        "its id or slug (GET /v1/models lists them)."
                    ) from exc

        return await anyio.to_thread.run_sync(find)

    async def answer(
        self, chatbot_id: str, messages: Sequence[IncomingMessage], incoming: Incoming
    ) -> ChatAnswer:
        """The whole answer, by folding :meth:`events`.

        Raises:
            NotFound: No such chatbot in the organization.
            ProviderError: The provider failed (502), or ProviderUnavailable (503).
        """
        turn = await self.start(chatbot_id, messages, incoming)
        sources: tuple[Source, ...] = ()
        async for event in self.events(turn):
            if isinstance(event, SourcesFound):
                sources = event.sources
            elif isinstance(event, AnswerFailed):
                raise event.error
            elif isinstance(event, AnswerDone):
                if not sessions.rests_on_sources(event.message):
                    sources = ()
                return ChatAnswer(turn.session.id, event.message, sources, event.usage)
        raise AssertionError("the chat stream ended without done or error")  # pragma: no cover

    async def start(
        self, chatbot_id: str, messages: Sequence[IncomingMessage], incoming: Incoming
    ) -> PreparedTurn:
        """Find the session, store the user's message, and decide how to answer.

        Raises:
            NotFound: No such chatbot in the organization.
            ValidationFailed: The last message is not a user message with content.
        """
        last = messages[-1] if messages else None
        if last is None or last.role != "user" or not last.content.strip():
            raise ValidationFailed(
                "The last message must be the user's, with content.",
                details=[
                    {
                        "field": "messages",
                        "message": "the last message must be a user message with content",
                    }
                ],
            )
        return await anyio.to_thread.run_sync(self._prepare, chatbot_id, messages, incoming)

    def _prepare(
        self, chatbot_id: str, messages: Sequence[IncomingMessage], incoming: Incoming
    ) -> PreparedTurn:
        with self.ctx.db.sessions() as db:
            chatbots = ChatbotService(self.ctx, db, self.organization_id)
            chatbot = chatbots.get(chatbot_id)
            settings = chatbot.settings or {}
            personality = chatbot.personality_config or {}
            chat_session = sessions.open_session(
                db, Incoming(chatbot.id, incoming.platform, incoming.session_token)
            )
            stored = sessions.recent_messages(db, chat_session.id, _HISTORY_MESSAGES)
            question = messages[-1].content
            user_message = sessions.add_message(db, chat_session, "user", question)
            action: Literal["answer", "human", "ask_email"] = "answer"
            if chat_session.is_human_mode:
                action = "human"
            elif settings.get("isRequestUserInfoEnabled") and chat_session.email is None:
                email = sessions.find_email(question)
                if email is None:
                    action = "ask_email"
                else:
                    sessions.record_lead(chat_session, email)
                    if sessions.only_gives_email(question):
                        question = _pending_question(stored) or question
                    else:  # the address is for the lead, not for the search
                        question = sessions.without_email(question)
            db.commit()
            earlier = messages[:-1]
            history = _history_of_request(earlier) if earlier else _history_of_store(stored)
            return PreparedTurn(
                chatbot_id=chatbot.id,
                session=chat_session,
                user_message=user_message,
                action=action,
                question=question,
                history=history,
                model_name=str(settings.get("model") or self.ctx.models.default_model()),
                persona=Persona(
                    prompt=str(settings.get("prompt") or ""),
                    name=chatbot.name,
                    style=personality.get("style"),
                    tone=personality.get("tone"),
                ),
                retrieval=retrieval_defaults(settings),
                search=settings.get("isToolEnabled") is not False,
                greeting=str(settings.get("greeting") or DEFAULT_GREETING),
                openai_api_key=chatbots.openai_api_key(chatbot),
            )

    async def events(self, turn: PreparedTurn) -> AsyncIterator[ChatStreamEvent]:
        """Stream the answer of a prepared turn; see the module's docstring for the order."""
        yield SessionStarted(turn.session.id)
        if turn.action == "human":
            # A human agent answers this session: the message waits for them.
            yield SourcesFound(())
            yield AnswerDone(None, Usage(0, 0))
            return
        if turn.action == "ask_email":
            yield SourcesFound(())
            yield AnswerDelta(EMAIL_REQUEST)
            message = await self._store(turn, EMAIL_REQUEST, metadata={"kind": "email_request"})
            yield AnswerDone(message, Usage(0, 0))
            return
        parts: list[str] = []
        sources: tuple[Source, ...] = ()
        model: ChatModel | None = None
        query = turn.question
        stack = AsyncExitStack()
        try:
            model = self._model(turn)
            reply = None if model.generative else small_talk_reply(turn.question, turn.greeting)
            if reply is not None:  # "Hello!" to a model that can only quote the knowledge
                yield SourcesFound(())
                yield AnswerDelta(reply)
                message = await self._store(
                    turn, reply, model=model, metadata={"kind": "small_talk"}
                )
                yield AnswerDone(message, Usage(0, 0))
                return
            if model.generative and turn.history:
                query = await self._standalone(model, turn)
            elif turn.history:
                query = follow_up_query(turn.history, turn.question)
            sources = await self._retrieve(turn, query, model.min_similarity)
            yield SourcesFound(sources)
            # A model that reads only the question (extractive) reads the follow-up in context.
            asked = turn.question
            if not model.generative and turn.history:
                asked = follow_up_question(turn.history, turn.question)
            request = self._request(turn, sources, asked)
            usage: Usage | None = None
            events = await stack.enter_async_context(streaming(model, request))
            async for event in events:
                if isinstance(event, TextDelta):
                    parts.append(event.text)
                    yield AnswerDelta(event.text)
                else:
                    usage = event
            await stack.aclose()
            text = "".join(parts)
            found = model.generative or not is_not_found(text)
            if not found and (offer := await anyio.to_thread.run_sync(self._offer, turn)):
                # Not a dead end: say what the chatbot can answer.
                parts.append(f" {offer}")
                yield AnswerDelta(f" {offer}")
                text = "".join(parts)
            usage = usage or Usage(_prompt_tokens(request), estimate_tokens(text))
            meta = _metadata(sources, query if turn.search else None)
            if turn.search:
                # Every [n] must name a given source that holds what it cites; flagged if not.
                check = check_citations(text, {s.ref: s.content for s in sources})
                if sources or check.flagged:  # nothing given and nothing cited: nothing to say
                    meta["citations"] = check.as_dict()
                if check.flagged:
                    log.info("chat on chatbot %s: citations flagged", turn.chatbot_id)
            message = await self._store(turn, text, model=model, usage=usage, metadata=meta)
            parts = []  # stored whole: nothing is left to keep as partial
            yield AnswerDone(message, usage)
        except ChatforgeError as exc:
            await _shielded(stack.aclose())
            log.warning("chat on chatbot %s failed: %s", turn.chatbot_id, exc.code)
            if parts and model is not None:
                meta = {**_metadata(sources, query if turn.search else None), "partial": True}
                meta["error"] = {"code": exc.code, "message": exc.message}
                await self._store(turn, "".join(parts), model=model, metadata=meta)
            yield AnswerFailed(exc)
        except BaseException:
            # The client went away (cancelled, or the stream closed): stop the provider's
            # generation at once, and keep what was said, marked as partial.
            await _shielded(stack.aclose())
            if parts and model is not None:
                meta = {**_metadata(sources, query if turn.search else None), "partial": True}
                await _shielded(self._store(turn, "".join(parts), model=model, metadata=meta))
            raise

    def _model(self, turn: PreparedTurn) -> ChatModel:
        registry = self.ctx.models.registry
        try:
            provider, _ = registry.resolve(turn.model_name)
        except ValidationFailed as exc:
            raise ProviderUnavailable(
                f"The chatbot's model {turn.model_name!r} is not available on this server; "
                "choose another model in settings.model."
            ) from exc
        # A chatbot's own key goes to OpenAI only, never to another provider.
        key = turn.openai_api_key if provider == "openai" else None
        return registry.build(turn.model_name, api_key=key)

    async def _standalone(self, model: ChatModel, turn: PreparedTurn) -> str:
        """The follow-up question rewritten to stand alone, for retrieval."""
        prompt = standalone_question_prompt(turn.history, turn.question)
        request = ChatRequest(
            messages=_messages(prompt),
            question=turn.question,
            max_tokens=_REWRITE_TOKENS,
            temperature=0.0,
        )
        rewritten = await complete(model, request)
        return clean_rewrite(rewritten.text, turn.question)

    def _offer(self, turn: PreparedTurn) -> str:
        """What to say after "not found": the chatbot's suggestions, else its Q&A questions,
        else the topics its knowledge covers most (its documents' titles)."""
        with self.ctx.db.sessions() as db:
            chatbot = ChatbotService(self.ctx, db, self.organization_id).get(turn.chatbot_id)
            examples = [s.strip() for s in chatbot.suggestions or [] if isinstance(s, str)]
            if not any(examples):
                _, items, _ = KnowledgeService(self.ctx, db, self.organization_id).list_items(
                    turn.chatbot_id, limit=_OFFERED, item_type="qna", status="ready"
                )
                examples = [item.title.strip() for item in items]
            if not any(examples):
                return offer_topics(_topics(db, chatbot.id))
        return offer_examples([e for e in examples if e][:_OFFERED])

    async def _retrieve(self, turn: PreparedTurn, query: str, floor: float) -> tuple[Source, ...]:
        """The passages the model will read: none below what it would use (``floor``)."""
        if not turn.search:
            return ()
        defaults = turn.retrieval

        def search(text: str) -> list[Hit]:
            return Retriever(self.ctx.db, self.ctx.models).search(
                turn.chatbot_id, text, limit=defaults.limit, threshold=0.0, mode=defaults.mode
            )

        def find() -> list[Hit]:
            # Searched once with no floor: the best passages, even weak ones, show how the
            # knowledge spells the question's words. A word it never says but nearly does
            # ("finacing") is read as that word, and the question is searched again.
            hits = search(query)
            known = known_words(f"{h.title}\n{h.content}" for h in hits)
            corrected = correct_spelling(query, known) if known else query
            if corrected != query:
                hits = search(corrected)
            threshold = max(defaults.threshold, floor)
            return [h for h in hits if h.similarity >= threshold]

        hits = await anyio.to_thread.run_sync(find)
        return tuple(Source.of(index, h) for index, h in enumerate(hits, start=1))

    def _request(
        self, turn: PreparedTurn, sources: tuple[Source, ...], question: str
    ) -> ChatRequest:
        config = self.ctx.settings.models
        prompt = build_prompt(
            turn.persona,
            [SourceText(s.ref, s.title, s.source, s.content) for s in sources],
            turn.history,
            turn.question,
            history_tokens=config.history_tokens,
        )
        return ChatRequest(
            messages=_messages(prompt),
            question=question,
            passages=tuple(s.passage() for s in sources),
            max_tokens=turn.max_tokens or config.max_answer_tokens,
            temperature=config.temperature if turn.temperature is None else turn.temperature,
        )

    async def _store(
        self,
        turn: PreparedTurn,
        text: str,
        *,
        model: ChatModel | None = None,
        usage: Usage | None = None,
        metadata: dict[str, Any],
    ) -> ChatMessage:
        def write() -> ChatMessage:
            with self.ctx.db.sessions() as db:
                chat_session = db.get(ChatSession, turn.session.id)
                if chat_session is None:  # the chatbot was deleted meanwhile
                    raise ChatforgeError("The conversation was deleted while answering.")
                message = sessions.add_message(
                    db,
                    chat_session,
                    "bot",
                    text,
                    model=model.name if model else None,
                    provider=model.provider if model else None,
                    tokens_used=usage.total_tokens if usage else 0,
                    metadata=metadata,
                )
                db.commit()
                return message

        return await anyio.to_thread.run_sync(write)


def offer_examples(examples: Sequence[str]) -> str:
    """The sentence that offers ``examples`` of what can be asked, or '' when there are none."""
    if not examples:
        return ""
    quoted = [f"“{e.rstrip()}”" for e in examples]
    listed = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return f"You can ask me, for example: {listed}"


def offer_topics(topics: Sequence[str]) -> str:
    """The sentence that names the topics the chatbot can help with, or '' when there are none."""
    if not topics:
        return ""
    listed = topics[0] if len(topics) == 1 else ", ".join(topics[:-1]) + " and " + topics[-1]
    return f"My knowledge covers {listed}."


def _topics(db: Session, chatbot_id: str) -> list[str]:
    """The titles of the documents with the most passages in the chatbot's ready knowledge."""
    count = func.count(Chunk.id)
    titles = db.execute(
        select(Chunk.title)
        .join(KnowledgeItem, KnowledgeItem.id == Chunk.item_id)
        .where(
            Chunk.chatbot_id == chatbot_id,
            Chunk.title != "",
            KnowledgeItem.enabled.is_(True),
            KnowledgeItem.status == "ready",
            KnowledgeItem.type != "qna",
        )
        .group_by(Chunk.title)
        .order_by(count.desc(), Chunk.title)
        .limit(_OFFERED)
    ).scalars()
    return [title.strip() for title in titles if title.strip()]


async def _shielded(work: Any) -> None:
    """Await ``work`` even while the surrounding task is being cancelled."""
    with anyio.CancelScope(shield=True):
        await work


def _messages(turns: Sequence[Turn]) -> tuple[PromptMessage, ...]:
    return tuple(PromptMessage(t.role, t.content) for t in turns)


def _metadata(sources: Sequence[Source], query: str | None) -> dict[str, Any]:
    """The bot message's metadata: its sources, and what was searched (when anything was)."""
    meta: dict[str, Any] = {"sources": [s.as_dict() for s in sources]}
    if query is not None:
        meta["search_query"] = query
    return meta


def _prompt_tokens(request: ChatRequest) -> int:
    return estimate_tokens(" ".join(m.content for m in request.messages))


def _history_of_request(earlier: Sequence[IncomingMessage]) -> list[Turn]:
    # The caller's own system messages are not history: the chatbot's prompt governs.
    return [
        Turn("user" if m.role == "user" else "assistant", m.content)
        for m in earlier
        if m.role in ("user", "assistant") and m.content.strip()
    ]


def _history_of_store(stored: Sequence[ChatMessage]) -> list[Turn]:
    return [
        Turn("user" if m.sender_type == "user" else "assistant", m.content)
        for m in stored
        if m.content.strip()
    ]


def _pending_question(stored: Sequence[ChatMessage]) -> str | None:
    """The question a visitor asked before the chatbot first asked for their email.

    The chatbot asks again after each message without an email ("I'd rather not say"), so
    the question is the first user message of that run of requests.
    """
    question = None
    last = len(stored) - 1
    while last >= 1 and (stored[last].meta or {}).get("kind") == "email_request":
        before = stored[last - 1]
        if before.sender_type != "user":
            break
        if not sessions.only_gives_email(before.content):
            question = before.content
        last -= 2
    return question
