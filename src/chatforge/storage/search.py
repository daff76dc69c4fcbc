"""The search indexes: which one a database gets, and the names the rest of the code uses.

- ``bm25``: the one keyword score, used by every path.
- ``search_index``: the interface; keyword scoring over candidates and per-chatbot statistics,
  shared by the database indexes.
- ``search_sqlite``: FTS5 and sqlite-vec find candidates.
- ``search_postgres``: tsvector and pgvector's HNSW find candidates.
- ``memory_index`` and ``segments``: a chatbot's chunks held in memory, in front of those.

Each module imports only the ones above it in this list, so none imports another back.
"""

from __future__ import annotations

from chatforge.errors import ChatforgeError
from chatforge.storage.bm25 import Weights
from chatforge.storage.search_index import (
    HeldChunk,
    IndexEntry,
    SearchIndex,
    TermsOf,
    join_terms,
    pack_embedding,
    safe_terms,
    scored_windows,
    split_terms,
    unpack_embedding,
)
from chatforge.storage.search_postgres import PostgresSearchIndex
from chatforge.storage.search_sqlite import SQLiteSearchIndex

__all__ = [
    "HeldChunk",
    "IndexEntry",
    "PostgresSearchIndex",
    "SQLiteSearchIndex",
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


def make_search_index(dialect: str, dimensions: int) -> SearchIndex:
    """The index implementation for a database dialect name."""
    if dialect == "sqlite":
        return SQLiteSearchIndex(dimensions)
    if dialect == "postgresql":
        return PostgresSearchIndex(dimensions)
    raise ChatforgeError(f"Unsupported database: {dialect}.")
