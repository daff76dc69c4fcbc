"""A chatbot's search index held in memory, in front of the database's own indexes.

``MemorySearchIndex`` wraps a ``search.DatabaseIndex``: every write goes to it, and so does
every search of a chatbot that memory does not hold (too big for the budget, or still loading).

At 100,000 chunks, FTS5 spends a query scoring every chunk that shares a word with it and sqlite-vec
reads every vector from pages; both take hundreds of milliseconds. The same work on arrays in
memory takes a few: BM25 from per-term postings (the way bm25s and Lucene's in-memory indexes do
it) and exact cosine as one matrix product. So a chatbot's chunks are loaded into memory on its
first query and searched there, while the database stays the only source of truth:

- Every change to a chatbot's indexed chunks bumps its row in ``search_versions``, in the
  transaction that makes the change. A query reads that row (one primary-key lookup) and, when it
  moved, brings the memory copy up to date before searching: new chunks are read, removed ones
  dropped. A disabled item therefore never appears, whichever process or machine disabled it.
- Statistics (chunk count, total length, document frequencies) are the chatbot's own, so one
  tenant's knowledge never moves another's scores. The formula is ``bm25``'s, the one that the
  database indexes score their candidates with, on the same statistics: a chatbot gets the same
  scores whichever path serves it.
- Chatbots are held while they fit ``memory_mb``; the least recently searched are evicted, and
  a chatbot larger than the budget is searched by the database indexes (pgvector's HNSW on
  PostgreSQL, exact sqlite-vec on SQLite).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Sequence

import numpy as np
from sqlalchemy import Connection, select

from chatforge.storage.bm25 import Weights
from chatforge.storage.models import Chunk, KnowledgeItem
from chatforge.storage.search import DatabaseIndex
from chatforge.storage.search_index import (
    HeldChunk,
    IndexEntry,
    TermsOf,
    current_version,
    keyword_hits,
    safe_terms,
    scored_windows,
    searched_terms,
    split_terms,
    unpack_embedding,
)
from chatforge.storage.segments import (
    ChunkTerms,
    Snapshot,
    best,
    build_segment,
    merge_segments,
    plan_merge,
)

log = logging.getLogger(__name__)

#: Windows a chunk has on average (SciFact's 256-token chunks in 128-token windows: 2.5).
WINDOWS_PER_CHUNK = 2.5


def bytes_per_chunk(dimensions: int) -> float:
    """Roughly what a chunk costs in memory: its vector, its windows' vectors in float16, ~100
    postings of 12 bytes, ids and masks."""
    return dimensions * 4 + WINDOWS_PER_CHUNK * dimensions * 2 + 100 * 12 + 100


#: How long a search waits for another thread's refresh of the same chatbot before it asks the
#: database's indexes instead.
WAIT_FOR_REFRESH_SECONDS = 0.25
#: Chunks read from the database per statement while loading.
LOAD_BATCH = 2000


class MemorySearchIndex:
    """A ``SearchIndex`` that searches chatbots in memory while they fit ``memory_mb``, and
    leaves the others, and every write, to the database index it wraps (``inner``)."""

    def __init__(
        self, inner: DatabaseIndex, *, memory_mb: int, terms_of: TermsOf | None = None
    ) -> None:
        self.inner = inner
        self.dimensions = inner.dimensions
        if terms_of is not None:  # both read chunks stored without terms the same way
            inner.terms_of = terms_of
        self.budget = memory_mb * 1024 * 1024
        self._snapshots: OrderedDict[str, Snapshot] = OrderedDict()
        self._too_big: dict[str, int] = {}  # chatbot -> version found too big at
        self._lock = threading.Lock()
        self._loading: dict[str, threading.Lock] = {}
        self._last = threading.local()

    # -- writes go to the database, and move the chatbot's version ---------------------------

    def ensure(self, conn: Connection) -> None:
        self.inner.ensure(conn)

    def add(self, conn: Connection, entries: Sequence[IndexEntry]) -> None:
        self.inner.add(conn, entries)  # which moves the chatbots' versions

    def remove(self, conn: Connection, chunk_ids: Sequence[int]) -> None:
        self.inner.remove(conn, chunk_ids)

    def similarities(
        self, conn: Connection, chunk_ids: Sequence[int], query: np.ndarray
    ) -> dict[int, float]:
        return self.inner.similarities(conn, chunk_ids, query)

    def forget_statistics(self) -> None:
        self.inner.forget_statistics()  # memory's statistics are its snapshots' own

    # -- reads ------------------------------------------------------------------------------

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
        snapshot = self.snapshot(conn, chatbot_id)
        if snapshot is None:
            return self.inner.keyword(conn, chatbot_id, safe, limit, weights, only, also)
        scores = snapshot.bm25(safe, weights)
        allowed = self._mask(snapshot, only)
        if allowed is not None:
            scores[~allowed] = 0.0
        top = [
            (int(snapshot.ids[s]), float(scores[s])) for s in best(scores, limit) if scores[s] > 0
        ]
        slots = ((c, snapshot.slot_of.get(c)) for c in map(int, also))
        extra = [(c, float(scores[s])) for c, s in slots if s is not None and scores[s] > 0]
        return keyword_hits(top, extra)

    def vector(
        self,
        conn: Connection,
        chatbot_id: str,
        query: np.ndarray,
        limit: int,
        only: Sequence[int] | None = None,
    ) -> list[tuple[int, float]]:
        snapshot = self.snapshot(conn, chatbot_id)
        if snapshot is None:
            return self.inner.vector(conn, chatbot_id, query, limit, only)
        if limit <= 0 or not snapshot.total:
            return []
        query = np.asarray(query, dtype=np.float32)
        slots, cosines = snapshot.nearest(query, limit, self._mask(snapshot, only))
        found = zip(snapshot.ids[slots].tolist(), cosines.tolist(), strict=True)
        return sorted(found, key=lambda kv: (-kv[1], kv[0]))

    def begin_search(self) -> None:
        self._last.seen = None
        self.inner.begin_search()

    def held_chunks(self, chatbot_id: str, chunk_ids: Sequence[int]) -> dict[int, HeldChunk]:
        # Whichever snapshot is held: a chunk id is never reused, and a chunk's item, type and
        # vector never change.
        with self._lock:
            snapshot = self._snapshots.get(chatbot_id)
        if snapshot is None:
            return {}
        return snapshot.chunks_of(chunk_ids)

    def idf(self, conn: Connection, terms: Sequence[str], chatbot_id: str) -> dict[str, float]:
        snapshot = self.snapshot(conn, chatbot_id)
        if snapshot is None:
            return self.inner.idf(conn, terms, chatbot_id)
        safe = safe_terms(terms)
        statistics = snapshot.statistics(safe)
        return {term: statistics.idf(term) for term in safe}

    @staticmethod
    def _mask(snapshot: Snapshot, only: Sequence[int] | None) -> np.ndarray | None:
        if only is None:
            return None
        allowed = np.zeros(len(snapshot.ids), dtype=bool)
        slots = [snapshot.slot_of[i] for i in map(int, only) if i in snapshot.slot_of]
        allowed[slots] = True
        return allowed

    # -- the memory copy --------------------------------------------------------------------

    def snapshot(self, conn: Connection, chatbot_id: str) -> Snapshot | None:
        """The chatbot's up-to-date memory copy, or None when it does not fit the budget.

        The calls of one search (from ``begin_search``), on one connection, see the same copy:
        its version is read once.
        """
        if self.budget <= 0:
            return None
        last = getattr(self._last, "seen", None)
        # A strong reference to the connection is kept, so ``is`` cannot match a new one.
        if last is not None and last[0] is conn and last[1] == chatbot_id:
            found: Snapshot | None = last[2]
            return found
        found = self._current(conn, chatbot_id)
        self._last.seen = (conn, chatbot_id, found)
        return found

    def _current(self, conn: Connection, chatbot_id: str) -> Snapshot | None:
        version = current_version(conn, chatbot_id)
        with self._lock:
            held = self._snapshots.get(chatbot_id)
            if held is not None and held.version == version:
                self._snapshots.move_to_end(chatbot_id)
                return held
            if self._too_big.get(chatbot_id) == version:
                return None
            loading = self._loading.setdefault(chatbot_id, threading.Lock())
        # One refresh per chatbot at a time. Others wait for a short one (a few new chunks);
        # while a long one runs (a first load), the database's indexes answer them.
        if not loading.acquire(timeout=WAIT_FOR_REFRESH_SECONDS):
            return None
        try:
            with self._lock:
                held = self._snapshots.get(chatbot_id)
                if held is not None and held.version == version:
                    return held
            return self._refresh(conn, chatbot_id, version)
        finally:
            loading.release()

    def warm(self, conn: Connection, chatbot_ids: Sequence[str], stop: threading.Event) -> int:
        """Load these chatbots, best first, into half the budget at most (the rest stays for
        the chatbots searched later); how many are held afterwards."""
        for chatbot_id in chatbot_ids:
            with self._lock:
                used = sum(s.nbytes for s in self._snapshots.values())
            if stop.is_set() or used >= self.budget / 2:
                break
            self._current(conn, chatbot_id)
        with self._lock:
            return len(self._snapshots)

    def _refresh(self, conn: Connection, chatbot_id: str, version: int) -> Snapshot | None:
        """Bring the chatbot's memory copy to ``version``: new chunks read, removed ones masked."""
        started = time.perf_counter()
        indexed = (
            select(Chunk.id)
            .join(KnowledgeItem, KnowledgeItem.id == Chunk.item_id)
            .where(Chunk.chatbot_id == chatbot_id, KnowledgeItem.enabled.is_(True))
        )
        current = np.fromiter(conn.execute(indexed).scalars(), dtype=np.int64)
        if len(current) * bytes_per_chunk(self.dimensions) > self.budget:
            with self._lock:
                self._too_big[chatbot_id] = version
                self._snapshots.pop(chatbot_id, None)
            log.info("chatbot %s (%d chunks) is searched by the database", chatbot_id, len(current))
            return None
        with self._lock:
            held = self._snapshots.get(chatbot_id)
        segments = list(held.segments) if held else []
        # Chunk ids are never reused, so an id known and still wanted is the same chunk.
        alive = [np.isin(segment.ids, current) for segment in segments]
        missing = np.setdiff1d(current, held.ids if held else np.zeros(0, np.int64))
        if len(missing):
            chunks: list[ChunkTerms] = []
            for start in range(0, len(missing), LOAD_BATCH):
                chunks += self._read(conn, missing[start : start + LOAD_BATCH].tolist())
            segments.append(build_segment(chunks, self.dimensions))
            alive.append(np.ones(len(chunks), dtype=bool))
        plan = plan_merge(segments, alive)
        if plan:
            merged = merge_segments([segments[n] for n in plan], [alive[n] for n in plan])
            segments = [s for n, s in enumerate(segments) if n not in plan]
            alive = [a for n, a in enumerate(alive) if n not in plan]
            if len(merged.ids):
                segments.append(merged)
                alive.append(np.ones(len(merged.ids), dtype=bool))
        snapshot = Snapshot(version, segments, alive)
        with self._lock:
            self._snapshots[chatbot_id] = snapshot
            self._snapshots.move_to_end(chatbot_id)
            self._too_big.pop(chatbot_id, None)
            self._evict()
        log.debug(
            "chatbot %s in memory: %d chunks in %d segments (%d read) in %.0f ms",
            chatbot_id,
            snapshot.total,
            len(segments),
            len(missing),
            (time.perf_counter() - started) * 1000,
        )
        return snapshot

    def _read(self, conn: Connection, chunk_ids: list[int]) -> list[ChunkTerms]:
        rows = conn.execute(
            select(
                Chunk.id, Chunk.terms, Chunk.title, Chunk.body, Chunk.embedding, Chunk.item_id,
                KnowledgeItem.type,
            )
            .join(KnowledgeItem, KnowledgeItem.id == Chunk.item_id)
            .where(Chunk.id.in_(chunk_ids))
        )  # fmt: skip
        chunks = []
        for chunk_id, terms, title, body, embedding, item_id, item_type in rows:
            if terms is None:  # indexed before terms were stored
                title_terms, body_terms = self.inner.analysed(title, body, item_type)
            else:
                title_terms, body_terms = split_terms(str(terms))
            vector, windows = unpack_embedding(embedding, self.dimensions)
            # Copies, so that the stored blob is freed while the rest of a big chatbot loads.
            vector, windows = vector.copy(), scored_windows(windows)
            chunks.append(
                ChunkTerms(
                    int(chunk_id),
                    title_terms,
                    body_terms,
                    vector,
                    str(item_id),
                    str(item_type),
                    windows,
                )
            )
        return chunks

    def usage(self) -> tuple[int, int]:
        """How many chatbots memory holds, and their bytes."""
        with self._lock:
            snapshots = list(self._snapshots.values())
        return len(snapshots), sum(s.nbytes for s in snapshots)

    def _evict(self) -> None:
        total = sum(s.nbytes for s in self._snapshots.values())
        while total > self.budget and len(self._snapshots) > 1:
            chatbot_id, snapshot = next(iter(self._snapshots.items()))
            total -= snapshot.nbytes
            self._snapshots.pop(chatbot_id, None)
