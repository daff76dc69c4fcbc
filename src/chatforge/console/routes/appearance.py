"""The widget tab: its look (``settings.snippet``), the sites that may embed it, the embed code."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from chatforge.console.web import ContextDep, DbDep, OwnerActorDep, OwnerDep, redirect, render
from chatforge.errors import ChatforgeError
from chatforge.services.chatbots.service import Chatbot, ChatbotService
from chatforge.services.context import AppContext

router = APIRouter(prefix="/chatbots/{chatbot_id}/widget")

COLOR = r"^#[0-9A-Fa-f]{6}$"
#: The voices offered in the form (okchat's names; the server maps each to one it can speak).
VOICES = ("alloy", "ash", "ballad", "coral", "echo", "sage", "shimmer", "verse")


def _page(
    request: Request, ctx: AppContext, chatbot: Chatbot, *, saved: bool = False,
    error: str | None = None, origins: str | None = None, voice_saved: bool = False,
) -> Response:  # fmt: skip
    snippet = chatbot.settings.get("snippet") or {}
    base = ctx.public_base_url
    return render(
        request, "widget.html", 422 if error else 200, chatbot=chatbot, snippet=snippet,
        origins="\n".join(chatbot.settings.get("allowedOrigins") or []) if origins is None
        else origins,
        embed=f'<script src="{base}/widget.js" data-chatbot="{chatbot.id}" async></script>',
        page_url=f"{base}/chat/{chatbot.id}", saved=saved, error=error, tab="widget",
        voices=VOICES, voice_saved=voice_saved,
    )  # fmt: skip


@router.get("", response_class=HTMLResponse)
def widget_page(
    request: Request, ctx: ContextDep, db: DbDep, user: OwnerDep, chatbot_id: str,
    saved: bool = False, voice: bool = False,
) -> Response:  # fmt: skip
    chatbot = ChatbotService(ctx, db, user.organization_id).get(chatbot_id)
    return _page(request, ctx, chatbot, saved=saved, voice_saved=voice)


@router.post("/voice", response_class=HTMLResponse)
def save_voice(
    request: Request, ctx: ContextDep, db: DbDep, user: OwnerActorDep, chatbot_id: str,
    voice: Annotated[str, Form(max_length=40)] = "shimmer",
    temperature: Annotated[float, Form(ge=0, le=2)] = 0.7,
    start_call: Annotated[str, Form(max_length=100)] = "",
    call_to_action: Annotated[str, Form(max_length=200)] = "",
    threshold: Annotated[float, Form(ge=0, le=1)] = 0.8,
    silence_ms: Annotated[int, Form(ge=0, le=10_000)] = 1000,
    button_color: Annotated[str, Form(pattern=COLOR)] = "#000000",
) -> Response:  # fmt: skip
    """The voice agent's settings, deep-merged into ``voice_widget_config`` by the same service
    call as ``PATCH .../voice-agent``."""
    service = ChatbotService(ctx, db, user.organization_id)
    patch: dict[str, object] = {
        "voice": voice,
        "model": {"temperature": temperature},
        "vad": {"threshold": threshold, "silence_duration_ms": silence_ms},
        "appearance": {"buttonColor": button_color},
        "text": {"startCall": start_call.strip() or "Start a call",
                 "callToAction": call_to_action.strip()},
    }  # fmt: skip
    try:
        service.update_voice_config(chatbot_id, patch)
    except ChatforgeError as exc:
        if exc.status >= 500 or exc.status == 404:
            raise
        db.rollback()
        return _page(request, ctx, service.get(chatbot_id), error=exc.message)
    return redirect(request, f"/chatbots/{chatbot_id}/widget?voice=1")


@router.post("", response_class=HTMLResponse)
def save_widget(
    request: Request, ctx: ContextDep, db: DbDep, user: OwnerActorDep, chatbot_id: str,
    name: Annotated[str, Form(max_length=100)] = "",
    header: Annotated[str, Form(max_length=200)] = "",
    slogan: Annotated[str, Form(max_length=200)] = "",
    logo: Annotated[str, Form(max_length=2000)] = "",
    primary_color: Annotated[str, Form(pattern=COLOR)] = "#4F46E5",
    secondary_color: Annotated[str, Form(pattern=COLOR)] = "#10B981",
    allowed_origins: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:  # fmt: skip
    service = ChatbotService(ctx, db, user.organization_id)
    chatbot = service.get(chatbot_id)
    origins = [line.strip() for line in allowed_origins.splitlines() if line.strip()]
    snippet = {
        "name": name.strip() or chatbot.name,
        "header": header.strip(),
        "slogan": slogan.strip(),
        "logo": logo.strip(),
        "primaryColor": primary_color,
        "secondaryColor": secondary_color,
    }
    try:
        service.update(chatbot_id, {"settings": {"snippet": snippet, "allowedOrigins": origins}})
    except ChatforgeError as exc:
        if exc.status >= 500 or exc.status == 404:
            raise
        db.rollback()
        return _page(
            request, ctx, service.get(chatbot_id), error=exc.message, origins=allowed_origins
        )
    return redirect(request, f"/chatbots/{chatbot_id}/widget?saved=1")
