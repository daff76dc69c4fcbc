"""The chat-model interface: typed requests, streamed events, and the one way to fold a stream.

Every chat provider implements :class:`ChatModel`, whose only method streams events. The
non-streaming answer is :func:`complete`, which folds that stream, so both paths run the same code.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import ClassVar, Literal

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    """One turn of the prompt.

    Attributes:
        role: Who speaks: ``system`` (instructions), ``user`` or ``assistant``.
        content: The text of the turn.
    """

    role: Role
    content: str


@dataclass(frozen=True)
class Passage:
    """A retrieved passage the answer may quote and cite.

    Attributes:
        ref: The 1-based citation number; an answer cites this passage as ``[ref]``.
        knowledge_id: Id of the knowledge item the passage comes from.
        title: Title of that item.
        source: Where the item came from (file name or URL).
        content: The passage as the prompt quotes it: okchat's ``Title / Chunk / Content`` form.
        similarity: Retrieval score of the passage, higher is more relevant.
        heading: The heading of the passage's section, if known.
        body: The passage's own text (a Q&A pair's answer); empty when the caller gave only
            ``content``, which then stands for it.
        qna: Whether it is a Q&A pair: ``title`` is the question and ``body`` the answer.
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


@dataclass(frozen=True)
class ChatRequest:
    """What a chat model is asked.

    Attributes:
        messages: The full prompt, system message included, with the passages quoted as data.
        question: The user's last turn, raw, for models that do not read the prompt.
        passages: What retrieval found; the extractive model answers from these.
        max_tokens: Upper bound on the tokens of the answer.
        temperature: Sampling temperature, for the models that sample.
    """

    messages: tuple[ChatMessage, ...]
    question: str
    passages: tuple[Passage, ...] = ()
    max_tokens: int = 1024
    temperature: float = 0.3


@dataclass(frozen=True)
class TextDelta:
    """A piece of the answer's text, in order."""

    text: str


@dataclass(frozen=True)
class Usage:
    """Tokens the call consumed, as the provider counted them (or estimated, see each model)."""

    input_tokens: int
    output_tokens: int

    @property
    def total_tokens(self) -> int:
        """Input and output tokens together (what a message stores as ``tokens_used``)."""
        return self.input_tokens + self.output_tokens


ChatEvent = TextDelta | Usage


@dataclass(frozen=True)
class Completion:
    """A whole answer: the folded stream."""

    text: str
    usage: Usage


class ChatModel(ABC):
    """A chat model of one provider.

    Implementations stream :class:`TextDelta` events and end with exactly one :class:`Usage`.
    Callers that may stop early (a client disconnected) iterate inside :func:`streaming`, so
    that generation stops and the provider connection is released at once.

    Attributes:
        provider: Name of the provider in the registry (``"openai"``).
        name: Name of the model at that provider (``"gpt-4o-mini"``).
        generative: Whether the model follows instructions and writes free text. The extractive
            model does not, so callers must not ask it to rewrite a follow-up question.
        min_similarity: Retrieved passages below this similarity are never used by the model,
            so callers need not send them, nor list them as the answer's sources.
    """

    provider: str
    name: str
    generative: ClassVar[bool] = True
    min_similarity: float = 0.0

    @abstractmethod
    def stream(self, request: ChatRequest) -> AsyncIterator[ChatEvent]:
        """Answer ``request``, streaming the text as it comes and the usage at the end.

        Args:
            request: The prompt, the raw question and the retrieved passages.

        Returns:
            An async iterator of events: deltas, then one usage.

        Raises:
            ProviderError: The provider answered with an error (502).
            ProviderUnavailable: The provider is not configured, refused the key, is rate
                limiting, or cannot be reached (503).
        """

    @property
    def qualified_name(self) -> str:
        """The ``provider:model`` name under which the registry builds this model."""
        return f"{self.provider}:{self.name}"


@asynccontextmanager
async def streaming(
    model: ChatModel, request: ChatRequest
) -> AsyncIterator[AsyncIterator[ChatEvent]]:
    """Open ``model``'s stream for ``request``, and close it on leaving, even half read.

    An async generator left unfinished keeps its HTTP response open until it is garbage
    collected; closing it here ends the provider's generation when the client has gone.
    """
    events = model.stream(request)
    try:
        yield events
    finally:
        close = getattr(events, "aclose", None)
        if close is not None:
            await close()


async def complete(model: ChatModel, request: ChatRequest) -> Completion:
    """Answer ``request`` in one piece by folding the model's stream.

    Args:
        model: The model to ask.
        request: What to ask it.

    Returns:
        The full text and the usage. When a model reports no usage the counts are 0.
    """
    parts: list[str] = []
    usage = Usage(0, 0)
    async with streaming(model, request) as events:
        async for event in events:
            if isinstance(event, TextDelta):
                parts.append(event.text)
            else:
                usage = event
    return Completion("".join(parts), usage)


CITATION_MARKER = re.compile(r"\[(\d+)\]")
"""A citation in an answer: ``[n]`` names the passage whose ``ref`` is n."""

_WORD = re.compile(r"\w+(?:[-'.]\w+)*")


def estimate_tokens(text: str) -> int:
    """Count the words of ``text`` as its tokens.

    Used where a provider reports no usage and by the extractive model, which has no tokenizer.
    """
    return len(_WORD.findall(text))
