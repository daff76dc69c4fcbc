"""Insights: how an organization's chatbots are used, day by day, computed in the database.

Counts are grouped by UTC day over a recent period: conversations started, visitor messages,
answers and the answers that found nothing (those that begin with the offline model's
:data:`~chatforge.providers.chat.extractive.NOT_FOUND_ANSWER`), feedback up and down, the median
time a chatbot took to answer; and the questions asked most often that found nothing, to answer
with a Q&A.

Days before today no longer change (but for a deleted conversation): their counts are kept in
memory for :data:`CLOSED_DAYS_TTL` seconds, so a page counts only today's rows on each visit.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session

from chatforge.providers.chat.extractive import NOT_FOUND_ANSWER
from chatforge.storage.models import Chatbot, ChatMessage, ChatSession, MessageFeedback, utcnow

HIDDEN_PLATFORMS = ("playground",)
#: Seconds the counts of past days are kept before they are counted again.
CLOSED_DAYS_TTL = 600.0
_CACHE_SIZE = 256
#: An answer that came later than this after the question is not an answer time (a retry).
_LONGEST_ANSWER_S = 600


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
    #: The median seconds between a visitor's question and the chatbot's answer (None: none).
    answer_seconds: float | None = None


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

    @property
    def median_answer_seconds(self) -> float | None:
        """The median of the days' median answer times (None when no day has one)."""
        values = sorted(d.answer_seconds for d in self.days if d.answer_seconds is not None)
        if not values:
            return None
        middle = len(values) // 2
        return values[middle] if len(values) % 2 else (values[middle - 1] + values[middle]) / 2

    @property
    def answer_peak(self) -> float:
        """The slowest day's median answer time (at least 0.1 s, to scale a chart)."""
        return max([0.1, *(d.answer_seconds or 0.0 for d in self.days)])

    def peak(self, *names: str) -> int:
        """The largest daily value of these counts (at least 1, to scale charts)."""
        return max([1, *(int(getattr(day, n)) for day in self.days for n in names)])


@dataclass
class _Counted:
    days: dict[date, Day]
    unanswered: Counter[tuple[str, str, str]]


_closed: dict[tuple[Any, ...], tuple[float, _Counted]] = {}
_lock = threading.Lock()


def insights(
    session: Session, organization_id: str, days: int = 14, chatbot_id: str | None = None
) -> Insights:
    """The organization's (or one of its chatbots') insights over the last ``days`` days."""
    now = utcnow()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    since = today - timedelta(days=days - 1)
    scope: list[ColumnElement[bool]] = [
        Chatbot.organization_id == organization_id,
        ChatSession.platform.not_in(HIDDEN_PLATFORMS),
    ]
    if chatbot_id:
        scope.append(Chatbot.id == chatbot_id)
    key = (str(session.get_bind().engine.url), organization_id, chatbot_id, since, today)
    with _lock:
        cached = _closed.get(key)
    if cached is None or time.monotonic() - cached[0] > CLOSED_DAYS_TTL:
        cached = (time.monotonic(), _count(session, scope, since, today))
        with _lock:
            if len(_closed) >= _CACHE_SIZE:
                _closed.pop(next(iter(_closed)))
            _closed[key] = cached
    closed = cached[1]
    live = _count(session, scope, today, None)
    by_day = {
        since.date() + timedelta(days=n): Day(since.date() + timedelta(days=n)) for n in range(days)
    }
    by_day.update({d: v for d, v in closed.days.items() if d in by_day})
    by_day.update({d: v for d, v in live.days.items() if d in by_day})
    unanswered = closed.unanswered + live.unanswered
    top = sorted(unanswered.items(), key=lambda pair: (-pair[1], pair[0][2]))[:10]
    return Insights(
        days=[by_day[key] for key in sorted(by_day)],
        unanswered=[(bot, name, text, n) for (bot, name, text), n in top],
    )


def forget_closed_days() -> None:
    """Drop the kept counts of past days (tests that write into the past)."""
    with _lock:
        _closed.clear()


def _count(
    session: Session, scope: list[ColumnElement[bool]], since: datetime, until: datetime | None
) -> _Counted:
    """Every count of the rows made in ``[since, until)`` (``until`` None: up to now)."""
    by_day: dict[date, Day] = {}

    def day_of(value: object) -> Day:
        key = value if isinstance(value, date) else date.fromisoformat(str(value)[:10])
        return by_day.setdefault(key, Day(key))

    def during(column: Any) -> list[ColumnElement[bool]]:
        return [column >= since, *([column < until] if until is not None else [])]

    # Messages are scoped by their session (not by joins through the chatbot), and the
    # session id is wrapped (``|| ''``) so that no index on it is used: the database then walks
    # the period's messages by their time, not every conversation of the organization.
    sessions_in_scope = (
        select(ChatSession.id).join(Chatbot, Chatbot.id == ChatSession.chatbot_id).where(*scope)
    )
    in_scope = (ChatMessage.session_id + "").in_(sessions_in_scope)
    started = func.date(ChatSession.created_at)
    for day, total in session.execute(
        select(started, func.count())
        .join(Chatbot, Chatbot.id == ChatSession.chatbot_id)
        .where(*scope, *during(ChatSession.created_at))
        .group_by(started)
    ):
        day_of(day).conversations = int(total)

    def of_sender(sender: str, extra: ColumnElement[bool] | None = None) -> Any:
        condition = ChatMessage.sender_type == sender
        if extra is not None:
            condition = condition & extra
        return func.sum(case((condition, 1), else_=0))

    not_found = ChatMessage.content.startswith(NOT_FOUND_ANSWER, autoescape=True)
    sent = func.date(ChatMessage.created_at)
    messages = (
        select(sent, of_sender("user"), of_sender("bot"), of_sender("bot", not_found))
        .where(in_scope, *during(ChatMessage.created_at))
        .group_by(sent)
    )
    for day, questions, answers, missed in session.execute(messages):
        row = day_of(day)
        row.questions, row.answers, row.not_found = int(questions), int(answers), int(missed)
    rated = func.date(MessageFeedback.created_at)
    up = func.sum(case((MessageFeedback.rating == "up", 1), else_=0))
    down = func.sum(case((MessageFeedback.rating == "down", 1), else_=0))
    for day, ups, downs in session.execute(
        select(rated, up, down)
        .join(ChatMessage, ChatMessage.id == MessageFeedback.message_id)
        .where(in_scope, *during(MessageFeedback.created_at))
        .group_by(rated)
    ):
        day_of(day).up, day_of(day).down = int(ups), int(downs)
    for day, median in _answer_times(
        # (here by session: the answer times pair each session's messages in order)
        session,
        [ChatMessage.session_id.in_(sessions_in_scope), *during(ChatMessage.created_at)],
    ).items():
        day_of(day).answer_seconds = median
    question = func.lower(ChatMessage.meta["search_query"].as_string())
    unanswered: Counter[tuple[str, str, str]] = Counter()
    for bot_id, name, text, times in session.execute(
        select(Chatbot.id, Chatbot.name, question, func.count())
        .join(ChatSession, ChatSession.id == ChatMessage.session_id)
        .join(Chatbot, Chatbot.id == ChatSession.chatbot_id)
        .where(in_scope, *during(ChatMessage.created_at), ChatMessage.sender_type == "bot")
        .where(not_found, question.is_not(None))
        .group_by(Chatbot.id, Chatbot.name, question)
        .order_by(func.count().desc(), question)
        .limit(200)
    ):
        if text:
            unanswered[(str(bot_id), str(name), str(text))] = int(times)
    return _Counted(by_day, unanswered)


def _answer_times(session: Session, where: list[ColumnElement[bool]]) -> dict[date, float]:
    """Each day's median seconds from a visitor's message to the chatbot's answer after it.

    The gaps are counted in the database to the tenth of a second (a histogram per day), so
    only a few rows come back whatever the number of messages.
    """
    previous_at = func.lag(ChatMessage.created_at).over(
        partition_by=ChatMessage.session_id, order_by=ChatMessage.created_at
    )
    previous_sender = func.lag(ChatMessage.sender_type).over(
        partition_by=ChatMessage.session_id, order_by=ChatMessage.created_at
    )
    pairs = (
        select(
            ChatMessage.created_at.label("at"),
            ChatMessage.sender_type.label("sender"),
            previous_at.label("previous_at"),
            previous_sender.label("previous_sender"),
        )
        .where(*where)
        .subquery()
    )
    if session.get_bind().dialect.name == "sqlite":
        gap: Any = (func.julianday(pairs.c.at) - func.julianday(pairs.c.previous_at)) * 86400.0
    else:
        gap = func.extract("epoch", pairs.c.at - pairs.c.previous_at)
    tenths = func.round(gap * 10)
    day = func.date(pairs.c.at)
    rows = session.execute(
        select(day, tenths, func.count())
        .where(pairs.c.sender == "bot", pairs.c.previous_sender == "user")
        .where(gap >= 0, gap <= _LONGEST_ANSWER_S)
        .group_by(day, tenths)
    )
    histograms: dict[date, list[tuple[float, int]]] = {}
    for when, tenth, count in rows:
        key = when if isinstance(when, date) else date.fromisoformat(str(when)[:10])
        histograms.setdefault(key, []).append((float(tenth) / 10, int(count)))
    return {key: _median(values) for key, values in histograms.items()}


def _median(histogram: list[tuple[float, int]]) -> float:
    """The median of values given as ``(value, how many)``."""
    ordered = sorted(histogram)
    total = sum(n for _, n in ordered)
    low, high = (total - 1) // 2, total // 2  # the middle rank(s), from 0
    seen, found = 0, []
    for value, n in ordered:
        for rank in (low, high):
            if seen <= rank < seen + n:
                found.append(value)
        seen += n
    return sum(found) / len(found)
