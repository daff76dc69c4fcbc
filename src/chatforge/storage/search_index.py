"""What every search index is: the interface, and the scoring that all of them share.

A database index (``search_sqlite``, ``search_postgres``) finds candidates: keyword matches and
vector neighbours. Scores do not come from the database: a keyword candidate's BM25 is
``bm25.score_chunks`` over its stored terms (``chunks.terms``) with its chatbot's own statistics,
exactly as memory search computes it from postings (``segments``); cosines are computed by
retrieval from the stored vectors. So a chatbot gets the same similarities from memory and from
either database.

A chatbot's statistics (chunk count, total length, document frequency of each term) are read
from the database and cached under its ``search_versions`` row, which every change to its
indexed chunks moves in the same transaction: a cached figure is never stale.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

import numpy as np
from sqlalchemy import Connection, Select, select, text

from chatforge.errors import ChatforgeError
from chatforge.storage.bm25 import Statistics, Weights, score_chunks
from chatforge.storage.models import Chunk, KnowledgeItem

_Query = TypeVar("_Query", bound=Select[*tuple[Any, ...]])

#: A stored chunk's analysed (title, body) terms from its title and content.
TermsOf = Callable[[str, str], tuple[list[str], list[str]]]

#: Chatbots whose statistics a database index keeps, and terms kept per chatbot.
CACHED_CHATBOTS = 256
CACHED_TERMS = 20_000


@dataclass(frozen=True)
class IndexEntry:
    """What the indexes hold for one chunk.

    ``windows`` are the vectors of the chunk's windows (``rag.chunking.split_windows``), shape
    ``(n, d)``: retrieval re-scores candidates by them; the database indexes hold only
    ``vector``, which finds the candidates.
    """

    chunk_id: int
    chatbot_id: str
    title_terms: Sequence[str]
    body_terms: Sequence[str]
    vector: np.ndarray
    windows: np.ndarray | None = None


class HeldChunk(NamedTuple):
    """What a memory index knows of a chunk without asking the database."""

    item_id: str
    item_type: str
    vector: np.ndarray
    windows: np.ndarray  # (n, d), n >= 0; float16 (``scored_windows``)


def pack_embedding(vector: np.ndarray, windows: np.ndarray | None = None) -> bytes:
    """A chunk's stored embedding: its vector, then its windows' vectors, as float32 rows."""
    rows = [np.asarray(vector, dtype=np.float32).reshape(1, -1)]
    if windows is not None and len(windows):
        rows.append(np.asarray(windows, dtype=np.float32).reshape(len(windows), -1))
    return np.concatenate(rows).tobytes()


def unpack_embedding(stored: bytes, dimensions: int) -> tuple[np.ndarray, np.ndarray]:
    """The chunk's vector and its windows' vectors (``(0, d)`` when it has none)."""
    rows = np.frombuffer(stored, dtype=np.float32).reshape(-1, dimensions)
    return rows[0], rows[1:]


def scored_windows(windows: np.ndarray) -> np.ndarray:
    """Window vectors as every path scores them: in half precision.

    Memory holds windows in float16 (half the memory; a cosine moves by about 1e-4), so the
    database path rounds them the same way and both compute the same cosines.
    """
    return np.asarray(windows).astype(np.float16)


def join_terms(title_terms: Sequence[str], body_terms: Sequence[str]) -> str:
    """The stored form of a chunk's analysed terms (``chunks.terms``)."""
    return " ".join(title_terms) + "\n" + " ".join(body_terms)


def split_terms(stored: str) -> tuple[list[str], list[str]]:
    """A chunk's (title, body) terms from their stored form."""
    title, _, body = stored.partition("\n")
    return title.split(), body.split()


def safe_terms(terms: Sequence[str]) -> list[str]:
    """The distinct terms, sorted: letters and digits only, nothing that a query syntax could
    read as an operator or a quote."""
    return sorted({t for t in terms if t.isalnum()})


@dataclass
class _Cached:
    """A chatbot's statistics at one version of its indexed chunks."""

    version: int
    chunks: int
    length: int
    frequencies: dict[str, int] = field(default_factory=dict)


class SearchIndex(ABC):
    """Keyword and vector search over the chunks of one chatbot."""

    def __init__(self, dimensions: int, terms_of: TermsOf | None = None) -> None:
        self.dimensions = dimensions
        #: Analyses a chunk stored before ``chunks.terms`` existed.
        self.terms_of = terms_of
        self._statistics: OrderedDict[str, _Cached] = OrderedDict()
        self._statistics_lock = threading.Lock()

    @abstractmethod
    def ensure(self, conn: Connection) -> None:
        """Create the vector table for ``dimensions`` when missing; refuse a different size."""

    def add(self, conn: Connection, entries: Sequence[IndexEntry]) -> None:
        """Index chunks (in the caller's transaction)."""
        if not entries:
            return
        self._insert(conn, entries)
        bump_versions(conn, sorted({e.chatbot_id for e in entries}))

    def remove(self, conn: Connection, chunk_ids: Sequence[int]) -> None:
        """Remove chunks from both indexes (in the caller's transaction)."""
        if not chunk_ids:
            return
        chatbots: set[str] = set()
        for start in range(0, len(chunk_ids), 500):
            batch = [int(i) for i in chunk_ids[start : start + 500]]
            query = select(Chunk.chatbot_id).distinct().where(Chunk.id.in_(batch))
            chatbots.update(str(c) for c in conn.execute(query).scalars())
        self._delete(conn, chunk_ids)
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
        """The best chunks by BM25 (positive, higher is better), best first.

        Args:
            conn: The connection to search on.
            chatbot_id: Whose chunks.
            terms: Analysed query terms.
            limit: How many of the best chunks.
            weights: Per-field weights and ``b``.
            only: Search only these chunks.
            also: Chunks whose score is wanted too, when they match at all (the vector
                search's candidates).
        """
        safe = safe_terms(terms)
        if not safe or (limit <= 0 and not also):
            return []
        statistics = self.statistics(conn, chatbot_id, safe)
        found = self._matches(conn, chatbot_id, safe, limit, weights, statistics, only)
        wanted = list(dict.fromkeys([*found, *map(int, also)]))
        scores = self._score(conn, wanted, safe, statistics, weights)
        matched = set(found)
        ranked = sorted(
            ((i, s) for i, s in scores.items() if s > 0 and i in matched),
            key=lambda kv: (-kv[1], kv[0]),
        )[: max(limit, 0)]
        picked = dict(ranked)
        for chunk_id in map(int, also):
            if scores.get(chunk_id, 0.0) > 0:
                picked[chunk_id] = scores[chunk_id]
        return sorted(picked.items(), key=lambda kv: (-kv[1], kv[0]))

    @abstractmethod
    def vector(
        self,
        conn: Connection,
        chatbot_id: str,
        query: np.ndarray,
        limit: int,
        only: Sequence[int] | None = None,
    ) -> list[tuple[int, float]]:
        """The nearest chunks by cosine similarity, best first."""

    @abstractmethod
    def similarities(
        self, conn: Connection, chunk_ids: Sequence[int], query: np.ndarray
    ) -> dict[int, float]:
        """Cosine similarity of the query to each given indexed chunk."""

    def begin_search(self) -> None:
        """Marks the start of a search on this thread (see ``MemorySearchIndex.snapshot``)."""
        return None  # a database index keeps nothing between the calls of a search

    def held_chunks(self, chatbot_id: str, chunk_ids: Sequence[int]) -> dict[int, HeldChunk]:
        """What the index holds in memory of these chunks (nothing, for a database index)."""
        return {}

    def idf(self, conn: Connection, terms: Sequence[str], chatbot_id: str) -> dict[str, float]:
        """Each term's idf (``bm25.idf``) over the chatbot's indexed chunks."""
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
            chunks, length = self._sizes(conn, chatbot_id)
            cached = _Cached(version, chunks, length)
        with self._statistics_lock:
            frequencies = {t: cached.frequencies[t] for t in terms if t in cached.frequencies}
        missing = [t for t in terms if t not in frequencies]
        fetched = self._document_frequencies(conn, chatbot_id, missing) if missing else {}
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
        """Drop cached statistics (they are kept per version, so only tests and benchmarks that
        change the database behind the index's back need this)."""
        with self._statistics_lock:
            self._statistics.clear()

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
        legacy: list[int] = []
        for chunk_id, joined in conn.execute(
            select(Chunk.id, Chunk.terms).where(Chunk.id.in_([int(i) for i in chunk_ids]))
        ):
            if joined is None:
                legacy.append(int(chunk_id))
            else:
                stored[int(chunk_id)] = split_terms(str(joined))
        if legacy:  # stored before chunks.terms existed
            rows = conn.execute(
                select(Chunk.id, Chunk.title, Chunk.content).where(Chunk.id.in_(legacy))
            )
            for chunk_id, title, content in rows:
                stored[int(chunk_id)] = self.analysed(title, content)
        ids = list(stored)
        scores = score_chunks(terms, [stored[i] for i in ids], statistics, weights)
        return dict(zip(ids, scores.tolist(), strict=True))

    def _legacy_length(self, conn: Connection, chatbot_id: str) -> int:
        """Total length (terms + 1 each) of the chatbot's indexed chunks stored without terms."""
        query = select(Chunk.title, Chunk.content).where(Chunk.terms.is_(None))
        rows = conn.execute(indexed(query, chatbot_id))
        return sum(len(t) + len(b) + 1 for t, b in (self.analysed(*r) for r in rows))

    def analysed(self, title: str, content: str) -> tuple[list[str], list[str]]:
        """The (title, body) terms of a chunk stored without them (none without ``terms_of``)."""
        return self.terms_of(title, content) if self.terms_of else ([], [])

    @abstractmethod
    def _insert(self, conn: Connection, entries: Sequence[IndexEntry]) -> None:
        """Write chunks into the keyword and vector indexes."""

    @abstractmethod
    def _delete(self, conn: Connection, chunk_ids: Sequence[int]) -> None:
        """Delete chunks from the keyword and vector indexes."""

    @abstractmethod
    def _matches(
        self,
        conn: Connection,
        chatbot_id: str,
        terms: Sequence[str],
        limit: int,
        weights: Weights,
        statistics: Statistics,
        only: Sequence[int] | None,
    ) -> list[int]:
        """Keyword candidates: chunks holding any of ``terms``, at least the best ``limit``."""

    @abstractmethod
    def _sizes(self, conn: Connection, chatbot_id: str) -> tuple[int, int]:
        """The chatbot's indexed chunks, and their total length (terms + 1 each)."""

    @abstractmethod
    def _document_frequencies(
        self, conn: Connection, chatbot_id: str, terms: Sequence[str]
    ) -> dict[str, int]:
        """How many of the chatbot's indexed chunks hold each term."""

    def _check_dimensions(self, found: int | None) -> None:
        if found is not None and found != self.dimensions:
            raise ChatforgeError(
                f"The vector index holds {found}-dimensional vectors but the embedding model "
                f"makes {self.dimensions}; re-index the knowledge or configure the previous model."
            )


def indexed(query: _Query, chatbot_id: str) -> _Query:
    """``query`` over ``chunks``, narrowed to the chatbot's indexed chunks (those of its enabled
    items: memory search holds the same)."""
    return query.join(KnowledgeItem, KnowledgeItem.id == Chunk.item_id).where(
        Chunk.chatbot_id == chatbot_id, KnowledgeItem.enabled.is_(True)
    )


def bump_versions(conn: Connection, chatbot_ids: Sequence[str]) -> None:
    """Record that these chatbots' indexed chunks changed (in the caller's transaction)."""
    for chatbot_id in chatbot_ids:
        conn.execute(
            text(
                "INSERT INTO search_versions(chatbot_id, version) VALUES (:c, 1) "
                "ON CONFLICT (chatbot_id) DO UPDATE SET version = search_versions.version + 1"
            ),
            {"c": chatbot_id},
        )


def current_version(conn: Connection, chatbot_id: str) -> int:
    """The chatbot's index version (0 before anything was indexed)."""
    found = conn.execute(
        text("SELECT version FROM search_versions WHERE chatbot_id = :c"), {"c": chatbot_id}
    ).scalar()
    return int(found or 0)
