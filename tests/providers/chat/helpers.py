"""Small builders shared by the chat-provider tests."""

from __future__ import annotations

from chatforge.providers.chat import (
    ChatEvent,
    ChatMessage,
    ChatModel,
    ChatRequest,
    Passage,
    TextDelta,
    Usage,
    streaming,
)


def request(question: str = "What is the capital of France?", **fields: object) -> ChatRequest:
    """A prompt with a system message and one user turn."""
    messages = (
        ChatMessage("system", "Answer from the sources."),
        ChatMessage("user", question),
    )
    return ChatRequest(messages=messages, question=question, **fields)  # type: ignore[arg-type]


def passage(ref: int, content: str, similarity: float = 0.6, title: str = "Doc") -> Passage:
    return Passage(ref, f"k{ref}", title, f"{title.lower()}.txt", content, similarity)


async def events_of(model: ChatModel, chat_request: ChatRequest) -> list[ChatEvent]:
    async with streaming(model, chat_request) as events:
        return [event async for event in events]


def text_of(events: list[ChatEvent]) -> str:
    return "".join(e.text for e in events if isinstance(e, TextDelta))


def usage_of(events: list[ChatEvent]) -> Usage:
    usages = [e for e in events if isinstance(e, Usage)]
    assert len(usages) == 1 and events[-1] is usages[0], "one usage, at the end"
    return usages[0]
