"""Insights: how an organization's chatbots are used, day by day, computed in the database.

Counts are grouped by UTC day over a recent period: conversations started, visitor messages,
answers and the answers that found nothing (those that begin with the offline model's
:data:`~chatforge.providers.chat.extractive.NOT_FOUND_ANSWER`), feedback up and down; and
the questions asked most often that found nothing, to answer with a Q&A.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from chatforge.providers.chat.extractive import NOT_FOUND_ANSWER
from chatforge.storage.models import Chatbot, ChatMessage, ChatSession, MessageFeedback, utcnow

HIDDEN_PLATFORMS = ("playground",)


@dataclass
class Day:
    """One day's counts."""

    day: date
    conversations: int = 0
    questions: int = 0
    answers: int = 0
    not_found: int = 0
    up: int = 0
    down: int = 0


@dataclass
class Insights:
    """A period's counts by day, its totals and its most frequent unanswered questions."""

    days: list[Day]
    #: ``(chatbot id, chatbot name, question, times)``, most frequent first.
    unanswered: list[tuple[str, str, str, int]] = field(default_factory=list)

    def total(self, name: str) -> int:
        """The period's total of one count (``conversations``, ``answers``...)."""
        return sum(int(getattr(day, name)) for day in self.days)

    @property
    def not_found_share(self) -> float:
        """The share of answers that found nothing in the knowledge (0 without answers)."""
        answers = self.total("answers")
        return self.total("not_found") / answers if answers else 0.0

    def peak(self, *names: str) -> int:
        """The largest daily value of these counts (at least 1, to scale charts)."""
        return max([1, *(int(getattr(day, n)) for day in self.days for n in names)])


def insights(
    session: Session, organization_id: str, days: int = 14, chatbot_id: str | None = None
) -> Insights:
    """The organization's (or one of its chatbots') insights over the last ``days`` days."""
    today = utcnow().date()
    first = today - timedelta(days=days - 1)
    since = utcnow().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=days - 1)
    scope = [Chatbot.organization_id == organization_id]
    scope.append(ChatSession.platform.not_in(HIDDEN_PLATFORMS))
    if chatbot_id:
        scope.append(Chatbot.id == chatbot_id)
    by_day = {first + timedelta(days=n): Day(first + timedelta(days=n)) for n in range(days)}

    def count(query: Select[Any], attribute: str) -> None:
        for day, total in session.execute(query):
            key = day if isinstance(day, date) else date.fromisoformat(str(day)[:10])
            if key in by_day:
                setattr(by_day[key], attribute, int(total))

    started = func.date(ChatSession.created_at)
    sessions = (
        select(started, func.count())
        .join(Chatbot, Chatbot.id == ChatSession.chatbot_id)
        .where(*scope, ChatSession.created_at >= since)
        .group_by(started)
    )
    count(sessions, "conversations")
    sent = func.date(ChatMessage.created_at)
    messages = (
        select(sent, func.count())
        .join(ChatSession, ChatSession.id == ChatMessage.session_id)
        .join(Chatbot, Chatbot.id == ChatSession.chatbot_id)
        .where(*scope, ChatMessage.created_at >= since)
        .group_by(sent)
    )
    not_found = ChatMessage.content.startswith(NOT_FOUND_ANSWER, autoescape=True)
    count(messages.where(ChatMessage.sender_type == "user"), "questions")
    count(messages.where(ChatMessage.sender_type == "bot"), "answers")
    count(messages.where(ChatMessage.sender_type == "bot", not_found), "not_found")
    rated = func.date(MessageFeedback.created_at)
    feedback = (
        select(rated, func.count())
        .join(ChatMessage, ChatMessage.id == MessageFeedback.message_id)
        .join(ChatSession, ChatSession.id == ChatMessage.session_id)
        .join(Chatbot, Chatbot.id == ChatSession.chatbot_id)
        .where(*scope, MessageFeedback.created_at >= since)
        .group_by(rated)
    )
    count(feedback.where(MessageFeedback.rating == "up"), "up")
    count(feedback.where(MessageFeedback.rating == "down"), "down")
    question = func.lower(ChatMessage.meta["search_query"].as_string())
    unanswered = session.execute(
        select(Chatbot.id, Chatbot.name, question, func.count())
        .join(ChatSession, ChatSession.id == ChatMessage.session_id)
        .join(Chatbot, Chatbot.id == ChatSession.chatbot_id)
        .where(*scope, ChatMessage.created_at >= since, ChatMessage.sender_type == "bot")
        .where(not_found, question.is_not(None))
        .group_by(Chatbot.id, Chatbot.name, question)
        .order_by(func.count().desc(), question)
        .limit(10)
    )
    return Insights(
        days=[by_day[key] for key in sorted(by_day)],
        unanswered=[
            (str(i), str(name), str(text), int(n)) for i, name, text, n in unanswered if text
        ],
    )
