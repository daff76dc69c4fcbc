"""Insights: what visitors asked, what the knowledge could not answer, and their feedback."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from tests.console.helpers import Person
from tests.factories.chat import answer, conversations_path, make_store_bot

from chatforge.services.context import AppContext
from chatforge.storage.models import ChatMessage, ChatSession, MessageFeedback, utcnow

pytestmark = pytest.mark.usefixtures("reuse_embedder")


def _stat(page: str, label: str) -> str:
    found = re.search(rf'<div class="label">{label}</div><div class="value">([^<]+)<', page)
    assert found, label
    return found.group(1)


def test_insights_count_questions_unanswered_ones_and_feedback(
    owner: Person, person: Callable[..., Person], api: TestClient
) -> None:
    bot = make_store_bot(api)
    answer(api, bot["id"], "How many days do I have to return a product?", token="a")
    for token in ("b", "c"):
        answer(api, bot["id"], "Do you sell gift cards for submarines?", token=token)
    answered = answer(api, bot["id"], "When do you open?", token="d")
    message_id = answered["message"]["id"] if "message" in answered else None
    if message_id is None:  # the answer's message id, as the conversations API lists it
        messages = api.get(f"{conversations_path(bot['id'])}/{answered['session_id']}/messages")
        message_id = messages.json()["data"][-1]["id"]
    rated = api.post(
        f"{conversations_path(bot['id'])}/{answered['session_id']}/messages/{message_id}/feedback",
        json={"rating": "up"},
    )
    assert rated.status_code == 200, rated.text

    page = owner.client.get("/console/insights").text
    assert _stat(page, "Conversations") == "4" and _stat(page, "Questions") == "4"
    assert "2 of 4 answers" in page and _stat(page, "Not found in the knowledge") == "50%"
    assert "▲ 1" in page
    assert "Do you sell gift cards for submarines?" in page and "2×" in page
    link = f"/console/chatbots/{bot['id']}/knowledge?question=Do%20you%20sell%20gift%20cards"
    assert link in page
    # The link opens the Q&A form with the question filled in.
    form = owner.client.get(link.replace("%20", " ")).text
    assert 'name="question" value="Do you sell gift cards"' in form

    stranger = person("eve@globex.test", org="globex")
    assert _stat(stranger.client.get("/console/insights").text, "Conversations") == "0"
    agent = person("agent@acme.test", role="agent")
    assert agent.client.get("/console/insights").status_code == 403


def test_insights_show_the_median_answer_time_per_day(
    owner: Person, ctx: AppContext, create_chatbot: Callable[..., dict[str, Any]]
) -> None:
    bot = create_chatbot()
    now = utcnow()
    asked = max(now - timedelta(minutes=5), now.replace(hour=0, minute=0, second=0))
    with ctx.db.sessions() as session:
        for n, seconds in enumerate((2.0, 4.0, 9.0)):  # answered in 2, 4 and 9 s: median 4 s
            chat = ChatSession(chatbot_id=bot["id"], platform="web", sns_user_id=f"v{n}")
            session.add(chat)
            session.flush()
            session.add(ChatMessage(session_id=chat.id, sender_type="user", content="Hi?",
                                    created_at=asked))  # fmt: skip
            session.add(ChatMessage(session_id=chat.id, sender_type="bot", content="Hello.",
                                    created_at=asked + timedelta(seconds=seconds)))  # fmt: skip
        session.commit()
    page = owner.client.get("/console/insights").text
    assert _stat(page, "Median answer time") == "4.0 s"
    assert f"{asked.strftime('%d %b')}: 4.0 s" in page  # the day's bar says it too
    one = owner.client.get(f"/console/insights?chatbot={bot['id']}&days=7").text
    assert _stat(one, "Median answer time") == "4.0 s"


def test_past_days_follow_a_deleted_chatbot_and_a_changed_rating_at_once(
    owner: Person, api: TestClient, ctx: AppContext, create_chatbot: Callable[..., dict[str, Any]]
) -> None:
    kept, deleted = create_chatbot(name="Kept"), create_chatbot(name="Deleted")
    asked = utcnow() - timedelta(days=3)
    with ctx.db.sessions() as session:
        answers = []
        for n, bot in enumerate((kept, kept, deleted)):
            chat = ChatSession(chatbot_id=bot["id"], platform="web", sns_user_id=f"v{n}",
                               created_at=asked, updated_at=asked)  # fmt: skip
            session.add(chat)
            session.flush()
            session.add(ChatMessage(session_id=chat.id, sender_type="user", content="Hi?",
                                    created_at=asked))  # fmt: skip
            reply = ChatMessage(session_id=chat.id, sender_type="bot", content="Hello.",
                                created_at=asked)  # fmt: skip
            session.add(reply)
            session.flush()
            answers.append(reply.id)
        session.add(MessageFeedback(message_id=answers[0], rating="up", created_at=asked))
        session.commit()

    page = owner.client.get("/console/insights").text
    assert _stat(page, "Conversations") == "3" and _stat(page, "Questions") == "3"
    assert "▲ 1" in page and "▼ 0" in page

    # The visitor changes their mind about an answer of three days ago; a chatbot goes.
    with ctx.db.sessions() as session:
        rating = session.scalar(
            select(MessageFeedback).where(MessageFeedback.message_id == answers[0])
        )
        assert rating is not None
        rating.rating = "down"
        session.commit()
    assert api.delete(f"/api/external/chatbot/{deleted['id']}").status_code == 200

    page = owner.client.get("/console/insights").text
    assert _stat(page, "Conversations") == "2" and _stat(page, "Questions") == "2"
    assert "▲ 0" in page and "▼ 1" in page
    one = owner.client.get(f"/console/insights?chatbot={kept['id']}").text
    assert _stat(one, "Conversations") == "2"
