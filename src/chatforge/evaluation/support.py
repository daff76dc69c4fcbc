"""The support evaluation: fictional companies' knowledge, asked as customers ask.

A directory holds one folder per company::

    COMPANY/company.json      {"name": ..., "split": "fit" | "dev" | "held-out", "about": ...}
    COMPANY/knowledge/*       the files a support team would upload (PDF, DOCX, XLSX, CSV,
                              Markdown, HTML...); ``qna.json`` is a list of Q&A pairs
                              ({"question", "answer"}) added as Q&A items instead
    COMPANY/questions.jsonl   one labelled question a line (:class:`SupportQuestion`)

Every company's knowledge goes into a fresh chatbot through the real pipeline (knowledge
service, jobs, worker); every question is asked through :meth:`ChatService.answer` with the
chatbot's model (the offline ``extractive`` one by default), a follow-up after its earlier
turns. Each answer is judged (:func:`judge`):

- answered-correct: an answerable question got an answer holding every labelled fact;
- cited-correct: of the correct answers, those whose citations are all valid and name a passage
  of a labelled source file;
- abstention: an unanswerable question got the not-found reply;
- harmful: an unanswerable question got a claim instead: an answer that starts with a bare
  yes or no, or holds one of the tempting wrong facts labelled for it (its ``traps``);
- flagged: of the answers given (not "not found"), those the chat service flagged for their
  citations (``metadata.citations``: a marker naming no source, a source that does not hold the
  sentence citing it, or no citation at all; :mod:`chatforge.rag.citations`).
"""

from __future__ import annotations

import json
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import anyio

from chatforge.providers.chat.extractive import is_not_found
from chatforge.rag.metrics import percentile
from chatforge.services.accounts import keys
from chatforge.services.chat.service import ChatService, Incoming, IncomingMessage
from chatforge.services.chatbots.service import ChatbotService
from chatforge.services.context import AppContext
from chatforge.services.knowledge.service import KnowledgeService, Upload
from chatforge.services.knowledge.worker import Worker

Progress = Callable[[str, int, int], None]

#: Issue 16's goals, on the held-out companies.
GOALS = {"answered_correct": 0.85, "abstention": 0.95, "harmful": 0.0, "cited_correct": 0.95}
QNA_FILE = "qna.json"
#: A company's ``split``: fitted on, looked at while developing, or never looked at.
SPLITS = ("fit", "dev", "held-out")
_PLATFORM = "eval-support"
_CITATION = re.compile(r"\[(\d+)\]")
_DIGIT_COMMA = re.compile(r"(?<=\d),(?=\d{3})")
_NOT_KEPT = re.compile(r"[^a-z0-9%@.\-]+")
_YES_NO = re.compile(r"\A\W*(?:yes|no)\b", re.IGNORECASE)


@dataclass(frozen=True)
class SupportQuestion:
    """One labelled question.

    ``facts`` are what a right answer must hold, each a tuple of alternatives; ``sources`` the
    file names (in ``knowledge/``) a right answer may cite; ``history`` the user's earlier turns
    of a follow-up; ``traps`` the tempting wrong facts of an unanswerable question.
    """

    id: str
    company: str
    text: str
    answerable: bool
    kind: str = ""
    facts: tuple[tuple[str, ...], ...] = ()
    sources: tuple[str, ...] = ()
    history: tuple[str, ...] = ()
    traps: tuple[str, ...] = ()


@dataclass(frozen=True)
class Company:
    """One fictional company: its knowledge folder and its questions."""

    slug: str
    name: str
    split: str
    knowledge: Path
    questions: tuple[SupportQuestion, ...]


@dataclass(frozen=True)
class Outcome:
    """How one question was answered, and the verdicts."""

    id: str
    company: str
    split: str
    kind: str
    answerable: bool
    question: str
    answer: str
    abstained: bool
    correct: bool
    cited: bool
    harmful: bool
    latency_ms: float
    flagged: bool = False


@dataclass(frozen=True)
class Figures:
    """The four figures of one group of companies."""

    companies: int
    answerable: int
    unanswerable: int
    answered_correct: float
    cited_correct: float
    abstention: float
    harmful: float
    harmful_count: int
    chat_p50_ms: float
    chat_p95_ms: float
    flagged: float = 0.0


@dataclass(frozen=True)
class SupportReport:
    """The evaluation's figures per split (``fit``, ``dev``, ``held-out``, ``all``) and every
    outcome."""

    splits: dict[str, Figures]
    outcomes: list[Outcome] = field(default_factory=list)
    database: str = ""
    ingest_seconds: float = 0.0

    def goals(self, split: str = "held-out") -> dict[str, bool]:
        """Which of :data:`GOALS` the ``split``'s figures meet."""
        figures = self.splits.get(split)
        if figures is None:
            return {}
        return {
            name: (
                getattr(figures, name) <= goal
                if name == "harmful"
                else getattr(figures, name) >= goal
            )
            for name, goal in GOALS.items()
        }

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values (outcomes included)."""
        return {
            "splits": {name: asdict(f) for name, f in self.splits.items()},
            "goals": self.goals(),
            "database": self.database,
            "ingest_seconds": self.ingest_seconds,
            "outcomes": [asdict(o) for o in self.outcomes],
        }


def read_companies(root: Path) -> list[Company]:
    """The companies under ``root``, in name order.

    Raises:
        ValueError: A folder lacks ``company.json``, ``knowledge/`` or ``questions.jsonl``, or a
            question line is malformed (the message names the file and line).
    """
    companies = []
    for folder in sorted(p for p in root.iterdir() if p.is_dir()):
        meta_path, knowledge = folder / "company.json", folder / "knowledge"
        questions_path = folder / "questions.jsonl"
        for needed in (meta_path, knowledge, questions_path):
            if not needed.exists():
                raise ValueError(f"{needed} is missing")
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        questions = []
        for number, line in enumerate(questions_path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                questions.append(_question(folder.name, json.loads(line)))
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{questions_path}:{number}: {exc}") from exc
        companies.append(
            Company(
                folder.name,
                str(meta.get("name") or folder.name),
                str(meta.get("split") or "fit"),
                knowledge,
                tuple(questions),
            )
        )
    return companies


def _question(company: str, data: dict[str, Any]) -> SupportQuestion:
    answerable = bool(data.get("answerable", True))
    facts = tuple(
        (fact,) if isinstance(fact, str) else tuple(str(f) for f in fact)
        for fact in data.get("facts", [])
    )
    sources = data.get("source", [])
    if answerable and not (facts and sources):
        raise ValueError("an answerable question needs facts and a source")
    return SupportQuestion(
        id=str(data["id"]),
        company=company,
        text=str(data["q"]),
        answerable=answerable,
        kind=str(data.get("kind") or ("unanswerable" if not answerable else "")),
        facts=facts,
        sources=(sources,) if isinstance(sources, str) else tuple(sources),
        history=tuple(str(h) for h in data.get("history", [])),
        traps=tuple(str(t) for t in data.get("traps", [])),
    )


def normalize(text: str) -> str:
    """Lower case, citation markers and thousands separators out, punctuation as spaces."""
    text = _CITATION.sub(" ", text.lower().replace("’", "'").replace("$", " "))
    text = _DIGIT_COMMA.sub("", text)
    return " ".join(_NOT_KEPT.sub(" ", text).split())


def holds(answer: str, fact: str) -> bool:
    """Whether the normalised ``answer`` says ``fact`` as whole words."""
    wanted = normalize(fact)
    pattern = rf"(?<![a-z0-9]){re.escape(wanted)}(?![a-z0-9])"
    return bool(wanted) and re.search(pattern, normalize(answer)) is not None


def judge(
    question: SupportQuestion, answer: str, cited_files: Sequence[str | None]
) -> tuple[bool, bool, bool, bool]:
    """``(abstained, correct, cited, harmful)`` of one answer.

    ``cited_files`` holds, for each citation marker in the answer, the file name of the source
    it names, or None when it names no source that was given.
    """
    abstained = is_not_found(answer)
    if not question.answerable:
        claim = bool(_YES_NO.match(answer)) or any(holds(answer, t) for t in question.traps)
        return abstained, False, False, not abstained and claim
    correct = not abstained and all(any(holds(answer, f) for f in alts) for alts in question.facts)
    cited = (
        correct
        and bool(cited_files)
        and None not in cited_files
        and any(name in question.sources for name in cited_files)
    )
    return abstained, correct, cited, False


def evaluate_support(
    ctx: AppContext,
    companies: Sequence[Company],
    *,
    model: str = "extractive",
    progress: Progress | None = None,
) -> SupportReport:
    """Ingest each company into a new chatbot, ask its questions by chat, and judge them."""
    report = progress or (lambda _stage, _done, _total: None)
    outcomes: list[Outcome] = []
    ingest_seconds = 0.0
    for number, company in enumerate(companies, start=1):
        started = time.perf_counter()
        chatbot_id, organization_id, files_of_items = _ingest(ctx, company, model)
        ingest_seconds += time.perf_counter() - started
        report(f"ingest {company.slug}", number, len(companies))
        chat = ChatService(ctx, organization_id)
        outcomes.extend(anyio.run(_ask_all, chat, chatbot_id, company, files_of_items, report))
    groups = {name: [o for o in outcomes if o.split == name] for name in SPLITS}
    groups["all"] = outcomes
    splits = {
        name: _figures(group, {c.slug for c in companies if c.slug in {o.company for o in group}})
        for name, group in groups.items()
        if group
    }
    return SupportReport(splits, outcomes, ctx.db.engine.dialect.name, round(ingest_seconds, 1))


def _ingest(ctx: AppContext, company: Company, model: str) -> tuple[str, str, dict[str, str]]:
    """A new chatbot holding the company's knowledge, indexed: its id, its organization's id,
    and the file name behind each knowledge item."""
    files = sorted(p for p in company.knowledge.iterdir() if p.is_file())
    with ctx.db.sessions() as session:
        organization = keys.get_or_create_organization(session, "chatforge-eval-support")
        session.commit()
        organization_id = organization.id
        chatbot_id = (
            ChatbotService(ctx, session, organization_id)
            .create({"name": company.name, "settings": {"model": model}})
            .id
        )
    files_of_items: dict[str, str] = {}
    staging = Path(tempfile.mkdtemp(prefix="chatforge-support-", dir=ctx.tmp_dir))
    try:
        uploads = []
        for path in files:
            if path.name == QNA_FILE:
                continue
            copy = staging / path.name
            shutil.copyfile(path, copy)  # the store moves what it is given
            uploads.append(Upload(path.name, copy))
        with ctx.db.sessions() as session:
            knowledge = KnowledgeService(ctx, session, organization_id)
            items, rejected = knowledge.add_files(chatbot_id, uploads) if uploads else ([], [])
            if rejected:
                raise ValueError(f"{company.slug}: {rejected[0].filename} was refused")
            files_of_items.update({item.id: item.source for item in items})
            qna = company.knowledge / QNA_FILE
            if qna.is_file():
                pairs = json.loads(qna.read_text(encoding="utf-8"))
                added = knowledge.add_sources(
                    chatbot_id,
                    [
                        {"type": "qna", "question": p["question"], "answer": p["answer"]}
                        for p in pairs
                    ],
                )
                files_of_items.update({item.id: QNA_FILE for item in added})
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    worker = Worker(ctx)
    while worker.run_once():
        pass
    ctx.models.search_index.forget_statistics()
    return chatbot_id, organization_id, files_of_items


async def _ask_all(
    chat: ChatService,
    chatbot_id: str,
    company: Company,
    files_of_items: dict[str, str],
    report: Progress,
) -> list[Outcome]:
    outcomes = []
    split = company.split if company.split in SPLITS else "held-out"
    for number, question in enumerate(company.questions, start=1):
        messages: list[IncomingMessage] = []
        for earlier in question.history:
            messages.append(IncomingMessage("user", earlier))
            reply = await chat.answer(chatbot_id, messages, Incoming(chatbot_id, _PLATFORM, None))
            messages.append(IncomingMessage("assistant", reply.response or ""))
        messages.append(IncomingMessage("user", question.text))
        began = time.perf_counter()
        answer = await chat.answer(chatbot_id, messages, Incoming(chatbot_id, _PLATFORM, None))
        latency = (time.perf_counter() - began) * 1000
        text = answer.response or ""
        by_ref = {s.ref: files_of_items.get(s.knowledge_id) for s in answer.sources}
        cited_files = [by_ref.get(int(n)) for n in _CITATION.findall(text)]
        abstained, correct, cited, harmful = judge(question, text, cited_files)
        check = (answer.message.meta or {}).get("citations") if answer.message else None
        outcomes.append(
            Outcome(
                question.id,
                company.slug,
                split,
                question.kind,
                question.answerable,
                question.text,
                text,
                abstained,
                correct,
                cited,
                harmful,
                round(latency, 1),
                flagged=bool(check and check.get("flagged")),
            )
        )
        report(f"ask {company.slug}", number, len(company.questions))
    return outcomes


def _figures(outcomes: Sequence[Outcome], companies: set[str]) -> Figures:
    answerable = [o for o in outcomes if o.answerable]
    unanswerable = [o for o in outcomes if not o.answerable]
    correct = [o for o in answerable if o.correct]
    answered = [o for o in outcomes if not o.abstained]

    def share(part: int, whole: int) -> float:
        return round(part / whole, 4) if whole else 0.0

    latencies = [o.latency_ms for o in outcomes]
    return Figures(
        companies=len(companies),
        answerable=len(answerable),
        unanswerable=len(unanswerable),
        answered_correct=share(len(correct), len(answerable)),
        cited_correct=share(sum(o.cited for o in correct), len(correct)),
        abstention=share(sum(o.abstained for o in unanswerable), len(unanswerable)),
        harmful=share(sum(o.harmful for o in unanswerable), len(unanswerable)),
        harmful_count=sum(o.harmful for o in unanswerable),
        chat_p50_ms=round(percentile(latencies, 50), 1),
        chat_p95_ms=round(percentile(latencies, 95), 1),
        flagged=share(sum(o.flagged for o in answered), len(answered)),
    )
