"""The keyword and vector indexes, one implementation per database.

SQLite (here): FTS5 (native BM25) and sqlite-vec (exact cosine KNN, partitioned by chatbot).
PostgreSQL (``search_postgres``): a tsvector table with a GIN index scored with the same BM25 as
FTS5, and pgvector with an HNSW index. Both hold only the chunks that retrieval may return; the
chunks table keeps every chunk's text and embedding, so these indexes can always be rebuilt from
it.

Keyword text arrives already analysed (lower-cased, stemmed, stop words removed, by
``rag.text``), so both databases see the same terms and score them with the same formula:
FTS5's BM25 (k1=1.2, b=0.75, idf = ln((N - n + 0.5) / (n + 0.5)), floored at 1e-6, with
per-column weights on term frequency).
"""

from __future__ import annotations

import math
import re
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from sqlalchemy import Connection, text

from chatforge.errors import ChatforgeError

K1 = 1.2
B = 0.75
STATS_TTL_SECONDS = 10.0


#: Pseudo-chunks added to a chatbot's statistics, each holding a term at ``PRIOR_RATE``. On a
#: knowledge base of a few chunks, plain idf says nothing: a term in every chunk gets 0 and an
#: absent one the most, so "How long is the warranty?" asked of a one-page handbook that never
#: says "long" looked unrelated to it. The prior moves such a base's idfs towards each other;
#: at SciFact's 10,000 chunks it changes nothing (nDCG@10 0.7451 to 0.7453; bench/RESULTS.md).
#: FTS5's ``bm25()`` computes its own idf, so the SQLite index goes without it.
PRIOR_CHUNKS = 50
PRIOR_RATE = 0.05


def smoothed_idf(total: int, containing: int) -> float:
    """ln((N - n + 0.5) / (n + 0.5)) over ``total`` chunks plus the prior's, floored at 1e-6."""
    chunks = total + PRIOR_CHUNKS
    holding = containing + PRIOR_CHUNKS * PRIOR_RATE
    return max(1e-6, math.log((chunks - holding + 0.5) / (holding + 0.5)))


@dataclass(frozen=True)
class IndexEntry:
    """What the indexes hold for one chunk.

    ``windows`` are the vectors of the chunk's windows (``rag.chunking.split_windows``), shape
    ``(n, d)``: memory search re-scores candidates by them; the database indexes hold only
    ``vector``, which finds the candidates.
    """

    chunk_id: int
    chatbot_id: str
    title_terms: Sequence[str]
    body_terms: Sequence[str]
    vector: np.ndarray
    windows: np.ndarray | None = None


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


@dataclass(frozen=True)
class Weights:
    """BM25's per-field weights on term frequency, and its length normalisation ``b``.

    FTS5's bm25() fixes ``b`` at 0.75, so the SQLite index ignores ``b``; the PostgreSQL index
    and memory search apply it.
    """

    title: float = 1.0
    body: float = 1.0
    b: float = B


class HeldChunk(NamedTuple):
    """What a memory index knows of a chunk without asking the database."""

    item_id: str
    item_type: str
    vector: np.ndarray
    windows: np.ndarray  # (n, d), n >= 0; float16 in memory


class SearchIndex(ABC):
    """Keyword and vector search over the chunks of one chatbot."""

    #: Whether idf has the prior's pseudo-chunks (``smoothed_idf``).
    smoothed = True

    def __init__(self, dimensions: int) -> None:
        self.dimensions = dimensions
        self._df_cache: dict[str, int] = {}
        self._total = 0
        self._stats_at = -math.inf

    @abstractmethod
    def ensure(self, conn: Connection) -> None:
        """Create the vector table for ``dimensions`` when missing; refuse a different size."""

    @abstractmethod
    def add(self, conn: Connection, entries: Sequence[IndexEntry]) -> None:
        """Index chunks (in the caller's transaction)."""

    @abstractmethod
    def remove(self, conn: Connection, chunk_ids: Sequence[int]) -> None:
        """Remove chunks from both indexes."""

    @abstractmethod
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
            weights: Per-field weights.
            only: Search only these chunks.
            also: Chunks whose score is wanted too, when they match at all (the vector
                search's candidates), computed in the same pass over the matches.
        """

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

    def idf(
        self, conn: Connection, terms: Sequence[str], chatbot_id: str | None = None
    ) -> dict[str, float]:
        """FTS5's idf of each term over the whole index, ln((N - n + 0.5) / (n + 0.5)), with
        the prior's pseudo-chunks where ``smoothed``.

        The database indexes keep one set of statistics for all chatbots, as FTS5 does;
        ``chatbot_id`` is for indexes that keep them per chatbot (``MemorySearchIndex``).

        Document frequencies change only as knowledge is indexed, so they are cached for a
        few seconds: a query then costs one index lookup per new term, not per term.
        """
        now = time.monotonic()
        if now - self._stats_at > STATS_TTL_SECONDS:
            self._df_cache.clear()
            self._total = self._count_rows(conn)
            self._stats_at = now
        missing = [t for t in safe_terms(terms) if t not in self._df_cache]
        if missing:
            self._df_cache.update(self._document_frequencies(conn, missing))
        result: dict[str, float] = {}
        for term in safe_terms(terms):
            n = self._df_cache.get(term, 0)
            if self.smoothed:
                result[term] = smoothed_idf(self._total, n)
            else:
                result[term] = max(1e-6, math.log((self._total - n + 0.5) / (n + 0.5)))
        return result

    def forget_statistics(self) -> None:
        """Drop cached document frequencies (after indexing, in tests and benchmarks)."""
        self._stats_at = -math.inf

    @abstractmethod
    def _count_rows(self, conn: Connection) -> int: ...

    @abstractmethod
    def _document_frequencies(self, conn: Connection, terms: Sequence[str]) -> dict[str, int]: ...

    def _check_dimensions(self, found: int | None) -> None:
        if found is not None and found != self.dimensions:
            raise ChatforgeError(
                f"The vector index holds {found}-dimensional vectors but the embedding model "
                f"makes {self.dimensions}; re-index the knowledge or configure the previous model."
            )


def vector_literal(vector: np.ndarray) -> str:
    """pgvector's text form of a vector."""
    return "[" + ",".join(f"{x:.7g}" for x in vector.tolist()) + "]"


def _json_ids(ids: Sequence[int]) -> str:
    return "[" + ",".join(str(int(i)) for i in ids) + "]"


def safe_terms(terms: Sequence[str]) -> list[str]:
    # Letters and digits only: nothing that a query syntax could read as an operator or quote.
    return sorted({t for t in terms if t.isalnum()})


class SQLiteSearchIndex(SearchIndex):
    """FTS5 and sqlite-vec."""

    smoothed = False  # FTS5's bm25() has its own idf, which the normaliser must match

    def ensure(self, conn: Connection) -> None:
        ddl = conn.execute(
            text("SELECT sql FROM sqlite_master WHERE name = 'chunk_vectors'")
        ).scalar()
        if ddl is not None:
            match = re.search(r"float\[(\d+)\]", ddl, re.IGNORECASE)
            self._check_dimensions(int(match.group(1)) if match else None)
        else:
            conn.execute(
                text(
                    "CREATE VIRTUAL TABLE chunk_vectors USING vec0(chunk_id INTEGER PRIMARY KEY, "
                    f"chatbot_id TEXT PARTITION KEY, embedding FLOAT[{int(self.dimensions)}] "
                    "distance_metric=cosine)"
                )
            )
        # Also when the table exists: a migration that rebuilt ``chunks`` dropped its triggers.
        conn.execute(
            text(
                "CREATE TRIGGER IF NOT EXISTS chunk_vectors_delete AFTER DELETE ON chunks BEGIN "
                "DELETE FROM chunk_vectors WHERE chunk_id = old.id; END"
            )
        )

    def _count_rows(self, conn: Connection) -> int:
        return int(conn.execute(text("SELECT count(*) FROM chunks_fts")).scalar_one())

    def _document_frequencies(self, conn: Connection, terms: Sequence[str]) -> dict[str, int]:
        found = {t: 0 for t in terms}
        for term in terms:
            n = conn.execute(
                text("SELECT doc FROM chunks_fts_vocab WHERE term = :t"), {"t": term}
            ).scalar()
            found[term] = int(n or 0)
        return found

    @staticmethod
    def _scope(chatbot_id: str) -> str:
        return "s" + chatbot_id.replace("-", "")

    def add(self, conn: Connection, entries: Sequence[IndexEntry]) -> None:
        if not entries:
            return
        conn.execute(
            text("INSERT INTO chunks_fts(rowid, scope, title, body) VALUES (:id, :s, :t, :b)"),
            [
                {
                    "id": e.chunk_id,
                    "s": self._scope(e.chatbot_id),
                    "t": " ".join(e.title_terms),
                    "b": " ".join(e.body_terms),
                }
                for e in entries
            ],
        )
        conn.execute(
            text("INSERT INTO chunk_vectors(chunk_id, chatbot_id, embedding) VALUES (:id, :c, :v)"),
            [
                {
                    "id": e.chunk_id,
                    "c": e.chatbot_id,
                    "v": np.asarray(e.vector, dtype=np.float32).tobytes(),
                }
                for e in entries
            ],
        )

    def remove(self, conn: Connection, chunk_ids: Sequence[int]) -> None:
        for start in range(0, len(chunk_ids), 500):
            batch = [{"id": i} for i in chunk_ids[start : start + 500]]
            conn.execute(text("DELETE FROM chunks_fts WHERE rowid = :id"), batch)
            conn.execute(text("DELETE FROM chunk_vectors WHERE chunk_id = :id"), batch)

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
        safe = safe_terms(terms)
        if not safe or (limit <= 0 and not also):
            return []
        quoted = " OR ".join(f'"{t}"' for t in safe)
        match = f"scope:{self._scope(chatbot_id)} AND {{title body}}: ({quoted})"
        params: dict[str, object] = {"m": match, "k": limit, "also": _json_ids(also)}
        where = ""
        if only is not None:
            # Filtering the materialised matches, not the MATCH: FTS5 would re-run the full-text
            # query for every row of a rowid IN (...) constraint.
            where = " WHERE id IN (SELECT value FROM json_each(:only))"
            params["only"] = _json_ids(only)
        rows = conn.execute(
            text(
                "WITH m AS MATERIALIZED (SELECT rowid AS id, -bm25(chunks_fts, 0.0, "
                f"{float(weights.title)}, {float(weights.body)}) AS score FROM chunks_fts "
                f"WHERE chunks_fts MATCH :m), f AS (SELECT id, score FROM m{where}) "
                "SELECT id, score FROM (SELECT id, score FROM f ORDER BY score DESC LIMIT :k) "
                "UNION SELECT id, score FROM f WHERE id IN (SELECT value FROM json_each(:also))"
            ),
            params,
        )
        return sorted(((int(r[0]), float(r[1])) for r in rows), key=lambda kv: (-kv[1], kv[0]))

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
        blob = np.asarray(query, dtype=np.float32).tobytes()
        if only is not None:
            scores = self.similarities(conn, only, query)
            return sorted(scores.items(), key=lambda kv: -kv[1])[:limit]
        rows = conn.execute(
            text(
                "SELECT chunk_id, distance FROM chunk_vectors WHERE embedding MATCH :q "
                "AND k = :k AND chatbot_id = :c ORDER BY distance"
            ),
            {"q": blob, "k": min(limit, 4096), "c": chatbot_id},
        )
        return [(int(r[0]), 1.0 - float(r[1])) for r in rows]

    def similarities(
        self, conn: Connection, chunk_ids: Sequence[int], query: np.ndarray
    ) -> dict[int, float]:
        if not chunk_ids:
            return {}
        rows = conn.execute(
            text(
                "SELECT chunk_id, vec_distance_cosine(embedding, :q) FROM chunk_vectors "
                "WHERE chunk_id IN (SELECT value FROM json_each(:ids))"
            ),
            {
                "q": np.asarray(query, dtype=np.float32).tobytes(),
                "ids": "[" + ",".join(str(int(i)) for i in chunk_ids) + "]",
            },
        )
        return {int(r[0]): 1.0 - float(r[1]) for r in rows}


def make_search_index(dialect: str, dimensions: int) -> SearchIndex:
    """The index implementation for a database dialect name."""
    if dialect == "sqlite":
        return SQLiteSearchIndex(dimensions)
    if dialect == "postgresql":
        from chatforge.storage.search_postgres import PostgresSearchIndex  # it imports this module

        return PostgresSearchIndex(dimensions)
    raise ChatforgeError(f"Unsupported database: {dialect}.")
