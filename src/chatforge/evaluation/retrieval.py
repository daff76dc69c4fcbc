"""Reproducible retrieval evaluation on any BEIR-format collection.

The corpus goes through the real pipeline (knowledge items -> jobs -> worker) into a fresh
chatbot, and every query goes through the same service that answers query-knowledge, so the
figures describe the product, not a lookalike.
"""

from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from chatforge.rag.metrics import ndcg_at_k, percentile, recall_at_k
from chatforge.services.accounts import keys
from chatforge.services.chatbots.service import ChatbotService
from chatforge.services.context import AppContext
from chatforge.services.knowledge.service import KnowledgeService
from chatforge.services.knowledge.worker import Worker
from chatforge.services.search.query import QueryService
from chatforge.services.search.retrieval import Mode
from chatforge.storage.models import KnowledgeItem

Progress = Callable[[str, int, int], None]

#: Chunks asked for per query: enough to rank 100 documents when some have several chunks.
EVAL_DEPTH = 300
_BATCH = 500


@dataclass(frozen=True)
class RetrievalReport:
    """The figures of one evaluation run."""

    documents: int
    queries: int
    mode: str
    ndcg_at_10: float
    recall_at_100: float
    ingest_seconds: float
    chunks: int
    query_p50_ms: float
    query_p95_ms: float
    database: str

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values."""
        return asdict(self)


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """Records of a JSON-lines file, gzipped or not."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt", encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def read_qrels(path: Path) -> dict[str, dict[str, int]]:
    """BEIR qrels (``query-id  corpus-id  score``, a header line allowed)."""
    qrels: dict[str, dict[str, int]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t") if "\t" in line else line.split()
        if len(parts) < 3 or not parts[2].lstrip("-").isdigit():
            continue
        qrels.setdefault(parts[0], {})[parts[1]] = int(parts[2])
    return qrels


def evaluate_retrieval(
    ctx: AppContext,
    *,
    corpus: Path,
    queries: Path,
    qrels: Path,
    modes: tuple[Mode, ...] = ("hybrid",),
    progress: Progress | None = None,
) -> list[RetrievalReport]:
    """Ingest ``corpus`` into a new chatbot once, then run and score the judged ``queries``.

    Returns one report per retrieval mode.
    """
    report = progress or (lambda _stage, _done, _total: None)
    judgements = read_qrels(qrels)
    with ctx.db.sessions() as session:
        organization = keys.get_or_create_organization(session, "chatforge-eval")
        session.commit()
        chatbot = ChatbotService(ctx, session, organization.id).create(
            {"name": f"eval {corpus.name} {time.strftime('%Y-%m-%d %H:%M:%S')}"}
        )
    docs_of_item: dict[str, list[str]] = {}
    documents = list(read_jsonl(corpus))
    started = time.perf_counter()
    for start in range(0, len(documents), _BATCH):
        batch = documents[start : start + _BATCH]
        with ctx.db.sessions() as session:
            items = KnowledgeService(ctx, session, organization.id).add_sources(
                chatbot.id,
                [
                    {"type": "text", "title": d.get("title") or d["_id"], "content": d["text"]}
                    for d in batch
                ],
            )
        for document, item in zip(batch, items, strict=True):
            docs_of_item.setdefault(item.id, []).append(str(document["_id"]))
        report("record", start + len(batch), len(documents))
    worker = Worker(ctx)
    done = 0
    while processed := worker.run_once():
        done += processed
        report("index", done, len(docs_of_item))
    ingest_seconds = time.perf_counter() - started
    ctx.models.search_index.forget_statistics()

    judged = [q for q in read_jsonl(queries) if str(q["_id"]) in judgements]
    with ctx.db.reader().connect() as conn:  # not a write session: scoring must not hold a lock
        chunks = int(
            conn.scalar(
                select(func.coalesce(func.sum(KnowledgeItem.chunks), 0)).where(
                    KnowledgeItem.chatbot_id == chatbot.id
                )
            )
            or 0
        )
    service = QueryService(ctx, organization.id)
    return [
        replace(
            _score(service, chatbot.id, judged, judgements, docs_of_item, mode, report),
            documents=len(documents),
            ingest_seconds=round(ingest_seconds, 1),
            chunks=chunks,
            database=ctx.db.engine.dialect.name,
        )
        for mode in modes
    ]


def _score(
    service: QueryService,
    chatbot_id: str,
    judged: list[dict[str, Any]],
    judgements: dict[str, dict[str, int]],
    docs_of_item: dict[str, list[str]],
    mode: Mode,
    report: Progress,
) -> RetrievalReport:
    ndcgs: list[float] = []
    recalls: list[float] = []
    latencies: list[float] = []
    for number, query in enumerate(judged, start=1):
        began = time.perf_counter()
        hits = service.query(
            chatbot_id, str(query["text"]), limit=EVAL_DEPTH, threshold=0.0, mode=mode
        )
        latencies.append((time.perf_counter() - began) * 1000)
        # A document ranks where its best chunk ranks.
        ranking = list(
            dict.fromkeys(doc for hit in hits for doc in docs_of_item.get(hit.knowledge_id, []))
        )
        relevance = judgements[str(query["_id"])]
        ndcgs.append(ndcg_at_k(ranking, relevance, 10))
        recalls.append(recall_at_k(ranking, relevance, 100))
        report(f"query ({mode})", number, len(judged))
    return RetrievalReport(
        documents=0,
        queries=len(judged),
        mode=mode,
        ndcg_at_10=round(sum(ndcgs) / max(len(ndcgs), 1), 4),
        recall_at_100=round(sum(recalls) / max(len(recalls), 1), 4),
        ingest_seconds=0.0,
        chunks=0,
        query_p50_ms=round(percentile(latencies, 50), 1),
        query_p95_ms=round(percentile(latencies, 95), 1),
        database="",
    )
