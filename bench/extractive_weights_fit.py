"""Fit the weights of the extractive model's sentence score on SQuAD questions.

A sentence's score adds its coverage of the question and, weighted by the constants of
``providers/chat/extractive.py``, matching word pairs, its passage's coverage, the passage's
retrieval similarity, its position and whether it holds the kind of thing asked (a year, a
number). These weights decide which sentence is quoted, not whether one is: they are fitted on
how often the quoted answer holds SQuAD's gold answer. The first ``--articles`` articles of the
file are ingested into a fresh chatbot through the real pipeline; each of their questions is
retrieved once (as the chat would, then cut at the model's similarity floor) and answered for
every setting of the grid.

    .venv/bin/python bench/extractive_weights_fit.py --squad ../shared/data/squad/dev-a.json \\
        [--articles 12] [--questions 400] [--embedding-cache bench/out/squad-embeddings.sqlite]

Prints, best first, the share of questions whose answer holds a gold answer per setting, and
the current weights last.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from pathlib import Path

import anyio

from chatforge.commands.common import opened
from chatforge.evaluation.answers import _ingest, read_squad, spread
from chatforge.providers.chat import extractive
from chatforge.providers.chat.base import Passage
from chatforge.providers.embeddings.cache import CachedEmbedder
from chatforge.rag.metrics import normalize_answer
from chatforge.services.accounts import keys
from chatforge.services.chatbots.service import ChatbotService
from chatforge.services.search.query import retrieval_defaults
from chatforge.services.search.retrieval import Retriever
from chatforge.settings import Settings

GRID = {
    "_PAIR_WEIGHT": [0.0, 0.1, 0.2],
    "_CONTEXT_WEIGHT": [0.1, 0.2, 0.4],
    "_SIMILARITY_WEIGHT": [1.0, 2.0, 3.0],
    "_POSITION_WEIGHT": [0.0, 0.05, 0.1],
    "_KIND_WEIGHT": [0.0, 0.15, 0.3],
}

Case = tuple[str, list[str], list[Passage]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--squad", type=Path, required=True)
    parser.add_argument("--articles", type=int, default=12)
    parser.add_argument("--questions", type=int, default=400)
    parser.add_argument("--embedding-cache", type=Path)
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args()
    squad = read_squad(args.squad)
    kept = {p.article for p in squad.paragraphs if p.article < args.articles}
    paragraphs = [p for p in squad.paragraphs if p.article in kept]
    index_of = {id(p): n for n, p in enumerate(squad.paragraphs)}
    wanted = {index_of[id(p)] for p in paragraphs}
    questions = spread([q for q in squad.questions if q.paragraph in wanted], args.questions)
    cases: list[Case] = []  # (question, golds, passages)
    with opened(Settings(data_dir=Path(tempfile.mkdtemp(prefix="weights-fit-")))) as ctx:
        if args.embedding_cache is not None:
            ctx.models.use_embedder(CachedEmbedder(ctx.models.embedder, args.embedding_cache))
        ctx.ensure_search_index()
        with ctx.db.sessions() as session:
            organization = keys.get_or_create_organization(session, "chatforge-weights-fit")
            session.commit()
            organization_id = organization.id
            chatbot_id = (
                ChatbotService(ctx, session, organization_id)
                .create({"name": "weights fit", "settings": {"model": "extractive"}})
                .id
            )
        _ingest(ctx, organization_id, chatbot_id, paragraphs, lambda *_: None)
        ctx.models.search_index.forget_statistics()
        defaults = retrieval_defaults({})
        floor = extractive.MIN_SIMILARITY
        for question in questions:
            hits = Retriever(ctx.db, ctx.models).search(
                chatbot_id, question.text, limit=defaults.limit, threshold=0.0
            )
            passages = [h.passage(n) for n, h in enumerate(hits, start=1) if h.similarity >= floor]
            golds = [normalize_answer(a) for a in question.answers]
            cases.append((question.text, golds, passages))
    current = {name: getattr(extractive, name) for name in GRID}
    results = []
    for values in itertools.product(*GRID.values()):
        setting = dict(zip(GRID, values, strict=True))
        results.append((_hit_rate(setting, cases), setting))
    results.sort(key=lambda r: r[0], reverse=True)
    print(f"{len(cases)} questions of {len(kept)} articles")
    for rate, setting in [*results[: args.top], (_hit_rate(current, cases), current)]:
        print(f"{rate:.3f}  {setting}")


def _hit_rate(
    setting: dict[str, float], cases: list[tuple[str, list[str], list[Passage]]]
) -> float:
    """The share of questions whose answer holds a gold answer, with the weights ``setting``."""
    for name, value in setting.items():
        setattr(extractive, name, value)  # module constants: this script is their only writer
    model = extractive.ExtractiveModel()
    hits = 0
    for question, golds, passages in cases:
        answer = anyio.run(model.answer, question, passages)
        said = f" {normalize_answer(answer)} "
        hits += not extractive.is_not_found(answer) and any(g and f" {g} " in said for g in golds)
    return hits / len(cases)


if __name__ == "__main__":
    main()
