"""``POST /api/external/chatbot/{chatbotId}/chat`` (docs/api.md, "Chat")."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from chatforge.api.deps import ChatDep
from chatforge.api.errors import error_body
from chatforge.api.schemas.chat import ChatBody, ChatResponse, chat_response, done_data, source_out
from chatforge.api.schemas.common import ERROR_RESPONSES
from chatforge.services.chat.service import (
    AnswerDelta,
    AnswerDone,
    AnswerFailed,
    ChatStreamEvent,
    Incoming,
    SessionStarted,
    SourcesFound,
)

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/external/chatbot", tags=["chat"], responses=ERROR_RESPONSES)

STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

_STREAM_DOC: dict[int | str, dict[str, Any]] = {
    200: {
        "description": (
            "With `?stream=true`: `text/event-stream` with the events `session`, `sources` "
            "(before the first token), `delta`..., then `done` or `error`; one JSON object per "
            "`data:` line."
        ),
        "content": {"text/event-stream": {}},
    },
    502: {"description": "The model provider failed."},
    503: {"description": "The model provider is not configured or unavailable (Retry-After)."},
}


@router.post(
    "/{chatbotId}/chat",
    response_model=ChatResponse,
    summary="Chat with a chatbot: a grounded, cited answer, optionally streamed",
    responses=_STREAM_DOC,
)
async def chat(
    chatbotId: str,  # noqa: N803
    body: ChatBody,
    service: ChatDep,
    stream: Annotated[bool, Query(description="Stream Server-Sent Events.")] = False,
) -> Any:
    incoming = Incoming(chatbotId, body.platform, body.session_token)
    if not stream:
        answer = await service.answer(chatbotId, body.incoming_messages(), incoming)
        return chat_response(answer)
    # Not found and invalid input are answered as HTTP errors before the stream starts.
    turn = await service.start(chatbotId, body.incoming_messages(), incoming)
    return StreamingResponse(
        server_sent_events(service.events(turn)),
        media_type="text/event-stream",
        headers=STREAM_HEADERS,
    )


async def server_sent_events(events: AsyncIterator[ChatStreamEvent]) -> AsyncIterator[str]:
    """The chat events as ``event:``/``data:`` lines; a crash ends with an ``error`` event."""
    try:
        async for event in events:
            name, data = _wire(event)
            yield format_event(name, data)
    except Exception:
        log.exception("chat stream failed")
        body = error_body("internal_error", "Something went wrong on our side.")
        yield format_event("error", body)


def format_event(name: str, data: Any) -> str:
    """One Server-Sent Event; the JSON is on one ``data:`` line."""
    return f"event: {name}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _wire(event: ChatStreamEvent) -> tuple[str, Any]:
    if isinstance(event, SessionStarted):
        return "session", {"session_id": event.session_id}
    if isinstance(event, SourcesFound):
        return "sources", {"sources": [source_out(s).model_dump() for s in event.sources]}
    if isinstance(event, AnswerDelta):
        return "delta", {"content": event.content}
    if isinstance(event, AnswerDone):
        return "done", done_data(event.message, event.usage)
    assert isinstance(event, AnswerFailed)
    return failed_event(event)


def failed_event(event: AnswerFailed) -> tuple[str, Any]:
    """The ``error`` event of a stream that failed; a ``Retry-After`` goes into its details."""
    error = event.error
    details = error.details
    retry_after = error.headers.get("Retry-After")
    if retry_after is not None:
        details = {**(details or {}), "retry_after": retry_after}
    return "error", error_body(error.code, error.message, details)
