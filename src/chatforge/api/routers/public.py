"""``/api/public/chatbot/{chatbot}``: the public chat API, with no key (API.md §5).

``{chatbot}`` is a public chatbot's id or slug; anything else is 404. The visitor's token comes
back in the ``X-Visitor-Token`` header; calls that issue one return it as ``visitor_token``.
Origins, CORS and the public rate limits are applied by :mod:`chatforge.api.public_gate`.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query
from fastapi.responses import JSONResponse, StreamingResponse

from chatforge.api.deps import ContextDep
from chatforge.api.errors import error_body
from chatforge.api.routers.chat import STREAM_HEADERS, failed_event, format_event
from chatforge.api.schemas.common import ErrorBody
from chatforge.api.schemas.conversations import feedback_out
from chatforge.api.schemas.public import (
    LeadIn,
    LeadOut,
    PublicChatBody,
    PublicChatbotEnvelope,
    PublicChatResponse,
    PublicFeedbackIn,
    PublicFeedbackOut,
    PublicSessionEnvelope,
    public_chat_response,
    public_chatbot_out,
    public_done_data,
    public_session_out,
    public_source_out,
)
from chatforge.services.chat.service import AnswerDelta, AnswerFailed, SessionStarted
from chatforge.services.public.service import (
    PublicDone,
    PublicEvent,
    PublicService,
    PublicSources,
    PublicTurn,
)

log = logging.getLogger(__name__)


def _error(description: str) -> dict[str, Any]:
    return {"model": ErrorBody, "description": description}


router = APIRouter(
    prefix="/api/public/chatbot",
    tags=["public"],
    responses={
        403: _error("The request's Origin is not in the chatbot's allowedOrigins."),
        404: _error("No such chatbot, not public, or not the visitor's session."),
        422: _error("Invalid input; `details` lists each field."),
        429: _error("Rate limited (per visitor or per address); see Retry-After."),
    },
)


def get_public_service(ctx: ContextDep) -> PublicService:
    """The public use cases; no key, no organization."""
    return PublicService(ctx)


PublicDep = Annotated[PublicService, Depends(get_public_service)]
VisitorToken = Annotated[
    str | None,
    Header(
        alias="X-Visitor-Token",
        description="The visitor's token, as a previous call issued it.",
    ),
]
_NO_STORE = {"Cache-Control": "no-store"}


@router.get(
    "/{chatbot}",
    response_model=PublicChatbotEnvelope,
    summary="What the widget needs to show a public chatbot",
)
async def get_chatbot(chatbot: str, service: PublicDep) -> JSONResponse:
    found = await service.chatbot(chatbot)
    return JSONResponse(public_chatbot_out(found), headers=_NO_STORE)


@router.post(
    "/{chatbot}/chat",
    response_model=PublicChatResponse,
    response_model_exclude_unset=True,
    summary="Ask a public chatbot: a grounded, cited answer, optionally streamed",
    responses={
        200: {
            "description": (
                "With `?stream=true`: `text/event-stream` with `session` (`session_id`, and "
                "`visitor_token` when issued), `sources` before the first token, `delta`..., "
                "then `done` or `error`."
            ),
            "content": {"text/event-stream": {}},
        },
        502: _error("The model provider failed."),
        503: _error("The model provider is unavailable (Retry-After)."),
    },
)
async def chat(
    chatbot: str,
    body: PublicChatBody,
    service: PublicDep,
    token: VisitorToken = None,
    stream: Annotated[bool, Query(description="Stream Server-Sent Events.")] = False,
) -> Any:
    turn = await service.start_chat(chatbot, body.question(), body.session_id, token)
    if not stream:
        return JSONResponse(public_chat_response(await service.answer(turn)), headers=_NO_STORE)
    return StreamingResponse(
        _server_sent_events(turn, service.events(turn)),
        media_type="text/event-stream",
        headers=STREAM_HEADERS,
    )


@router.get(
    "/{chatbot}/sessions/{session_id}",
    response_model=PublicSessionEnvelope,
    summary="Read back the visitor's own conversation (the widget polls it)",
)
def read_session(
    chatbot: str,
    session_id: str,
    service: PublicDep,
    token: VisitorToken = None,
    after: Annotated[
        str | None, Query(description="Only the messages written after this message id.")
    ] = None,
) -> JSONResponse:
    view, messages = service.read_session(chatbot, session_id, token, after)
    body = public_session_out(view, messages).model_dump(mode="json")
    return JSONResponse(body, headers=_NO_STORE)


@router.post(
    "/{chatbot}/lead",
    response_model=LeadOut,
    response_model_exclude_none=True,
    summary="Record the visitor's email as their conversation's lead",
)
def save_lead(chatbot: str, body: LeadIn, service: PublicDep, token: VisitorToken = None) -> Any:
    session_id, issued = service.save_lead(chatbot, body.email, body.session_id, token)
    return LeadOut(session_id=session_id, visitor_token=issued, message="Lead saved successfully")


@router.post(
    "/{chatbot}/sessions/{session_id}/messages/{message_id}/feedback",
    response_model=PublicFeedbackOut,
    summary="Rate one of the chatbot's answers (again replaces it)",
)
def rate(
    chatbot: str,
    session_id: str,
    message_id: str,
    body: PublicFeedbackIn,
    service: PublicDep,
    token: VisitorToken = None,
) -> PublicFeedbackOut:
    feedback = service.rate(chatbot, session_id, message_id, token, body.rating, body.comment)
    return PublicFeedbackOut(feedback=feedback_out(feedback), message="Feedback saved successfully")


async def _server_sent_events(
    turn: PublicTurn, events: AsyncIterator[PublicEvent]
) -> AsyncIterator[str]:
    """The public events as ``event:``/``data:`` lines; a crash ends with an ``error`` event."""
    try:
        async for event in events:
            name, data = _wire(turn, event)
            yield format_event(name, data)
    except Exception:
        log.exception("public chat stream failed")
        yield format_event("error", error_body("internal_error", "Something went wrong."))


def _wire(turn: PublicTurn, event: PublicEvent) -> tuple[str, Any]:
    if isinstance(event, SessionStarted):
        data = {"session_id": event.session_id}
        if turn.issued_token is not None:
            data["visitor_token"] = turn.issued_token
        return "session", data
    if isinstance(event, PublicSources):
        return "sources", {"sources": [public_source_out(s).model_dump() for s in event.sources]}
    if isinstance(event, AnswerDelta):
        return "delta", {"content": event.content}
    if isinstance(event, PublicDone):
        return "done", public_done_data(event.message)
    assert isinstance(event, AnswerFailed)
    return failed_event(event)
