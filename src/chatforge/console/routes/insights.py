"""Insights: conversations, answers, unanswered questions and feedback by day. Owners."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from chatforge.console.web import DbDep, OwnerDep, render
from chatforge.services import workspace
from chatforge.services.conversations.insights import insights

router = APIRouter(prefix="/insights")

PERIODS = (7, 14, 30)


@router.get("", response_class=HTMLResponse)
def insights_page(
    request: Request, db: DbDep, user: OwnerDep, chatbot: str = "", days: int = 14
) -> Response:
    period = days if days in PERIODS else 14
    found = insights(db, user.organization_id, period, chatbot or None)
    return render(
        request, "insights.html", data=found, days=period, periods=PERIODS, chatbot=chatbot,
        chatbots=workspace.chatbot_names(db, user.organization_id),
    )  # fmt: skip
