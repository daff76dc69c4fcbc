"""The inbox: the organization's conversations, one opened, taken over, answered, handed back.

Agents and owners both work here. The open conversation's messages refresh on their own (htmx
polls them), so a visitor's new message shows without reloading.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from chatforge.console.web import ActorDep, ContextDep, DbDep, UserDep, page_of, redirect, render
from chatforge.services import workspace
from chatforge.services.conversations.service import ConversationService, Page, SessionPatch

router = APIRouter(prefix="/inbox")

PAGE_SIZE = 25
#: The newest messages of a conversation shown at once.
MESSAGE_WINDOW = 200


@router.get("", response_class=HTMLResponse)
def inbox(
    request: Request, db: DbDep, user: UserDep, page: str = "1", chatbot: str = "",
    human: bool = False, lead: bool = False, down: bool = False, waiting: bool = False,
    platform: str = "", since: str = "", until: str = "",
) -> Response:  # fmt: skip
    filters = workspace.InboxFilters(
        chatbot_id=chatbot or None, human_mode=human, has_lead=lead, rated_down=down,
        waiting=waiting, platform=platform[:32] or None, since=_day(since), until=_day(until),
    )  # fmt: skip
    number = page_of(page)
    rows, total = workspace.inbox_page(db, user.organization_id, filters, number, PAGE_SIZE)
    return render(
        request, "inbox.html", rows=rows, total=total, page=number, page_size=PAGE_SIZE,
        filters=filters, chatbots=workspace.chatbot_names(db, user.organization_id),
        platforms=workspace.platforms(db, user.organization_id),
    )  # fmt: skip


def _day(value: str) -> date | None:
    """A ``YYYY-MM-DD`` day from a query string (None for anything else)."""
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def _conversation(
    request: Request, service: ConversationService, chatbot_id: str, session_id: str,
    template: str,
) -> Response:  # fmt: skip
    conversation = service.get(chatbot_id, session_id)
    _, total = service.list_messages(chatbot_id, session_id, Page(1, 1))
    # The last page: the newest messages (a long conversation shows its latest part).
    last = max(1, (total - 1) // MESSAGE_WINDOW + 1)
    messages, _ = service.list_messages(chatbot_id, session_id, Page(last, MESSAGE_WINDOW))
    chatbot = service.chatbots.get(chatbot_id)
    return render(
        request, template, conversation=conversation, chatbot=chatbot, messages=messages,
        total=total,
    )  # fmt: skip


@router.get("/{chatbot_id}/{session_id}", response_class=HTMLResponse)
def conversation(
    request: Request, ctx: ContextDep, db: DbDep, user: UserDep, chatbot_id: str, session_id: str
) -> Response:
    service = ConversationService(ctx, db, user.organization_id)
    return _conversation(request, service, chatbot_id, session_id, "conversation.html")


@router.get("/{chatbot_id}/{session_id}/messages", response_class=HTMLResponse)
def messages(
    request: Request, ctx: ContextDep, db: DbDep, user: UserDep, chatbot_id: str, session_id: str
) -> Response:
    """The messages alone, polled by the open conversation."""
    service = ConversationService(ctx, db, user.organization_id)
    return _conversation(request, service, chatbot_id, session_id, "_messages.html")


@router.post("/{chatbot_id}/{session_id}/takeover", response_class=HTMLResponse)
def take_over(
    request: Request, ctx: ContextDep, db: DbDep, user: ActorDep, chatbot_id: str, session_id: str
) -> Response:
    ConversationService(ctx, db, user.organization_id).update(
        chatbot_id, session_id, SessionPatch(is_human_mode=True)
    )
    return redirect(request, f"/inbox/{chatbot_id}/{session_id}")


@router.post("/{chatbot_id}/{session_id}/handback", response_class=HTMLResponse)
def hand_back(
    request: Request, ctx: ContextDep, db: DbDep, user: ActorDep, chatbot_id: str, session_id: str
) -> Response:
    ConversationService(ctx, db, user.organization_id).update(
        chatbot_id, session_id, SessionPatch(is_human_mode=False)
    )
    return redirect(request, f"/inbox/{chatbot_id}/{session_id}")


@router.post("/{chatbot_id}/{session_id}/reply", response_class=HTMLResponse)
def reply(
    request: Request, ctx: ContextDep, db: DbDep, user: ActorDep, chatbot_id: str,
    session_id: str, content: Annotated[str, Form(max_length=20_000)] = "",
) -> Response:  # fmt: skip
    service = ConversationService(ctx, db, user.organization_id)
    service.reply_as_human(chatbot_id, session_id, content)
    if not request.headers.get("hx-request"):
        return redirect(request, f"/inbox/{chatbot_id}/{session_id}")
    return _conversation(request, service, chatbot_id, session_id, "_messages.html")
