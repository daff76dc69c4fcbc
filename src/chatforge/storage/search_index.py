"""What a search index is: the interface the services call, the one a database implements, and
the forms of a chunk that every path shares.

- ``SearchIndex``: what the services call (``search.DatabaseIndex``, ``memory_index.
  MemorySearchIndex``).
- ``Candidates``: what a database does for search (``search_sqlite``, ``search_postgres``): hold
  the chunks' terms and vectors, and find chunks. It never scores them: ``search.DatabaseIndex``
  does, with ``bm25``.
- The stored forms of a chunk's terms and vectors, and each chatbot's ``search_versions`` row,
  which every change to its indexed chunks moves in the same transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol, TypeVar

import numpy as np
from sqlalchemy import Connection, Select, text

from chatforge.errors import ChatforgeError
from chatforge.storage.bm25 import Statistics, Weights
from chatforge.storage.models import Chunk, KnowledgeItem

_Query = TypeVar("_Query", bound=Select[*tuple[Any, ...]])

#: A stored chunk's analysed (title, body) terms from its title, body and whether it is a Q&A pair.
TermsOf = Callable[[str, str, bool], tuple[list[str], list[str]]]


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


class Sizes(NamedTuple):
    """A chatbot's indexed chunks as its database counts them: how many, their total length
    (terms + 1 each) over those stored with terms, and how many were stored without."""

    chunks: int
    length: int
    unanalysed: int = 0


@dataclass(frozen=True)
class KeywordQuery:
    """A keyword search as the database sees it: which chatbot, which terms (``safe_terms``),
    at least how many of the best matches, and what ranks them."""

    chatbot_id: str
    terms: Sequence[str]
    limit: int
    weights: Weights
    statistics: Statistics
    only: Sequence[int] | None = None


class Candidates(Protocol):
    """What a database does for search: hold the chunks' terms and vectors, and find chunks.

    It never gives the final score of a chunk (``DatabaseIndex`` does, with ``bm25``); its
    keyword order only picks which chunks are candidates. Writes run in the caller's
    transaction.
    """

    @property
    def dimensions(self) -> int:
        """The size of the vectors it holds."""
        ...

    def ensure(self, conn: Connection) -> None:
        """Create the vector table for ``dimensions`` when missing; refuse a different size."""
        ...

    def insert(self, conn: Connection, entries: Sequence[IndexEntry]) -> None:
        """Write chunks into the keyword and vector indexes."""
        ...

    def delete(self, conn: Connection, chunk_ids: Sequence[int]) -> None:
        """Delete chunks from the keyword and vector indexes."""
        ...

    def matches(self, conn: Connection, query: KeywordQuery) -> list[int]:
        """Chunks holding any of the terms: at least the best ``query.limit`` (> 0)."""
        ...

    def sizes(self, conn: Connection, chatbot_id: str) -> Sizes:
        """The chatbot's indexed chunks and their total length."""
        ...

    def document_frequencies(
        self, conn: Connection, chatbot_id: str, terms: Sequence[str]
    ) -> dict[str, int]:
        """How many of the chatbot's indexed chunks hold each term."""
        ...

    def nearest(
        self, conn: Connection, chatbot_id: str, query: np.ndarray, limit: int
    ) -> list[tuple[int, float]]:
        """The chatbot's ``limit`` (> 0) chunks nearest to ``query`` and their cosines, best
        first."""
        ...

    def similarities(
        self, conn: Connection, chunk_ids: Sequence[int], query: np.ndarray
    ) -> dict[int, float]:
        """Cosine similarity of the query to each given indexed chunk."""
        ...


class SearchIndex(Protocol):
    """Keyword and vector search over the chunks of one chatbot: what the services call."""

    @property
    def dimensions(self) -> int:
        """The size of the vectors it holds."""
        ...

    def ensure(self, conn: Connection) -> None:
        """Create the vector table when missing; refuse one of a different size."""
        ...

    def add(self, conn: Connection, entries: Sequence[IndexEntry]) -> None:
        """Index chunks (in the caller's transaction)."""
        ...

    def remove(self, conn: Connection, chunk_ids: Sequence[int]) -> None:
        """Remove chunks from both indexes (in the caller's transaction)."""
        ...

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
        ...

    def vector(
        self,
        conn: Connection,
        chatbot_id: str,
        query: np.ndarray,
        limit: int,
        only: Sequence[int] | None = None,
    ) -> list[tuple[int, float]]:
        """The nearest chunks by cosine similarity, best first."""
        ...

    def similarities(
        self, conn: Connection, chunk_ids: Sequence[int], query: np.ndarray
    ) -> dict[int, float]:
        """Cosine similarity of the query to each given indexed chunk."""
        ...

    def idf(self, conn: Connection, terms: Sequence[str], chatbot_id: str) -> dict[str, float]:
        """Each term's idf (``bm25.idf``) over the chatbot's indexed chunks."""
        ...

    def begin_search(self) -> None:
        """Marks the start of a search on this thread (see ``MemorySearchIndex.snapshot``)."""
        ...

    def held_chunks(self, chatbot_id: str, chunk_ids: Sequence[int]) -> dict[int, HeldChunk]:
        """What the index holds in memory of these chunks."""
        ...

    def forget_statistics(self) -> None:
        """Drop cached statistics (only for tests and benchmarks that change the database
        behind the index's back: they are kept per version)."""
        ...


def searched_terms(terms: Sequence[str], limit: int, also: Sequence[int]) -> list[str]:
    """The query terms a keyword search looks for (``safe_terms``); none when it has nothing
    to do (no usable term, or no match wanted and no chunk to score)."""
    safe = safe_terms(terms)
    return safe if safe and (limit > 0 or also) else []


def keyword_hits(
    top: Iterable[tuple[int, float]], also: Iterable[tuple[int, float]]
) -> list[tuple[int, float]]:
    """A keyword search's answer: the top matches and the wanted chunks' scores, best first
    (ties by chunk id)."""
    picked = dict(top)
    picked.update(also)
    return sorted(picked.items(), key=lambda kv: (-kv[1], kv[0]))


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


def check_dimensions(found: int | None, expected: int) -> None:
    """Refuse a vector table of another size than the embedding model's."""
    if found is not None and found != expected:
        raise ChatforgeError(
            f"The vector index holds {found}-dimensional vectors but the embedding model "
            f"makes {expected}; re-index the knowledge or configure the previous model."
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
