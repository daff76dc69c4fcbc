"""Retrieval: the one service behind query-knowledge, chat and the evaluation command.

Hybrid by default: keyword (BM25) and vector candidates, fused into a calibrated similarity in
[0, 1] (``rag.fusion``), Q&A pairs whose question matches the query first, then cut by
``threshold`` and ``limit``. The same code runs on SQLite and PostgreSQL; only the indexes differ.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from sqlalchemy import Connection, Row, func, select

from chatforge.providers.chat.base import Passage
from chatforge.rag.fusion import (
    FusionParams,
    Windows,
    best_cosines,
    fuse,
    normalised_bm25,
    rescale_cosine,
    rocchio,
)
from chatforge.services.model_set import ModelSet
from chatforge.storage.db import Database
from chatforge.storage.memory_index import MemorySearchIndex
from chatforge.storage.models import Chunk, KnowledgeItem
from chatforge.storage.search import Weights, scored_windows, unpack_embedding
from chatforge.text.analysis import analyze

log = logging.getLogger(__name__)

Mode = Literal["hybrid", "vector", "keyword"]

DEFAULT_LIMIT = 5
DEFAULT_THRESHOLD = 0.0
DEFAULT_MODE: Mode = "hybrid"
#: Chatbots loaded into search memory at start-up, at most.
WARM_CHATBOTS = 50
#: Cosine between a query and a Q&A pair's question above which the pair answers the query.
QNA_MATCH = 0.8


@dataclass(frozen=True)
class RetrievalConfig:
    """The measured defaults of hybrid retrieval (see bench/RESULTS.md)."""

    candidates: int = 100
    #: BM25's field weights and b (0.5; ``storage.bm25``), on every search path.
    weights: Weights = field(default_factory=Weights)
    fusion: FusionParams = field(default_factory=lambda: FusionParams(prf_docs=2, prf_beta=0.5))


@dataclass(frozen=True)
class SearchFilter:
    """Restricts a search to some items or item types."""

    knowledge_ids: tuple[str, ...] = ()
    types: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.knowledge_ids or self.types)


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk: its fields (``heading``, ``body``) and okchat's ``content`` form."""

    chunk_id: int
    knowledge_id: str
    item_type: str
    title: str
    source: str
    content: str
    chunk_index: int
    similarity: float
    score: float
    vector_similarity: float
    keyword_score: float
    heading: str | None = None
    body: str = ""

    @property
    def qna(self) -> bool:
        """Whether the chunk is a Q&A pair: its ``title`` is the question, ``body`` the answer."""
        return self.item_type == "qna"

    def passage(self, ref: int) -> Passage:
        """The hit as a chat model reads it, cited as ``[ref]``."""
        return Passage(
            ref, self.knowledge_id, self.title, self.source, self.content, self.similarity,
            heading=self.heading, body=self.body, qna=self.qna,
        )  # fmt: skip


class Retriever:
    """Searches one chatbot's knowledge."""

    def __init__(
        self, db: Database, models: ModelSet, config: RetrievalConfig | None = None
    ) -> None:
        self.db = db
        self.models = models
        self.config = config or RetrievalConfig()

    def search(
        self,
        chatbot_id: str,
        query: str,
        *,
        limit: int = DEFAULT_LIMIT,
        threshold: float = DEFAULT_THRESHOLD,
        mode: Mode = DEFAULT_MODE,
        search_filter: SearchFilter | None = None,
        timings: dict[str, float] | None = None,
    ) -> list[Hit]:
        """The best chunks for ``query``, best first.

        The caller has checked that the chatbot belongs to its organization. When ``timings``
        is given, the seconds spent in each stage are added to it (for benchmarks).
        """
        clock = _Clock(timings)
        terms = analyze(query)
        vector = self.models.embedder.embed_query(query) if mode != "keyword" else None
        clock.lap("embed")
        index = self.models.search_index
        index.begin_search()
        depth = max(self.config.candidates, limit)
        with self.db.reader().connect() as conn:
            only = self._restrict(conn, chatbot_id, search_filter) if search_filter else None
            if only is not None and not only:
                return []
            dense_ids: list[int] = []
            if vector is not None:
                dense_ids = [i for i, _ in index.vector(conn, chatbot_id, vector, depth, only)]
            clock.lap("vector")
            keyword: dict[int, float] = {}
            if mode != "vector" and terms:
                # One pass over the matches: the keyword top-k, and the exact BM25 of the
                # vector candidates (zero when they match no term).
                keyword = dict(
                    index.keyword(
                        conn,
                        chatbot_id,
                        terms,
                        depth,
                        self.config.weights,
                        only,
                        also=dense_ids if mode == "hybrid" else (),
                    )
                )
            top_keyword = sorted(keyword, key=lambda i: -keyword[i])[:depth]
            candidates = list(dict.fromkeys([*top_keyword, *dense_ids]))
            if not candidates:
                return []
            idf_sum = sum(index.idf(conn, terms, chatbot_id).values()) if terms else 1.0
            clock.lap("keyword")
            rows = self._load(conn, chatbot_id, candidates)
            ranked = self._rank(rows, keyword, vector, idf_sum, mode, limit, threshold)
            hits = self._hits(conn, ranked)
        clock.lap("fusion")
        return hits

    def _rank(
        self,
        rows: list[_Row],
        keyword: dict[int, float],
        vector: np.ndarray | None,
        idf_sum: float,
        mode: Mode,
        limit: int,
        threshold: float,
    ) -> list[_Ranked]:
        """The best ``limit`` candidates above ``threshold``, best first."""
        params = self.config.fusion
        bm25 = np.array([keyword.get(r.chunk_id, 0.0) for r in rows], dtype=np.float64)
        windows = Windows.of([], 0)
        if vector is not None:
            windows = Windows.of([r.windows for r in rows], len(vector))
            vectors = np.stack([r.vector for r in rows])
            cosines = best_cosines(vector, vectors, windows)
        else:
            vectors, cosines = np.zeros((len(rows), 0)), np.zeros(len(rows))
        if mode == "keyword":
            scores = normalised_bm25(bm25, idf_sum)
        elif mode == "vector":
            scores = rescale_cosine(cosines, params.cosine_floor)
        else:
            scores = fuse(cosines, bm25, idf_sum, params)
            if params.prf_docs and vector is not None:
                moved = rocchio(
                    vector,
                    vectors,
                    scores,
                    [r.item_id for r in rows],
                    params.prf_docs,
                    params.prf_beta,
                )
                scores = fuse(best_cosines(moved, vectors, windows), bm25, idf_sum, params)
        similarity = np.round(np.clip(scores, 0.0, 1.0), 6)
        # A Q&A pair is embedded by its question: a close match answers the query outright,
        # and comes first.
        answers = np.array([r.item_type == "qna" for r in rows], dtype=bool) & (
            cosines >= QNA_MATCH if vector is not None else False
        )
        # float64 before rounding: a rounded float32 reads as 0.8665940165519714 in JSON.
        matched = np.round(cosines.astype(np.float64), 6)
        similarity = np.where(answers, np.maximum(similarity, matched), similarity)
        ids = np.array([r.chunk_id for r in rows], dtype=np.int64)
        order = np.lexsort((ids, -similarity, ~answers))
        ranked: list[_Ranked] = []
        for index in order:
            if similarity[index] < threshold:
                continue
            ranked.append(
                _Ranked(
                    rows[index],
                    similarity=float(similarity[index]),
                    score=float(scores[index]),
                    vector_similarity=float(cosines[index]),
                    keyword_score=float(bm25[index]),
                )
            )
            if len(ranked) == limit:
                break
        return ranked

    @staticmethod
    def _hits(conn: Connection, ranked: list[_Ranked]) -> list[Hit]:
        """The ranked chunks with their text, title and source."""
        if not ranked:
            return []
        details = {
            int(r.id): r
            for r in conn.execute(
                select(
                    Chunk.id, Chunk.chunk_index, Chunk.content, Chunk.heading, Chunk.body,
                    Chunk.page, Chunk.title.label("page_title"), KnowledgeItem.title,
                    KnowledgeItem.source,
                    KnowledgeItem.meta.label("meta"),
                )
                .join(KnowledgeItem, KnowledgeItem.id == Chunk.item_id)
                .where(Chunk.id.in_([r.row.chunk_id for r in ranked]))
            )
        }  # fmt: skip
        cited = {chunk_id: _cited(row) for chunk_id, row in details.items()}
        return [
            Hit(
                chunk_id=r.row.chunk_id,
                knowledge_id=r.row.item_id,
                item_type=r.row.item_type,
                title=cited[r.row.chunk_id][0],
                source=cited[r.row.chunk_id][1],
                content=details[r.row.chunk_id].content,
                chunk_index=details[r.row.chunk_id].chunk_index,
                similarity=r.similarity,
                score=r.score,
                vector_similarity=r.vector_similarity,
                keyword_score=r.keyword_score,
                heading=details[r.row.chunk_id].heading,
                body=details[r.row.chunk_id].body,
            )
            for r in ranked
            if r.row.chunk_id in details  # deleted since the search: gone
        ]

    @staticmethod
    def _restrict(conn: Connection, chatbot_id: str, search_filter: SearchFilter) -> list[int]:
        query = (
            select(Chunk.id)
            .join(KnowledgeItem, KnowledgeItem.id == Chunk.item_id)
            .where(Chunk.chatbot_id == chatbot_id, KnowledgeItem.enabled.is_(True))
        )
        if search_filter.knowledge_ids:
            query = query.where(KnowledgeItem.id.in_(search_filter.knowledge_ids))
        if search_filter.types:
            query = query.where(KnowledgeItem.type.in_(search_filter.types))
        return [int(i) for i in conn.execute(query).scalars()]

    def _load(self, conn: Connection, chatbot_id: str, chunk_ids: Sequence[int]) -> list[_Row]:
        """The candidates' items and vectors, in chunk id order.

        Read from memory when held, else from the database, as memory holds them (windows in
        half precision); in id order, so that the scores do not depend on which path found them.
        """
        held = self.models.search_index.held_chunks(chatbot_id, chunk_ids)
        rows = [_Row(i, *held[i]) for i in map(int, chunk_ids) if i in held]
        missing = [int(i) for i in chunk_ids if int(i) not in held]
        if missing:
            stored = conn.execute(
                select(Chunk.id, Chunk.item_id, KnowledgeItem.type, Chunk.embedding)
                .join(KnowledgeItem, KnowledgeItem.id == Chunk.item_id)
                .where(Chunk.id.in_(missing))
            )
            dimensions = self.models.search_index.dimensions
            for i, item, kind, blob in stored:
                vector, windows = unpack_embedding(blob, dimensions)
                rows.append(_Row(int(i), str(item), str(kind), vector, scored_windows(windows)))
        return sorted(rows, key=lambda r: r.chunk_id)


def warm_search(db: Database, models: ModelSet, stop: threading.Event) -> None:
    """Load the chatbots whose knowledge changed last into search memory (at start-up, on a
    thread), so that their first searches need not wait; until then the database answers.
    ``models.search_warmed`` is set when it is over, whatever the outcome (``/readyz`` says
    so)."""
    try:
        _warm(db, models, stop)
    finally:
        models.search_warmed.set()


def _warm(db: Database, models: ModelSet, stop: threading.Event) -> None:
    index = models.search_index
    if not isinstance(index, MemorySearchIndex) or index.budget <= 0:
        return
    started = time.perf_counter()
    try:
        with db.reader().connect() as conn:
            recent = conn.execute(
                select(KnowledgeItem.chatbot_id)
                .where(KnowledgeItem.status == "ready", KnowledgeItem.enabled.is_(True))
                .group_by(KnowledgeItem.chatbot_id)
                .order_by(func.max(KnowledgeItem.updated_at).desc())
                .limit(WARM_CHATBOTS)
            )
            held = index.warm(conn, [str(c) for c in recent.scalars()], stop)
    except Exception:  # the server works without it; a shutdown may close the database first
        if not stop.is_set():
            log.exception("loading chatbots into search memory failed")
        return
    log.info("%d chatbots in search memory after %.1f s", held, time.perf_counter() - started)


class _Clock:
    """Adds the time since the last lap to a stage, when timings are wanted."""

    def __init__(self, timings: dict[str, float] | None) -> None:
        self.timings = timings
        self.last = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        if self.timings is not None:
            self.timings[stage] = self.timings.get(stage, 0.0) + now - self.last
        self.last = now


@dataclass(frozen=True)
class _Row:
    """What fusion needs of a candidate."""

    chunk_id: int
    item_id: str
    item_type: str
    vector: np.ndarray
    windows: np.ndarray  # (n, d): the chunk's window vectors


@dataclass(frozen=True)
class _Ranked:
    row: _Row
    similarity: float
    score: float
    vector_similarity: float
    keyword_score: float


def _cited(row: Row[Any]) -> tuple[str, str]:
    """The title and source a hit cites: its item's, or for a web item the page it came from."""
    urls = (row.meta or {}).get("page_urls")
    if not isinstance(urls, list):
        # A file or a text: its chunks carry the document's title (services/knowledge/parsing.py).
        return str(row.page_title or row.title), str(row.source)
    # One page is the item itself: its own title stays (the user may have named it).
    if isinstance(urls, list) and len(urls) > 1 and row.page and 0 < row.page <= len(urls):
        return str(row.page_title or row.title), str(urls[row.page - 1] or row.source)
    return str(row.title), str(row.source)
