"""What a chat call takes and streams: messages in, typed events out.

The events are the one protocol between the chat service and its transports (the okchat stream,
its folded answer, and the OpenAI-compatible endpoint); each transport only formats them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from chatforge.errors import ChatforgeError
from chatforge.providers.chat import Passage, Usage
from chatforge.rag.prompt import Persona, Turn
from chatforge.services.conversations.sessions import ChatMessage, ChatSession
from chatforge.services.search.query import RetrievalDefaults
from chatforge.services.search.retrieval import Hit

__all__ = [
    "AnswerDelta",
    "AnswerDone",
    "AnswerFailed",
    "ChatAnswer",
    "ChatStreamEvent",
    "IncomingMessage",
    "PreparedTurn",
    "Role",
    "SessionStarted",
    "Source",
    "SourcesFound",
    "Usage",
]

Role = Literal["user", "assistant", "system"]


@dataclass(frozen=True)
class IncomingMessage:
    """One message of a chat request; the last one is the new user turn."""

    role: Role
    content: str


@dataclass(frozen=True)
class Source:
    """A passage an answer was grounded on; the answer cites it as ``[ref]``.

    ``content`` is okchat's form of the chunk, what clients receive; ``heading``, ``body`` and
    ``qna`` are its fields (``rag.chunking.Chunk``), for the model and the console.
    """

    ref: int
    knowledge_id: str
    title: str
    source: str
    content: str
    similarity: float
    heading: str | None = None
    body: str = ""
    qna: bool = False

    @classmethod
    def of(cls, ref: int, hit: Hit) -> Source:
        """A retrieved chunk as the answer's source ``[ref]``."""
        return cls(
            ref, hit.knowledge_id, hit.title, hit.source, hit.content, hit.similarity,
            heading=hit.heading, body=hit.body, qna=hit.qna,
        )  # fmt: skip

    def passage(self) -> Passage:
        """The source as the chat model reads it."""
        return Passage(
            self.ref, self.knowledge_id, self.title, self.source, self.content, self.similarity,
            heading=self.heading, body=self.body, qna=self.qna,
        )  # fmt: skip

    def as_dict(self) -> dict[str, Any]:
        """The JSON form stored in ``metadata.sources`` and sent to clients."""
        return {
            "knowledge_id": self.knowledge_id,
            "title": self.title,
            "source": self.source,
            "content": self.content,
            "similarity": self.similarity,
            "ref": self.ref,
        }


@dataclass(frozen=True)
class SessionStarted:
    session_id: str


@dataclass(frozen=True)
class SourcesFound:
    sources: tuple[Source, ...]


@dataclass(frozen=True)
class AnswerDelta:
    content: str


@dataclass(frozen=True)
class AnswerDone:
    """The end of an answer: the stored bot message (None in human mode) and the usage."""

    message: ChatMessage | None
    usage: Usage


@dataclass(frozen=True)
class AnswerFailed:
    """The provider failed; the user's message (and any partial answer) is stored."""

    error: ChatforgeError


ChatStreamEvent = SessionStarted | SourcesFound | AnswerDelta | AnswerDone | AnswerFailed


@dataclass(frozen=True)
class ChatAnswer:
    """The folded answer of the non-streaming call."""

    session_id: str
    message: ChatMessage | None
    sources: tuple[Source, ...]
    usage: Usage

    @property
    def response(self) -> str | None:
        """The answer's text; None when no bot answered (human mode)."""
        return self.message.content if self.message is not None else None


@dataclass
class PreparedTurn:
    """A chat call once its user message is stored: everything the answer needs."""

    chatbot_id: str
    session: ChatSession
    user_message: ChatMessage
    action: Literal["answer", "human", "ask_email"]
    question: str
    history: list[Turn]
    model_name: str
    persona: Persona
    retrieval: RetrievalDefaults
    search: bool
    greeting: str
    openai_api_key: str | None = field(default=None, repr=False)
    #: The answer's own sampling temperature and token limit, over the server's settings (a
    #: voice agent's ``voice_widget_config.model``); None keeps the server's.
    temperature: float | None = None
    max_tokens: int | None = None
