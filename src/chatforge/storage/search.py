"""Search over a database: its candidates (``search_sqlite``, ``search_postgres``) find chunks,
``DatabaseIndex`` scores them; and the names the rest of the code uses.

- ``bm25``: the one keyword score, used by every path.
- ``search_index``: the interfaces (``SearchIndex``, ``Candidates``) and the forms every path
  shares.
- ``search_sqlite``: FTS5 and sqlite-vec find candidates.
- ``search_postgres``: tsvector and pgvector's HNSW find candidates.
- ``search`` (here): ``DatabaseIndex``, BM25 and statistics over any ``Candidates``.
- ``segments`` and ``memory_index``: a chatbot's chunks held in memory, in front of a
  ``DatabaseIndex``.

Each module imports only the ones above it in this list, so none imports another back.
A chatbot's statistics (chunk count, total length, document frequency of each term) are read
through the candidates and cached under its ``search_versions`` row, which every change to its
indexed chunks moves in the same transaction: a cached figure is never stale.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import Connection, select

from chatforge.errors import ChatforgeError
from chatforge.storage.bm25 import Statistics, Weights, score_chunks
from chatforge.storage.models import Chunk, KnowledgeItem
from chatforge.storage.search_index import (
    Candidates,
    HeldChunk,
    IndexEntry,
    KeywordQuery,
    SearchIndex,
    TermsOf,
    bump_versions,
    current_version,
    indexed,
    join_terms,
    keyword_hits,
    pack_embedding,
    safe_terms,
    scored_windows,
    searched_terms,
    split_terms,
    unpack_embedding,
)
from chatforge.storage.search_postgres import PostgresCandidates
from chatforge.storage.search_sqlite import SQLiteCandidates

__all__ = [
    "Candidates",
    "DatabaseIndex",
    "HeldChunk",
    "IndexEntry",
    "PostgresCandidates",
    "SQLiteCandidates",
    "SearchIndex",
    "TermsOf",
    "Weights",
    "join_terms",
    "make_search_index",
    "pack_embedding",
    "safe_terms",
    "scored_windows",
    "split_terms",
    "unpack_embedding",
]

#: Chatbots whose statistics a database index keeps, and terms kept per chatbot.
CACHED_CHATBOTS = 256
CACHED_TERMS = 20_000


def make_search_index(
    dialect: str, dimensions: int, terms_of: TermsOf | None = None
) -> DatabaseIndex:
    """The index over a database, by its dialect name."""
    candidates: Candidates
    if dialect == "sqlite":
        candidates = SQLiteCandidates(dimensions)
    elif dialect == "postgresql":
        candidates = PostgresCandidates(dimensions)
    else:
        raise ChatforgeError(f"Unsupported database: {dialect}.")
    return DatabaseIndex(candidates, terms_of)


@dataclass
class _Cached:
    """A chatbot's statistics at one version of its indexed chunks."""

    version: int
    chunks: int
    length: int
    frequencies: dict[str, int] = field(default_factory=dict)


class DatabaseIndex:
    """A ``SearchIndex`` over a database's candidates: BM25 and statistics are computed here."""

    def __init__(self, candidates: Candidates, terms_of: TermsOf | None = None) -> None:
        self.candidates = candidates
        self.dimensions = candidates.dimensions
        #: Analyses a chunk stored before ``chunks.terms`` existed.
        self.terms_of = terms_of
        self._statistics: OrderedDict[str, _Cached] = OrderedDict()
        self._statistics_lock = threading.Lock()

    def ensure(self, conn: Connection) -> None:
        self.candidates.ensure(conn)

    def add(self, conn: Connection, entries: Sequence[IndexEntry]) -> None:
        if not entries:
            return
        self.candidates.insert(conn, entries)
        bump_versions(conn, sorted({e.chatbot_id for e in entries}))

    def remove(self, conn: Connection, chunk_ids: Sequence[int]) -> None:
        if not chunk_ids:
            return
        chatbots: set[str] = set()
        for start in range(0, len(chunk_ids), 500):
            batch = [int(i) for i in chunk_ids[start : start + 500]]
            query = select(Chunk.chatbot_id).distinct().where(Chunk.id.in_(batch))
            chatbots.update(str(c) for c in conn.execute(query).scalars())
        self.candidates.delete(conn, chunk_ids)
        bump_versions(conn, sorted(chatbots))

    def keyword(
        self,
        conn: Connection,
        chatbot_id: str,
        terms: Sequence[str],
        limit: int,
        weights: Weights,
        only: Sequence[int] | None = None,
        also: Sequence[int] = (),
    ) -> list[tuple[int, float]]:
        safe = searched_terms(terms, limit, also)
        if not safe:
            return []
        statistics = self.statistics(conn, chatbot_id, safe)
        query = KeywordQuery(chatbot_id, safe, limit, weights, statistics, only)
        found = self.candidates.matches(conn, query) if limit > 0 else []
        wanted = list(dict.fromkeys([*found, *map(int, also)]))
        scores = self._score(conn, wanted, safe, statistics, weights)
        matched = set(found)
        top = sorted(
            ((i, s) for i, s in scores.items() if s > 0 and i in matched),
            key=lambda kv: (-kv[1], kv[0]),
        )[: max(limit, 0)]
        extra = ((i, scores[i]) for i in map(int, also) if scores.get(i, 0.0) > 0)
        return keyword_hits(top, extra)

    def vector(
        self,
        conn: Connection,
        chatbot_id: str,
        query: np.ndarray,
        limit: int,
        only: Sequence[int] | None = None,
    ) -> list[tuple[int, float]]:
        if limit <= 0:
            return []
        if only is not None:  # exact cosines of the allowed chunks: HNSW could pass them over
            scores = self.candidates.similarities(conn, only, query)
            return sorted(scores.items(), key=lambda kv: -kv[1])[:limit]
        return self.candidates.nearest(conn, chatbot_id, query, limit)

    def similarities(
        self, conn: Connection, chunk_ids: Sequence[int], query: np.ndarray
    ) -> dict[int, float]:
        return self.candidates.similarities(conn, chunk_ids, query)

    def begin_search(self) -> None:
        return None  # a database index keeps nothing between the calls of a search

    def held_chunks(self, chatbot_id: str, chunk_ids: Sequence[int]) -> dict[int, HeldChunk]:
        return {}  # it holds nothing in memory: retrieval reads the candidates' rows

    def idf(self, conn: Connection, terms: Sequence[str], chatbot_id: str) -> dict[str, float]:
        safe = safe_terms(terms)
        statistics = self.statistics(conn, chatbot_id, safe)
        return {term: statistics.idf(term) for term in safe}

    def statistics(self, conn: Connection, chatbot_id: str, terms: Sequence[str]) -> Statistics:
        """The chatbot's BM25 statistics for these terms, read from the database once per
        version of its indexed chunks."""
        version = current_version(conn, chatbot_id)
        with self._statistics_lock:
            cached = self._statistics.get(chatbot_id)
        if cached is None or cached.version != version:
            chunks, length, unanalysed = self.candidates.sizes(conn, chatbot_id)
            if unanalysed:
                length += self._unanalysed_length(conn, chatbot_id)
            cached = _Cached(version, chunks, length)
        with self._statistics_lock:
            frequencies = {t: cached.frequencies[t] for t in terms if t in cached.frequencies}
        missing = [t for t in terms if t not in frequencies]
        fetched = self.candidates.document_frequencies(conn, chatbot_id, missing) if missing else {}
        frequencies.update(fetched)
        with self._statistics_lock:
            if len(cached.frequencies) > CACHED_TERMS:
                cached.frequencies.clear()
            cached.frequencies.update(fetched)
            held = self._statistics.get(chatbot_id)
            if held is None or held.version <= cached.version:  # never back to an older one
                self._statistics[chatbot_id] = cached
                self._statistics.move_to_end(chatbot_id)
            while len(self._statistics) > CACHED_CHATBOTS:
                self._statistics.popitem(last=False)
        return Statistics(cached.chunks, cached.length, frequencies)

    def forget_statistics(self) -> None:
        with self._statistics_lock:
            self._statistics.clear()

    def analysed(self, title: str, body: str, item_type: str) -> tuple[list[str], list[str]]:
        """The (title, body) terms of a chunk stored without them (none without ``terms_of``)."""
        return self.terms_of(title, body, item_type == "qna") if self.terms_of else ([], [])

    def _score(
        self,
        conn: Connection,
        chunk_ids: Sequence[int],
        terms: Sequence[str],
        statistics: Statistics,
        weights: Weights,
    ) -> dict[int, float]:
        """BM25 of these chunks, from their stored terms."""
        if not chunk_ids:
            return {}
        stored: dict[int, tuple[list[str], list[str]]] = {}
        unanalysed: list[int] = []
        for chunk_id, joined in conn.execute(
            select(Chunk.id, Chunk.terms).where(Chunk.id.in_([int(i) for i in chunk_ids]))
        ):
            if joined is None:
                unanalysed.append(int(chunk_id))
            else:
                stored[int(chunk_id)] = split_terms(str(joined))
        if unanalysed:  # stored before chunks.terms existed
            rows = conn.execute(
                select(Chunk.id, Chunk.title, Chunk.body, KnowledgeItem.type)
                .join(KnowledgeItem, KnowledgeItem.id == Chunk.item_id)
                .where(Chunk.id.in_(unanalysed))
            )
            for chunk_id, title, body, item_type in rows:
                stored[int(chunk_id)] = self.analysed(title, body, item_type)
        ids = list(stored)
        scores = score_chunks(terms, [stored[i] for i in ids], statistics, weights)
        return dict(zip(ids, scores.tolist(), strict=True))

    def _unanalysed_length(self, conn: Connection, chatbot_id: str) -> int:
        """Total length (terms + 1 each) of the chatbot's indexed chunks stored without terms."""
        query = select(Chunk.title, Chunk.body, KnowledgeItem.type).where(Chunk.terms.is_(None))
        rows = conn.execute(indexed(query, chatbot_id))
        return sum(len(t) + len(b) + 1 for t, b in (self.analysed(*r) for r in rows))
