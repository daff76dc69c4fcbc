"""How much could meaning, as the offline embedder sees it, add where the extractive model abstains?

The extractive model says "not found" to many answerable questions worded unlike the knowledge
("how far in advance do I cancel?" for "cancel at least 24 hours before"). The one local model
of meaning is the embedder (all-MiniLM-L6-v2). This probe gives each question the model
abstained on a second chance: the retrieved sentence nearest to the question by the embedder's
cosine is quoted when it is near enough (and, in some settings, when its passage was retrieved
with enough similarity, it is prose or a step, and it leads the runner-up by a margin). It
counts, for each setting, the answerable questions it then gets right, those it gets wrong, and
the unanswerable ones it answers (harmful, weighed 3 times as in ``bench/support_fit.py``).

Fit and dev companies only: the held-out ones stay blind.

    .venv/bin/python bench/support/make_files.py
    .venv/bin/python bench/support_semantic_probe.py [--companies bench/support/companies]
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio

from chatforge.commands.common import opened
from chatforge.evaluation.support import SupportQuestion, _ingest, judge, read_companies
from chatforge.providers.chat import _sentences
from chatforge.providers.chat.base import Passage
from chatforge.providers.chat.extractive import ExtractiveModel
from chatforge.services.search.query import retrieval_defaults
from chatforge.services.search.retrieval import Retriever
from chatforge.settings import Settings

GRID = {
    "min_cosine": [0.45, 0.5, 0.55, 0.6, 0.65, 0.7],
    "min_similarity": [0.0, 0.3, 0.4],
    "prose_only": [True, False],
    "margin": [0.0, 0.05, 0.1],
}


@dataclass(frozen=True)
class Candidate:
    cosine: float
    similarity: float
    prose: bool
    correct: bool
    harmful: bool


@dataclass(frozen=True)
class Case:
    company: str
    answerable: bool
    candidates: tuple[Candidate, ...]  # best cosine first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--companies", type=Path, default=Path("bench/support/companies"))
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    companies = [c for c in read_companies(args.companies) if c.split in ("fit", "dev")]
    model = ExtractiveModel()
    cases: list[Case] = []
    asked = 0
    with opened(Settings(data_dir=Path(tempfile.mkdtemp(prefix="support-probe-")))) as ctx:
        ctx.ensure_search_index()
        defaults = retrieval_defaults({})
        for company in companies:
            chatbot_id, _, files = _ingest(ctx, company, "extractive")
            for question in company.questions:
                if question.history:
                    continue
                asked += 1
                hits = Retriever(ctx.db, ctx.models).search(
                    chatbot_id, question.text, limit=defaults.limit, threshold=0.0
                )
                passages = [
                    Passage(n, h.knowledge_id, h.title, h.source, h.content, h.similarity)
                    for n, h in enumerate(hits, start=1)
                ]
                kept = [p for p in passages if p.similarity >= model.min_similarity]
                answer = anyio.run(model.answer, question.text, kept)
                if not judge(question, answer, [])[0]:
                    continue  # answered: no second chance needed
                cases.append(_case(ctx.models.embedder.embed, question, passages, files))
    answerable = sum(c.answerable for c in cases)
    print(
        f"{asked} questions of {len(companies)} fit and dev companies; the model abstained on "
        f"{answerable} answerable and {len(cases) - answerable} unanswerable ones"
    )
    results = []
    for values in itertools.product(*GRID.values()):
        setting = dict(zip(GRID, values, strict=True))
        gained, wrong, answered, harmful = _second_chance(cases, **setting)  # type: ignore[arg-type]
        results.append((gained - answered - 3 * harmful, gained, wrong, answered, harmful, setting))
    results.sort(key=lambda r: r[0], reverse=True)
    print(
        "score = right - unanswerable answered - 3 x harmful, as bench/support_fit.py weighs them"
    )
    for score, gained, wrong, answered, harmful, setting in results[: args.top]:
        print(
            f"{score:+d}  right {gained}  wrong {wrong}  unanswerable answered {answered}"
            f" (harmful {harmful})  {setting}"
        )


def _case(
    embed: Callable[[list[str]], Any],
    question: SupportQuestion,
    passages: list[Passage],
    files: dict[str, str],
) -> Case:
    sentences = [s for p in passages for s in _sentences.sentences_of(p) if not s.heading]
    candidates: list[Candidate] = []
    if sentences:
        vectors = embed([question.text, *(s.text for s in sentences)])
        for sentence, vector in zip(sentences, vectors[1:], strict=True):
            quoted = f"{sentence.text} [{sentence.passage.ref}]"
            _, correct, _, harmful = judge(
                question, quoted, [files.get(sentence.passage.knowledge_id)]
            )
            candidates.append(
                Candidate(
                    float(vector @ vectors[0]),
                    sentence.passage.similarity,
                    sentence.unit.kind in ("prose", "step"),
                    correct,
                    harmful,
                )
            )
    candidates.sort(key=lambda c: c.cosine, reverse=True)
    return Case(question.company, question.answerable, tuple(candidates))


def _second_chance(
    cases: list[Case], *, min_cosine: float, min_similarity: float, prose_only: bool, margin: float
) -> tuple[int, int, int, int]:
    """(answerable now right, answerable now wrong, unanswerable now answered, of which harmful)."""
    gained = wrong = answered = harmful = 0
    for case in cases:
        allowed = [
            c
            for c in case.candidates
            if c.similarity >= min_similarity and (c.prose or not prose_only)
        ]
        if not allowed or allowed[0].cosine < min_cosine:
            continue
        if len(allowed) > 1 and allowed[0].cosine - allowed[1].cosine < margin:
            continue
        if not case.answerable:
            answered += 1
            harmful += allowed[0].harmful
        elif allowed[0].correct:
            gained += 1
        else:
            wrong += 1
    return gained, wrong, answered, harmful


if __name__ == "__main__":
    main()
