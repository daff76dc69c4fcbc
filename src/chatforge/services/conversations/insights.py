"""Insights: how an organization's chatbots are used, day by day, computed in the database.

Counts are grouped by UTC day over a recent period: conversations started, visitor messages,
answers and the answers that found nothing (those that begin with the offline model's
:data:`~chatforge.providers.chat.extractive.NOT_FOUND_ANSWER`), feedback up and down, the median
time a chatbot took to answer; and the questions asked most often that found nothing, in the
visitors' own words, to answer with a Q&A. A greeting, thanks or goodbye that got a not-found
answer (before small talk was recognised, or from a model that does not recognise it) is neither
such a question nor counted as not found.

Counting a month of a large organization's messages takes longer than a page may (the answer
times pair every question with its answer), and days before today do not change but when a
chatbot is deleted with its conversations: their counts are kept in memory with the set of
chatbots they came from (a deleted chatbot's conversations leave the page at once, in every
process), for :data:`CLOSED_DAYS_TTL` seconds at most, and a visit counts only today's messages.
Ratings, which change after their day, are counted on every visit.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, case, func, select
from sqlalchemy.orm import Session, aliased

from chatforge.providers.chat.extractive import NOT_FOUND_ANSWER
from chatforge.services.chat.small_talk import small_talk_reply
from chatforge.services.conversations.sessions import find_email, only_gives_email, without_email
from chatforge.storage.models import Chatbot, ChatMessage, ChatSession, MessageFeedback, utcnow

HIDDEN_PLATFORMS = ("playground",)
#: Seconds the counts of past days are kept before they are counted again.
CLOSED_DAYS_TTL = 600.0
_CACHE_SIZE = 256
#: An answer that came later than this after the question is not an answer time (a retry).
_LONGEST_ANSWER_S = 600
_NOT_FOUND = ChatMessage.content.startswith(NOT_FOUND_ANSWER, autoescape=True)


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
    #: Times each question found nothing, by ``(chatbot id, question folded to one case)``...
    unanswered: Counter[tuple[str, str]]
    #: ...and the question as a visitor wrote it.
    spelled: dict[tuple[str, str], str]


#: Closed days' counts by (database, organization, chatbot, period), with when they were
#: counted and the chatbots they were counted from.
_closed: dict[tuple[Any, ...], tuple[float, frozenset[str], _Counted]] = {}
_lock = threading.Lock()


def insights(
    session: Session, organization_id: str, days: int = 14, chatbot_id: str | None = None
) -> Insights:
    """The organization's (or one of its chatbots') insights over the last ``days`` days."""
    now = utcnow()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    since = today - timedelta(days=days - 1)
    # The organization's chatbots are read first, and conversations are scoped by their
    # chatbot id: the planner then knows how many there are (a join to ``chatbots`` made
    # PostgreSQL walk every conversation when it guessed one chatbot).
    named = select(Chatbot.id, Chatbot.name).where(Chatbot.organization_id == organization_id)
    if chatbot_id:
        named = named.where(Chatbot.id == chatbot_id)
    bots = {str(bot): str(name) for bot, name in session.execute(named)}
    scope: list[ColumnElement[bool]] = [
        ChatSession.chatbot_id.in_(sorted(bots)),
        ChatSession.platform.not_in(HIDDEN_PLATFORMS),
    ]
    closed = _closed_days(session, scope, bots, (organization_id, chatbot_id), since, today)
    live = _count(session, scope, bots, today, None)
    by_day = {
        since.date() + timedelta(days=n): Day(since.date() + timedelta(days=n)) for n in range(days)
    }
    by_day.update({d: replace(v) for d, v in closed.days.items() if d in by_day})
    by_day.update({d: v for d, v in live.days.items() if d in by_day})
    for day, ups, downs in _ratings(session, sorted(bots), since):
        if day in by_day:
            by_day[day].up, by_day[day].down = ups, downs
    unanswered = closed.unanswered + live.unanswered
    spelled = {**live.spelled, **closed.spelled}
    top = sorted(unanswered.items(), key=lambda pair: (-pair[1], spelled[pair[0]]))[:10]
    return Insights(
        days=[by_day[key] for key in sorted(by_day)],
        unanswered=[(bot, bots[bot], spelled[(bot, key)], n) for (bot, key), n in top],
    )


def forget_closed_days() -> None:
    """Drop the kept counts of past days (tests that write into the past)."""
    with _lock:
        _closed.clear()


def _closed_days(
    session: Session,
    scope: list[ColumnElement[bool]],
    bots: dict[str, str],
    who: tuple[str, str | None],
    since: datetime,
    today: datetime,
) -> _Counted:
    """The counts of the period's days before today, kept while they cannot have changed.

    Messages are only ever added, at the time they are written (``sessions.add_message``), and a
    conversation goes only with its chatbot: past days change only when one of the chatbots
    goes, so the counts are kept with the set of chatbots they were counted from, and for
    :data:`CLOSED_DAYS_TTL` seconds at most. (A way to delete one conversation would have to
    be part of this key too.)
    """
    key = (str(session.get_bind().engine.url), *who, since)
    chatbots = frozenset(bots)
    with _lock:
        kept = _closed.get(key)
    if kept and kept[1] == chatbots and time.monotonic() - kept[0] <= CLOSED_DAYS_TTL:
        return kept[2]
    found = _count(session, scope, bots, since, today)
    with _lock:
        if key not in _closed and len(_closed) >= _CACHE_SIZE:
            _closed.pop(next(iter(_closed)))
        _closed[key] = (time.monotonic(), chatbots, found)
    return found


def _day_of(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value)[:10])


def _count(
    session: Session,
    scope: list[ColumnElement[bool]],
    bots: dict[str, str],
    since: datetime,
    until: datetime | None,
) -> _Counted:
    """The conversations, messages, answer times and unanswered questions of ``[since, until)``
    (``until`` None: up to now); ratings are counted apart (:func:`_ratings`)."""
    by_day: dict[date, Day] = {}

    def during(column: Any) -> list[ColumnElement[bool]]:
        return [column >= since, *([column < until] if until is not None else [])]

    started = func.date(ChatSession.created_at)
    for day, total in session.execute(
        select(started, func.count())
        .where(*scope, *during(ChatSession.created_at))
        .group_by(started)
    ):
        by_day.setdefault(_day_of(day), Day(_day_of(day))).conversations = int(total)
    # A conversation's messages are never newer than its ``updated_at`` (adding one moves it):
    # only the conversations active since the period began are read, each by its own index.
    active = select(ChatSession.id).where(*scope, ChatSession.updated_at >= since)
    in_scope = [ChatMessage.session_id.in_(active), *during(ChatMessage.created_at)]
    histograms: dict[date, list[tuple[float, int]]] = {}
    for day, sender, missed, tenths, total in _messages(session, in_scope):
        row = by_day.setdefault(_day_of(day), Day(_day_of(day)))
        if sender == "user":
            row.questions += int(total)
        elif sender == "bot":
            row.answers += int(total)
            row.not_found += int(total) if missed else 0
            if tenths is not None:
                histograms.setdefault(row.day, []).append((float(tenths) / 10, int(total)))
    for key, values in histograms.items():
        by_day[key].answer_seconds = _median(values)
    unanswered, spelled, small_talk = _unanswered(session, bots, in_scope)
    for key, times in small_talk.items():
        if key in by_day:
            by_day[key].not_found = max(0, by_day[key].not_found - times)
    return _Counted(by_day, unanswered, spelled)


def _messages(session: Session, where: list[ColumnElement[bool]]) -> Any:
    """The messages counted in one pass: rows of (day, sender, "not found", tenths of a second
    since the visitor's question for an answer that follows one, how many).

    The answer times are counted to the tenth of a second (a histogram per day), so only a few
    rows come back whatever the number of messages.
    """
    by = ChatMessage.session_id
    rows = (
        select(
            ChatMessage.created_at.label("at"),
            ChatMessage.sender_type.label("sender"),
            case((_NOT_FOUND, 1), else_=0).label("missed"),
            func.lag(ChatMessage.created_at)
            .over(partition_by=by, order_by=ChatMessage.created_at)
            .label("previous_at"),
            func.lag(ChatMessage.sender_type)
            .over(partition_by=by, order_by=ChatMessage.created_at)
            .label("previous_sender"),
        )
        .where(*where)
        .subquery()
    )
    if session.get_bind().dialect.name == "sqlite":
        gap: Any = (func.julianday(rows.c.at) - func.julianday(rows.c.previous_at)) * 86400.0
    else:
        gap = func.extract("epoch", rows.c.at - rows.c.previous_at)
    answer = (rows.c.sender == "bot") & (rows.c.previous_sender == "user")
    tenths = case((answer & (gap >= 0) & (gap <= _LONGEST_ANSWER_S), func.round(gap * 10)))
    day = func.date(rows.c.at)
    return session.execute(
        select(day, rows.c.sender, rows.c.missed, tenths, func.count()).group_by(
            day, rows.c.sender, rows.c.missed, tenths
        )
    )


def _unanswered(
    session: Session, bots: dict[str, str], in_scope: list[ColumnElement[bool]]
) -> tuple[Counter[tuple[str, str]], dict[tuple[str, str], str], Counter[date]]:
    """The questions whose answer found nothing, in the visitor's own words, by chatbot (see
    :class:`_Counted`); and by day, the not-found answers that replied to mere small talk
    ("Thanks, bye!"), which are no question the knowledge missed.

    The question is the visitor's last message before the answer, not what was searched (which
    is lower-cased and, for a follow-up, merged with the question before it): it is what the
    owner recognises, and what the Q&A the page links to should answer. Spellings that differ
    only in case or spacing are counted as one, shown as the first found.
    """
    asked_by = aliased(ChatMessage)
    asked = (
        select(asked_by.content)
        .where(
            asked_by.session_id == ChatMessage.session_id,
            asked_by.sender_type == "user",
            asked_by.created_at <= ChatMessage.created_at,
        )
        .order_by(asked_by.created_at.desc())
        .limit(1)
        .correlate(ChatMessage)
        .scalar_subquery()
    )
    missed = (
        select(
            func.date(ChatMessage.created_at).label("day"),
            ChatSession.chatbot_id.label("bot"),
            asked.label("question"),
        )
        .join(ChatSession, ChatSession.id == ChatMessage.session_id)
        .where(*in_scope, ChatMessage.sender_type == "bot", _NOT_FOUND)
        .subquery()
    )
    # Grouped and sorted here: SQLite would run the subquery again for each clause naming it.
    rows = session.execute(
        select(missed.c.day, missed.c.bot, missed.c.question, func.count()).group_by(
            missed.c.day, missed.c.bot, missed.c.question
        )
    ).all()
    found: Counter[tuple[str, str]] = Counter()
    spelled: dict[tuple[str, str], str] = {}
    small_talk: Counter[date] = Counter()
    for day, bot_id, text, times in sorted(rows, key=lambda row: str(row[2] or "")):
        question = " ".join(str(text or "").split())
        if not question or bot_id not in bots:
            continue
        if small_talk_reply(question, "") is not None:
            small_talk[_day_of(day)] += int(times)
            continue
        if find_email(question) and only_gives_email(question):
            continue  # an answer to the question asked before the address: not these words
        question = without_email(question)
        key = (str(bot_id), question.casefold())
        spelled.setdefault(key, question)
        found[key] += int(times)
    return found, spelled, small_talk


def _ratings(session: Session, bots: list[str], since: datetime) -> list[tuple[date, int, int]]:
    """Each day's ratings up and down since ``since`` (counted on every visit: a rating can
    change after its day, and the feedback table is small)."""
    rated = func.date(MessageFeedback.created_at)
    up = func.sum(case((MessageFeedback.rating == "up", 1), else_=0))
    down = func.sum(case((MessageFeedback.rating == "down", 1), else_=0))
    # The chatbot id is wrapped (``|| ''``) so that no index on it is used: the database starts
    # from the period's ratings, not from every conversation of the organization.
    rows = session.execute(
        select(rated, up, down)
        .join(ChatMessage, ChatMessage.id == MessageFeedback.message_id)
        .join(ChatSession, ChatSession.id == ChatMessage.session_id)
        .where((ChatSession.chatbot_id + "").in_(bots))
        .where(ChatSession.platform.not_in(HIDDEN_PLATFORMS))
        .where(MessageFeedback.created_at >= since)
        .group_by(rated)
    )
    return [(_day_of(day), int(ups or 0), int(downs or 0)) for day, ups, downs in rows]


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
