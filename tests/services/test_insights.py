"""Insights list what visitors asked that found nothing in their own words, never small talk."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.factories.chat import answer, make_store_bot

from chatforge.providers.chat import NOT_FOUND_ANSWER
from chatforge.services.context import AppContext
from chatforge.services.conversations.insights import Insights, forget_closed_days, insights
from chatforge.storage.models import Chatbot, ChatMessage, ChatSession, utcnow

pytestmark = pytest.mark.usefixtures("reuse_embedder")


def _of(ctx: AppContext, chatbot_id: str) -> Insights:
    """The chatbot's insights over the last week, counted afresh."""
    forget_closed_days()
    with ctx.db.sessions() as session:
        organization_id = session.get_one(Chatbot, chatbot_id).organization_id
        return insights(session, organization_id, 7, chatbot_id)


def _unanswered(found: Insights) -> dict[str, int]:
    return {question: times for _bot, _name, question, times in found.unanswered}


def test_unanswered_questions_are_shown_as_visitors_wrote_them(
    api: TestClient, ctx: AppContext
) -> None:
    bot = make_store_bot(api)
    # Two visitors, one spelling each: one question, written as the first wrote it.
    for token, words in (("a", "Do you sell gift cards for submarines?"),
                         ("b", "do you sell gift cards for  submarines?")):  # fmt: skip
        assert answer(api, bot["id"], words, token=token)["response"].startswith(NOT_FOUND_ANSWER)
    # A follow-up is searched merged with the question before it; its own words are listed.
    answer(api, bot["id"], "Do you rent out kayaks?", token="c")
    follow_up = answer(api, bot["id"], "How much does it cost?", token="c")
    assert follow_up["response"].startswith(NOT_FOUND_ANSWER)
    searched = follow_up["message"]["metadata"]["search_query"]
    assert searched == "Do you rent out kayaks? How much does it cost?"

    found = _of(ctx, bot["id"])

    assert _unanswered(found) == {
        "Do you sell gift cards for submarines?": 2,
        "Do you rent out kayaks?": 1,
        "How much does it cost?": 1,
    }
    assert found.total("not_found") == 4


def test_small_talk_answered_not_found_is_no_unanswered_question(
    ctx: AppContext, create_chatbot: Callable[..., dict[str, Any]]
) -> None:
    # What a model that does not recognise small talk (or an older Chatforge) answered.
    bot = create_chatbot()
    asked = utcnow() - timedelta(days=2)
    with ctx.db.sessions() as session:
        for n, words in enumerate(("Thanks, bye!", "Hello!", "Do you repair bicycles?")):
            chat = ChatSession(chatbot_id=bot["id"], platform="web", sns_user_id=f"v{n}",
                               created_at=asked, updated_at=asked)  # fmt: skip
            session.add(chat)
            session.flush()
            session.add(ChatMessage(session_id=chat.id, sender_type="user", content=words,
                                    created_at=asked))  # fmt: skip
            session.add(ChatMessage(session_id=chat.id, sender_type="bot", content=NOT_FOUND_ANSWER,
                                    created_at=asked + timedelta(seconds=1)))  # fmt: skip
        session.commit()

    found = _of(ctx, bot["id"])

    assert _unanswered(found) == {"Do you repair bicycles?": 1}
    assert found.total("answers") == 3 and found.total("not_found") == 1
