"""Tune the fusion constants on the product's own index, without re-ingesting.

    python bench/fusion_tuning.py --data-dir DIR [--database-url URL] [--scifact PATH]

``DIR`` is the data directory a finished ``chatforge eval retrieval --data-dir DIR`` run kept (its
SQLite file, or ``--database-url`` for PostgreSQL). For every judged SciFact query this collects
the candidates exactly as the retrieval service does (vector top 100, keyword top 100, the exact
BM25 of every candidate, its stored vector, the query's idf sum), then scores fusion variants in
numpy and reports nDCG@10 on all train queries and on two folds (split by sha1 of the query id, as
bench/retrieval_research.py does), so a weight chosen on one fold is scored on the other.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import json
from pathlib import Path

import numpy as np
from sqlalchemy import select

from chatforge.evaluation.retrieval import read_jsonl, read_qrels
from chatforge.rag.fusion import FusionParams, Windows, best_cosines, fuse, rocchio
from chatforge.rag.metrics import ndcg_at_k, recall_at_k
from chatforge.services.context import AppContext
from chatforge.services.search.retrieval import Retriever
from chatforge.settings import Settings
from chatforge.storage.models import Chatbot, KnowledgeItem
from chatforge.text.analysis import analyze

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "scifact"


def collect(ctx: AppContext, scifact: Path) -> list[dict[str, object]]:
    """Candidates and their features for every judged query."""
    with ctx.db.sessions() as session:
        chatbot_id = session.scalars(select(Chatbot.id)).one()
        items = session.execute(select(KnowledgeItem.id, KnowledgeItem.content)).all()
    by_text: dict[str, list[str]] = {}
    with gzip.open(scifact / "corpus.jsonl.gz", "rt") as handle:
        for line in handle:
            doc = json.loads(line)
            by_text.setdefault(doc["text"], []).append(doc["_id"])
    doc_of = {item_id: by_text.get(content or "", []) for item_id, content in items}
    qrels = read_qrels(scifact / "qrels" / "train.tsv")
    queries = [q for q in read_jsonl(scifact / "queries-train.jsonl") if q["_id"] in qrels]
    retriever = Retriever(ctx.db, ctx.models)
    index = ctx.models.search_index
    config = retriever.config
    collected = []
    for number, query in enumerate(queries, 1):
        text = str(query["text"])
        terms = analyze(text)
        vector = ctx.models.embedder.embed_query(text)
        with ctx.db.reader().connect() as conn:
            dense = [i for i, _ in index.vector(conn, chatbot_id, vector, config.candidates)]
            keyword = dict(
                index.keyword(
                    conn, chatbot_id, terms, config.candidates, config.weights, None, dense
                )
            )
            top = sorted(keyword, key=lambda i: -keyword[i])[: config.candidates]
            candidates = list(dict.fromkeys([*top, *dense]))
            idf_sum = sum(index.idf(conn, terms, chatbot_id).values()) if terms else 1.0
            rows = retriever._load(conn, chatbot_id, candidates)
        collected.append(
            {
                "id": query["_id"],
                "qrels": qrels[query["_id"]],
                "query": vector,
                "vectors": np.stack([r.vector for r in rows]),
                "windows": [r.windows for r in rows],
                "bm25": np.array([keyword.get(r.chunk_id, 0.0) for r in rows]),
                "items": [r.item_id for r in rows],
                "docs": [doc_of[r.item_id] for r in rows],
                "idf_sum": idf_sum,
            }
        )
        if number % 100 == 0:
            print(f"  collected {number}/{len(queries)}", flush=True)
    return collected


def score(
    collected: list[dict[str, object]], params: FusionParams, windows: bool = True
) -> np.ndarray:
    """Per-query (nDCG@10, recall@100) for one fusion variant (``windows``: use them)."""
    out = []
    for q in collected:
        vectors = q["vectors"]
        query = q["query"]
        assert isinstance(vectors, np.ndarray) and isinstance(query, np.ndarray)
        held = Windows.of(q["windows"] if windows else [], len(query))  # type: ignore[arg-type]
        cos = best_cosines(query, vectors, held)  # type: ignore[arg-type]
        fused = fuse(cos, q["bm25"], float(q["idf_sum"]), params)  # type: ignore[arg-type]
        if params.prf_docs:
            moved = rocchio(query, vectors, fused, q["items"], params.prf_docs, params.prf_beta)  # type: ignore[arg-type]
            cos = best_cosines(moved, vectors, held)  # type: ignore[arg-type]
            fused = fuse(cos, q["bm25"], float(q["idf_sum"]), params)  # type: ignore[arg-type]
        order = np.argsort(-fused, kind="stable")
        docs = q["docs"]
        ranking = list(dict.fromkeys(d for i in order for d in docs[i]))  # type: ignore[index]
        out.append((ndcg_at_k(ranking, q["qrels"], 10), recall_at_k(ranking, q["qrels"], 100)))  # type: ignore[arg-type]
    return np.array(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--database-url")
    parser.add_argument("--scifact", type=Path, default=DEFAULT_DATA)
    args = parser.parse_args()
    ctx = AppContext.build(Settings(data_dir=args.data_dir, database_url=args.database_url))
    collected = collect(ctx, args.scifact)
    folds = np.array(
        [int(hashlib.sha1(str(q["id"]).encode()).hexdigest(), 16) % 2 for q in collected]
    )
    print(f"{'variant':<40} {'nDCG@10':>8} {'R@100':>7} {'fold A':>7} {'fold B':>7}")
    variants: dict[str, tuple[FusionParams, bool]] = {}
    for windows in (False, True):
        for w in (0.35, 0.4, 0.45, 0.5, 0.55, 0.6):
            name = f"{'windows, ' if windows else ''}cos {w:.2f}, Rocchio 2 b=0.5"
            variants[name] = (FusionParams(vector_weight=w, prf_docs=2, prf_beta=0.5), windows)
        variants[f"{'windows, ' if windows else ''}cos 0.50, no Rocchio"] = (
            FusionParams(vector_weight=0.5),
            windows,
        )
    results = {}
    for name, (params, windows) in variants.items():
        m = score(collected, params, windows)
        results[name] = m
        print(
            f"{name:<40} {m[:, 0].mean():>8.4f} {m[:, 1].mean():>7.4f} "
            f"{m[folds == 0, 0].mean():>7.4f} {m[folds == 1, 0].mean():>7.4f}"
        )
    for fold in (0, 1):
        best = max(results, key=lambda n: results[n][folds == fold, 0].mean())
        other = results[best][folds != fold, 0].mean()
        print(f"chosen on fold {'AB'[fold]}: {best} -> other fold {other:.4f}")


if __name__ == "__main__":
    main()
