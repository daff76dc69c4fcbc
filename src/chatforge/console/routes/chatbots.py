"""Chatbots: the list, create, edit the fields a person sets, delete with confirmation."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from chatforge.console.web import (
    ContextDep,
    DbDep,
    OwnerActorDep,
    OwnerDep,
    page_of,
    redirect,
    render,
)
from chatforge.errors import ChatforgeError, ValidationFailed
from chatforge.services import workspace
from chatforge.services.chatbots.service import ChatbotService

router = APIRouter(prefix="/chatbots")

PAGE_SIZE = 20
STYLES = ("Friendly", "Formal", "Concise", "Playful", "Empathetic")
TONES = ("Professional", "Casual", "Warm", "Neutral", "Enthusiastic")


class ChatbotForm:
    """The fields of the chatbot form, as the service's update takes them."""

    def __init__(
        self,
        name: Annotated[str, Form(max_length=100)] = "",
        description: Annotated[str, Form(max_length=2000)] = "",
        prompt: Annotated[str, Form(max_length=20000)] = "",
        greeting: Annotated[str, Form(max_length=2000)] = "",
        style: Annotated[str, Form(max_length=50)] = "Friendly",
        tone: Annotated[str, Form(max_length=50)] = "Professional",
        suggestions: Annotated[str, Form(max_length=5000)] = "",
        model: Annotated[str, Form(max_length=200)] = "",
        email_capture: Annotated[bool, Form()] = False,
        is_public: Annotated[bool, Form()] = False,
    ) -> None:
        self.values = {
            "name": name.strip(),
            "description": description.strip(),
            "prompt": prompt,
            "greeting": greeting,
            "style": style,
            "tone": tone,
            "suggestions": suggestions,
            "model": model,
            "email_capture": email_capture,
            "is_public": is_public,
        }

    def fields(self) -> dict[str, Any]:
        """The service's fields (``ChatbotService.create`` / ``update``)."""
        v = self.values
        settings: dict[str, Any] = {"isRequestUserInfoEnabled": v["email_capture"]}
        for key in ("prompt", "greeting", "model"):
            if str(v[key]).strip():
                settings[key] = v[key]
        lines = [line.strip() for line in str(v["suggestions"]).splitlines() if line.strip()]
        return {
            "name": v["name"],
            "description": v["description"] or None,
            "is_public": v["is_public"],
            "suggestions": lines or None,
            "personality_config": {"style": v["style"], "tone": v["tone"]},
            "settings": settings,
        }


def _values_of(chatbot: Any) -> dict[str, Any]:
    settings = chatbot.settings or {}
    personality = chatbot.personality_config or {}
    return {
        "name": chatbot.name,
        "description": chatbot.description or "",
        "prompt": settings.get("prompt", ""),
        "greeting": settings.get("greeting", ""),
        "style": personality.get("style", "Friendly"),
        "tone": personality.get("tone", "Professional"),
        "suggestions": "\n".join(str(s) for s in chatbot.suggestions or []),
        "model": settings.get("model", ""),
        "email_capture": bool(settings.get("isRequestUserInfoEnabled")),
        "is_public": chatbot.is_public,
    }


def _form(
    request: Request, ctx: Any, values: dict[str, Any], chatbot: Any = None,
    error: ChatforgeError | None = None, saved: bool = False,
) -> Response:  # fmt: skip
    fields = {d.get("field") for d in (error.details or [])} if error else set()
    return render(
        request,
        "chatbot_form.html",
        422 if error else 200,
        chatbot=chatbot,
        values=values,
        models=workspace.usable_models(ctx, values.get("model") or None),
        styles=STYLES,
        tones=TONES,
        error=error.message if error else None,
        error_fields=fields,
        saved=saved,
        tab="settings",
    )


@router.get("", response_class=HTMLResponse)
def list_chatbots(request: Request, db: DbDep, user: OwnerDep, page: str = "1") -> Response:
    number = page_of(page)
    rows, total = workspace.chatbot_page(db, user.organization_id, number, PAGE_SIZE)
    return render(
        request, "chatbots.html", rows=rows, total=total, page=number, page_size=PAGE_SIZE
    )


@router.get("/new", response_class=HTMLResponse)
def new_chatbot(request: Request, ctx: ContextDep, _user: OwnerDep) -> Response:
    values = ChatbotForm().values
    values["model"] = ctx.models.default_model()
    return _form(request, ctx, values)


@router.post("", response_class=HTMLResponse)
def create_chatbot(
    request: Request, ctx: ContextDep, db: DbDep, user: OwnerActorDep,
    form: Annotated[ChatbotForm, Depends()],
) -> Response:  # fmt: skip
    try:
        chatbot = ChatbotService(ctx, db, user.organization_id).create(_required(form))
    except ChatforgeError as exc:
        if exc.status >= 500:
            raise
        return _form(request, ctx, form.values, error=exc)
    return redirect(request, f"/chatbots/{chatbot.id}/knowledge")


@router.get("/{chatbot_id}", response_class=HTMLResponse)
def edit_chatbot(
    request: Request, ctx: ContextDep, db: DbDep, user: OwnerDep, chatbot_id: str,
    saved: bool = False,
) -> Response:  # fmt: skip
    chatbot = ChatbotService(ctx, db, user.organization_id).get(chatbot_id)
    return _form(request, ctx, _values_of(chatbot), chatbot, saved=saved)


@router.post("/{chatbot_id}", response_class=HTMLResponse)
def update_chatbot(
    request: Request, ctx: ContextDep, db: DbDep, user: OwnerActorDep, chatbot_id: str,
    form: Annotated[ChatbotForm, Depends()],
) -> Response:  # fmt: skip
    service = ChatbotService(ctx, db, user.organization_id)
    chatbot = service.get(chatbot_id)
    try:
        service.update(chatbot_id, _required(form))
    except ChatforgeError as exc:
        if exc.status >= 500 or exc.status == 404:
            raise
        db.rollback()
        return _form(request, ctx, form.values, service.get(chatbot_id), error=exc)
    return redirect(request, f"/chatbots/{chatbot.id}?saved=1")


@router.get("/{chatbot_id}/delete", response_class=HTMLResponse)
def confirm_delete(
    request: Request, ctx: ContextDep, db: DbDep, user: OwnerDep, chatbot_id: str
) -> Response:
    chatbot = ChatbotService(ctx, db, user.organization_id).get(chatbot_id)
    return render(request, "chatbot_delete.html", chatbot=chatbot, tab="settings")


@router.post("/{chatbot_id}/delete", response_class=HTMLResponse)
def delete_chatbot(
    request: Request, ctx: ContextDep, db: DbDep, user: OwnerActorDep, chatbot_id: str
) -> Response:
    ChatbotService(ctx, db, user.organization_id).delete(chatbot_id)
    return redirect(request, "/chatbots")


def _required(form: ChatbotForm) -> dict[str, Any]:
    fields = form.fields()
    if not fields["name"]:
        raise ValidationFailed(
            "Give the chatbot a name.", details=[{"field": "name", "message": "required"}]
        )
    return fields
