"""Fit the extractive model's answer thresholds on the support evaluation's fit companies.

Every fit company is ingested once; each question's passages are retrieved once (as the chat
would, with the floor at 0), then answered by an :class:`ExtractiveModel` for every setting of
the grid below and judged as ``chatforge eval support`` judges. Follow-ups are left out (they
need the conversation). The dev and held-out companies are never read: their figures stay
honest.

    .venv/bin/python bench/support/make_files.py
    .venv/bin/python bench/support_fit.py [--companies bench/support/companies]
    .venv/bin/python bench/support_fit.py --only same_question_similarity

Prints, best first, answered-correct + abstention - 3 x harmful per setting.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from pathlib import Path

import anyio

from chatforge.commands.common import opened
from chatforge.evaluation.support import _ingest, judge, read_companies
from chatforge.providers.chat.extractive import ExtractiveModel
from chatforge.services.search.query import retrieval_defaults
from chatforge.services.search.retrieval import Retriever
from chatforge.settings import Settings

SEMANTIC_GRID = {
    "min_similarity": [0.0, 0.3],
    "confident_similarity": [0.45],
    "min_overlap": [0.3],
    "min_weak_overlap": [0.75],
    "min_qna_overlap": [0.6],
    "min_row_overlap": [0.5],
    "min_semantic": [0.5, 0.6, 0.7, 0.8],
    "semantic_weight": [0.25, 0.5, 1.0],
}
GRID = {
    "min_similarity": [0.1, 0.15, 0.2, 0.25, 0.3, 0.35],
    "confident_similarity": [0.35, 0.4, 0.45, 0.5],
    "min_overlap": [0.3, 0.4, 0.5],
    "min_weak_overlap": [0.4, 0.45, 0.5, 0.55, 0.6, 0.75, 0.9],
    "min_qna_overlap": [0.5, 0.6, 0.75],
    "min_row_overlap": [0.3, 0.5, 0.6],
    "same_question_similarity": [0.5, 0.55, 0.6, 0.65, 0.7, 0.8, 1.01],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--companies", type=Path, default=Path("bench/support/companies"))
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument(
        "--semantic",
        action="store_true",
        help="Also score sentences with the embedder (CHATFORGE_MODELS__EXTRACTIVE_SEMANTIC) "
        "and fit min_semantic instead of the floors.",
    )
    parser.add_argument(
        "--only",
        choices=sorted(GRID),
        help="Fit this one setting over its values, the others at the model's defaults "
        "(the whole grid is every combination).",
    )
    args = parser.parse_args()
    grid = SEMANTIC_GRID if args.semantic else GRID
    if args.only:
        grid = {name: [value] for name, value in _current().items()}
        grid[args.only] = GRID[args.only]
    companies = [c for c in read_companies(args.companies) if c.split == "fit"]
    cases = []  # (question, passages, files of items)
    with opened(Settings(data_dir=Path(tempfile.mkdtemp(prefix="support-fit-")))) as ctx:
        ctx.ensure_search_index()
        defaults = retrieval_defaults({})
        scorer = ctx.models._sentence_scorer() if args.semantic else None
        for company in companies:
            chatbot_id, _, files = _ingest(ctx, company, "extractive")
            for question in company.questions:
                if question.history:
                    continue
                hits = Retriever(ctx.db, ctx.models).search(
                    chatbot_id, question.text, limit=defaults.limit, threshold=0.0
                )
                passages = [h.passage(n) for n, h in enumerate(hits, start=1)]
                cases.append((question, passages, files))
        names = list(grid)
        results = []
        for values in itertools.product(*grid.values()):
            settings = dict(zip(names, values, strict=True))
            model = ExtractiveModel(score_sentences=scorer, **settings)  # type: ignore[arg-type]
            correct = abstained = harmful = answerable = 0
            for question, passages, files in cases:
                kept = [p for p in passages if p.similarity >= model.min_similarity]
                answer = anyio.run(model.answer, question.text, kept)
                by_ref = {p.ref: files.get(p.knowledge_id) for p in kept}
                cited = [by_ref.get(int(n)) for n in _markers(answer)]
                a, c, _, h = judge(question, answer, cited)
                answerable += question.answerable
                correct += c
                abstained += a and not question.answerable
                harmful += h
            unanswerable = len(cases) - answerable
            score = correct / answerable + abstained / unanswerable - 3 * harmful / unanswerable
            results.append((score, correct, abstained, harmful, settings))
    results.sort(key=lambda r: r[0], reverse=True)
    print(f"{len(cases)} questions ({answerable} answerable) of {len(companies)} fit companies")
    shown = results[: args.top] + [r for r in results if r[4] == _current()]
    for score, correct, abstained, harmful, settings in shown:
        print(
            f"{score:.3f}  correct {correct}/{answerable}  abstained {abstained}/{unanswerable}"
            f"  harmful {harmful}  {settings}"
        )


def _current() -> dict[str, float]:
    """The model's defaults, for comparison (the last line printed)."""
    model = ExtractiveModel()
    return {
        "min_similarity": model.min_similarity,
        "confident_similarity": model._confident_similarity,
        "min_overlap": model._min_overlap,
        "min_weak_overlap": model._min_weak_overlap,
        "min_qna_overlap": model._min_qna_overlap,
        "min_row_overlap": model._min_row_overlap,
        "same_question_similarity": model._same_question_similarity,
    }


def _markers(answer: str) -> list[str]:
    import re

    return re.findall(r"\[(\d+)\]", answer)


if __name__ == "__main__":
    main()
