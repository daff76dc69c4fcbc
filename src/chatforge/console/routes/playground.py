"""The playground: an owner asks a chatbot questions and sees the sources of each answer.

Answers go through the same chat service as the API and the widget, on the platform
``playground`` (so these conversations stay out of the inbox). Each page load starts a new
conversation; its token travels in the form.
"""

from __future__ import annotations

import re
import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from chatforge.console.web import ContextDep, DbDep, OwnerActorDep, OwnerDep, render
from chatforge.services.chat import ChatService
from chatforge.services.chat_events import IncomingMessage
from chatforge.services.chatbots import ChatbotService
from chatforge.services.sessions import Incoming

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
    text = answer.response or ""
    used = {source.ref for source in answer.sources if f"[{source.ref}]" in text}
    return render(
        request, "_playground_turn.html", question=content, answer=answer, text=text, used=used
    )
