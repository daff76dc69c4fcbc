"""Reproducible answer evaluation on a SQuAD v1.1-format file, through the real chat service.

Every paragraph becomes one text item titled by its article and goes through the real pipeline
(knowledge items -> jobs -> worker) into a fresh chatbot whose model is ``extractive``; every
question is then asked through :meth:`ChatService.answer`, the non-streaming path of the chat
endpoint, in a new session each. The figures describe the product, not a lookalike:

- recall@1 / recall@5: the gold paragraph is the first / among the first five passages that
  retrieval returns for the question with the chatbot's settings (what the chat searches; the
  extractive model then reads those at or above its similarity floor);
- answer-in-context@5: a gold answer occurs (after SQuAD's normalisation) in one of those passages;
- exact match and token F1 of the answer (citation markers removed) with SQuAD's normalisation;
- valid citations: every ``[n]`` in the answer names a source retrieved for that answer;
- abstention: the share of questions whose answer is not in the knowledge base that are answered
  with :data:`NOT_FOUND_ANSWER`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import anyio

from chatforge.providers.chat.extractive import is_not_found
from chatforge.rag.metrics import exact_match, normalize_answer, percentile, token_f1
from chatforge.services.accounts import keys
from chatforge.services.chat.service import ChatService, Incoming, IncomingMessage
from chatforge.services.chatbots.service import ChatbotService
from chatforge.services.context import AppContext
from chatforge.services.knowledge.service import KnowledgeService
from chatforge.services.knowledge.worker import Worker
from chatforge.services.search.query import Hit, QueryService

Progress = Callable[[str, int, int], None]

#: The goals of issue 5's benchmarks.
GOALS = {"recall_at_5": 0.95, "abstention": 0.9, "citations_valid": 1.0}

_BATCH = 500
_CITATION = re.compile(r"\[(\d+)\]")
_PLATFORM = "eval"


@dataclass(frozen=True)
class Question:
    """One SQuAD question; ``paragraph`` is the index of its paragraph in the file."""

    id: str
    text: str
    answers: tuple[str, ...]
    paragraph: int


@dataclass(frozen=True)
class Paragraph:
    """One SQuAD paragraph and its article."""

    article: int
    title: str
    context: str


@dataclass(frozen=True)
class Squad:
    """A SQuAD file: its paragraphs and questions, in file order."""

    paragraphs: list[Paragraph]
    questions: list[Question]

    @property
    def articles(self) -> int:
        """How many articles the file has."""
        return len({p.article for p in self.paragraphs})


@dataclass(frozen=True)
class AnswerReport:
    """The figures of one answer evaluation."""

    articles: int
    paragraphs: int
    questions: int
    recall_at_1: float
    recall_at_5: float
    answer_in_context_at_5: float
    exact_match: float
    f1: float
    not_found_share: float
    citations_valid: float
    abstain_questions: int
    abstention: float | None
    chat_p50_ms: float
    chat_p95_ms: float
    ingest_seconds: float
    database: str
    goals: dict[str, bool] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """Whether every goal that was measured is met."""
        return all(self.goals.values())

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values."""
        return {**asdict(self), "passed": self.passed}


def read_squad(path: Path) -> Squad:
    """The paragraphs and questions of a SQuAD v1.1-format JSON file."""
    data = json.loads(path.read_text(encoding="utf-8"))
    paragraphs: list[Paragraph] = []
    questions: list[Question] = []
    for article, entry in enumerate(data["data"]):
        title = str(entry.get("title") or f"article {article + 1}").replace("_", " ")
        for paragraph in entry["paragraphs"]:
            index = len(paragraphs)
            paragraphs.append(Paragraph(article, title, str(paragraph["context"])))
            for qa in paragraph.get("qas", []):
                answers = tuple(dict.fromkeys(str(a["text"]) for a in qa.get("answers", [])))
                questions.append(Question(str(qa["id"]), str(qa["question"]), answers, index))
    return Squad(paragraphs, questions)


def split_holdout(squad: Squad, articles: int) -> tuple[Squad, list[Question]]:
    """The file without its last ``articles`` articles, and the held-out articles' questions."""
    if articles <= 0:
        return squad, []
    ordered = list(dict.fromkeys(p.article for p in squad.paragraphs))
    if articles >= len(ordered):
        raise ValueError(f"cannot hold out {articles} of {len(ordered)} articles")
    held = set(ordered[-articles:])
    kept_paragraphs = [i for i, p in enumerate(squad.paragraphs) if p.article not in held]
    renumber = {old: new for new, old in enumerate(kept_paragraphs)}
    kept = Squad(
        [squad.paragraphs[i] for i in kept_paragraphs],
        [
            Question(q.id, q.text, q.answers, renumber[q.paragraph])
            for q in squad.questions
            if q.paragraph in renumber
        ],
    )
    others = [q for q in squad.questions if q.paragraph not in renumber]
    return kept, others


def spread(questions: Sequence[Question], limit: int | None) -> list[Question]:
    """At most ``limit`` questions, spread evenly over the list (every article gets some)."""
    if limit is None or limit >= len(questions):
        return list(questions)
    if limit <= 0:
        return []
    return [questions[i * len(questions) // limit] for i in range(limit)]


def answer_text(response: str) -> str:
    """The answer as SQuAD scores it: without citation markers and cut marks."""
    return " ".join(_CITATION.sub(" ", response).replace("…", " ").split())


def citations_valid(response: str, refs: set[int]) -> bool:
    """Whether every ``[n]`` in ``response`` names one of the retrieved sources."""
    return all(int(n) in refs for n in _CITATION.findall(response))


@dataclass
class _Tally:
    recall_1: list[float] = field(default_factory=list)
    recall_5: list[float] = field(default_factory=list)
    in_context: list[float] = field(default_factory=list)
    em: list[float] = field(default_factory=list)
    f1: list[float] = field(default_factory=list)
    not_found: list[float] = field(default_factory=list)
    citations: list[float] = field(default_factory=list)
    abstained: list[float] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)


def evaluate_answers(
    ctx: AppContext,
    *,
    squad: Squad,
    abstain: Sequence[Question] = (),
    limit_questions: int | None = None,
    progress: Progress | None = None,
) -> AnswerReport:
    """Ingest ``squad``'s paragraphs into a new chatbot, then ask its questions by chat.

    ``abstain`` questions have no answer in the knowledge base: the chatbot should say
    :data:`NOT_FOUND_ANSWER`. ``limit_questions`` caps each question set, spread evenly.
    """
    report = progress or (lambda _stage, _done, _total: None)
    with ctx.db.sessions() as session:
        organization = keys.get_or_create_organization(session, "chatforge-eval")
        session.commit()
        organization_id = organization.id
        chatbot_id = (
            ChatbotService(ctx, session, organization_id)
            .create(
                {
                    "name": f"answers {time.strftime('%Y-%m-%d %H:%M:%S')}",
                    "settings": {"model": "extractive"},
                }
            )
            .id
        )
    started = time.perf_counter()
    paragraphs_of_item = _ingest(ctx, organization_id, chatbot_id, squad.paragraphs, report)
    ingest_seconds = time.perf_counter() - started
    ctx.models.search_index.forget_statistics()

    answerable = spread(squad.questions, limit_questions)
    unanswerable = spread(abstain, limit_questions)
    tally = _Tally()
    chat = ChatService(ctx, organization_id)
    retrieval = QueryService(ctx, organization_id)

    async def ask_all() -> None:
        total = len(answerable) + len(unanswerable)
        for number, question in enumerate([*answerable, *unanswerable], start=1):
            began = time.perf_counter()
            answer = await chat.answer(
                chatbot_id,
                [IncomingMessage("user", question.text)],
                Incoming(chatbot_id, _PLATFORM, None),
            )
            tally.latencies.append((time.perf_counter() - began) * 1000)
            response = answer.response or ""
            sources = answer.sources
            tally.citations.append(float(citations_valid(response, {s.ref for s in sources})))
            if number > len(answerable):
                tally.abstained.append(float(is_not_found(response)))
            else:
                hits = retrieval.query(chatbot_id, question.text)
                _score(tally, question, response, hits, paragraphs_of_item)
            report("ask", number, total)

    anyio.run(ask_all)

    def mean(values: list[float]) -> float:
        return round(sum(values) / len(values), 4) if values else 0.0

    abstention = mean(tally.abstained) if unanswerable else None
    figures = {
        "recall_at_5": mean(tally.recall_5),
        "abstention": abstention,
        "citations_valid": mean(tally.citations),
    }
    goals = {name: value >= GOALS[name] for name, value in figures.items() if value is not None}
    return AnswerReport(
        articles=squad.articles,
        paragraphs=len(squad.paragraphs),
        questions=len(answerable),
        recall_at_1=mean(tally.recall_1),
        recall_at_5=mean(tally.recall_5),
        answer_in_context_at_5=mean(tally.in_context),
        exact_match=mean(tally.em),
        f1=mean(tally.f1),
        not_found_share=mean(tally.not_found),
        citations_valid=mean(tally.citations),
        abstain_questions=len(unanswerable),
        abstention=abstention,
        chat_p50_ms=round(percentile(tally.latencies, 50), 1),
        chat_p95_ms=round(percentile(tally.latencies, 95), 1),
        ingest_seconds=round(ingest_seconds, 1),
        database=ctx.db.engine.dialect.name,
        goals=goals,
    )


def _ingest(
    ctx: AppContext,
    organization_id: str,
    chatbot_id: str,
    paragraphs: Sequence[Paragraph],
    report: Progress,
) -> dict[str, set[int]]:
    """Add every paragraph as a text item and index them; the paragraphs of each item.

    Two paragraphs with the same title and text are one item (the service deduplicates them),
    so an item may stand for several paragraphs.
    """
    paragraphs_of_item: dict[str, set[int]] = {}
    for start in range(0, len(paragraphs), _BATCH):
        batch = paragraphs[start : start + _BATCH]
        with ctx.db.sessions() as session:
            items = KnowledgeService(ctx, session, organization_id).add_sources(
                chatbot_id,
                [{"type": "text", "title": p.title, "content": p.context} for p in batch],
            )
            ids = [item.id for item in items]
        for offset, item_id in enumerate(ids):
            paragraphs_of_item.setdefault(item_id, set()).add(start + offset)
        report("record", start + len(batch), len(paragraphs))
    worker = Worker(ctx)
    done = 0
    while processed := worker.run_once():
        done += processed
        report("index", done, len(paragraphs_of_item))
    return paragraphs_of_item


def _score(
    tally: _Tally,
    question: Question,
    response: str,
    hits: Sequence[Hit],
    paragraphs_of_item: dict[str, set[int]],
) -> None:
    ranked = [paragraphs_of_item.get(h.knowledge_id, set()) for h in hits]
    tally.recall_1.append(float(bool(ranked) and question.paragraph in ranked[0]))
    tally.recall_5.append(float(any(question.paragraph in found for found in ranked[:5])))
    golds = [normalize_answer(a) for a in question.answers]
    passages = [normalize_answer(h.content) for h in hits[:5]]
    tally.in_context.append(float(any(g and f" {g} " in f" {p} " for g in golds for p in passages)))
    not_found = is_not_found(response)
    tally.not_found.append(float(not_found))
    prediction = "" if not_found else answer_text(response)
    tally.em.append(exact_match(prediction, question.answers))
    tally.f1.append(token_f1(prediction, question.answers))
