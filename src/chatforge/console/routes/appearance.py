"""The widget tab: its look (``settings.snippet``), the sites that may embed it, the embed code."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from chatforge.console import voice_form
from chatforge.console.web import ContextDep, DbDep, OwnerActorDep, OwnerDep, redirect, render
from chatforge.errors import ChatforgeError
from chatforge.services.chatbots.service import Chatbot, ChatbotService
from chatforge.services.context import AppContext

router = APIRouter(prefix="/chatbots/{chatbot_id}/widget")

COLOR = r"^#[0-9A-Fa-f]{6}$"


def _page(
    request: Request, ctx: AppContext, chatbot: Chatbot, *, saved: bool = False,
    error: str | None = None, origins: str | None = None, voice_saved: bool = False,
) -> Response:  # fmt: skip
    snippet = chatbot.settings.get("snippet") or {}
    base = ctx.public_base_url
    voice = voice_form.values(ctx, chatbot)
    return render(
        request, "widget.html", 422 if error else 200, chatbot=chatbot, snippet=snippet,
        origins="\n".join(chatbot.settings.get("allowedOrigins") or []) if origins is None
        else origins,
        embed=f'<script src="{base}/widget.js" data-chatbot="{chatbot.id}" async></script>',
        page_url=f"{base}/chat/{chatbot.id}", saved=saved, error=error, tab="widget",
        voice=voice, voices=voice_form.voice_options(str(voice["voice"])),
        voice_hint=voice_form.offline_hint(), voice_saved=voice_saved,
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
    voice: Annotated[str | None, Form(max_length=40)] = None,
    temperature: Annotated[float | None, Form(ge=0, le=2)] = None,
    start_call: Annotated[str | None, Form(max_length=100)] = None,
    call_to_action: Annotated[str | None, Form(max_length=200)] = None,
    threshold: Annotated[float | None, Form(ge=0, le=1)] = None,
    silence_ms: Annotated[int | None, Form(ge=0, le=10_000)] = None,
    button_color: Annotated[str | None, Form(pattern=COLOR)] = None,
) -> Response:  # fmt: skip
    """The voice agent's settings, deep-merged into ``voice_widget_config`` by the same service
    call as ``PATCH .../voice-agent``; a field the form leaves out, or leaves at the server's
    value while the chatbot has none, is not written (see :mod:`chatforge.console.voice_form`)."""
    service = ChatbotService(ctx, db, user.organization_id)
    submitted = {
        "voice": voice or None, "temperature": temperature,
        "start_call": None if start_call is None else start_call.strip() or voice_form.START_CALL,
        "call_to_action": None if call_to_action is None else call_to_action.strip(),
        "threshold": threshold, "silence_ms": silence_ms, "button_color": button_color,
    }  # fmt: skip
    try:
        patch = voice_form.patch(ctx, service.get(chatbot_id), submitted)
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
