"""The playground: an owner asks a chatbot questions and sees the sources of each answer.

Answers go through the same chat service as the API and the widget (streamed, as the API
streams them, when the page's script is on), on the platform ``playground`` (so these
conversations stay out of the inbox). Each page load starts a new
conversation; its token travels in the form.
"""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response, StreamingResponse

from chatforge.console.web import ContextDep, DbDep, OwnerActorDep, OwnerDep, render
from chatforge.services.chat.events import (
    AnswerDelta,
    AnswerDone,
    AnswerFailed,
    ChatAnswer,
    IncomingMessage,
    Source,
    SourcesFound,
)
from chatforge.services.chat.service import ChatService
from chatforge.services.chatbots.service import ChatbotService
from chatforge.services.conversations import sessions
from chatforge.services.conversations.sessions import Incoming

router = APIRouter(prefix="/chatbots/{chatbot_id}/playground")

PLATFORM = "playground"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


@router.get("", response_class=HTMLResponse)
def playground(
    request: Request, ctx: ContextDep, db: DbDep, user: OwnerDep, chatbot_id: str
) -> Response:
    chatbot = ChatbotService(ctx, db, user.organization_id).get(chatbot_id)
    return render(
        request, "playground.html", chatbot=chatbot, token=secrets.token_urlsafe(16),
        tab="playground",
    )  # fmt: skip


@router.post("", response_class=HTMLResponse)
async def ask(
    request: Request, ctx: ContextDep, user: OwnerActorDep, chatbot_id: str,
    content: Annotated[str, Form(max_length=4000)] = "",
    token: Annotated[str, Form(max_length=64)] = "",
) -> Response:  # fmt: skip
    session_token = token if _TOKEN.match(token) else secrets.token_urlsafe(16)
    answer = await ChatService(ctx, user.organization_id).answer(
        chatbot_id,
        [IncomingMessage(role="user", content=content)],
        Incoming(chatbot_id, PLATFORM, f"console-{session_token}"),
    )
    return _turn(request, content, answer)


def _turn(request: Request, question: str, answer: ChatAnswer) -> HTMLResponse:
    """One question and its answer, with the sources and which ones the answer cites.

    An answer that found nothing rests on no source: its passages are shown as what was
    searched, never counted as the answer's sources.
    """
    text = answer.response or ""
    used = {source.ref for source in answer.sources if f"[{source.ref}]" in text}
    return render(
        request, "_playground_turn.html", question=question, answer=answer, text=text, used=used,
        found=sessions.rests_on_sources(answer.message),
    )  # fmt: skip


@router.post("/stream")
async def ask_streaming(
    request: Request, ctx: ContextDep, user: OwnerActorDep, chatbot_id: str,
    content: Annotated[str, Form(max_length=4000)] = "",
    token: Annotated[str, Form(max_length=64)] = "",
) -> StreamingResponse:  # fmt: skip
    """The answer as it is written (Server-Sent Events from the same chat service events the
    API streams): ``delta`` events with text, then ``done`` with the whole turn as HTML (the
    sources and why), or ``error`` with a message."""
    session_token = token if _TOKEN.match(token) else secrets.token_urlsafe(16)
    service = ChatService(ctx, user.organization_id)
    turn = await service.start(
        chatbot_id,
        [IncomingMessage(role="user", content=content)],
        Incoming(chatbot_id, PLATFORM, f"console-{session_token}"),
    )

    async def stream() -> AsyncIterator[str]:
        sources: tuple[Source, ...] = ()
        async for event in service.events(turn):
            if isinstance(event, SourcesFound):
                sources = event.sources
            elif isinstance(event, AnswerDelta):
                yield _event("delta", {"text": event.content})
            elif isinstance(event, AnswerFailed):
                yield _event("error", {"message": event.error.message})
            elif isinstance(event, AnswerDone):
                answer = ChatAnswer(turn.session.id, event.message, sources, event.usage)
                html = bytes(_turn(request, content, answer).body).decode()
                yield _event("done", {"html": html})

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )


def _event(name: str, data: dict[str, str]) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"
