"""The SQLite index: FTS5 finds keyword candidates, sqlite-vec (exact cosine KNN, partitioned by
chatbot) vector ones.

FTS5 holds the analysed terms (``text.analysis``) of each indexed chunk, with one scope token per
chatbot so that a search intersects with the chatbot's postings. Its ``bm25()`` only orders the
matches to pick candidates; their scores are ``bm25.score_chunks``'s (``search.DatabaseIndex``).
FTS5's own formula fixes b at 0.75 and counts idf over every chatbot, so it ranks a little
differently: it hands over ``CANDIDATE_FACTOR`` times as many candidates as are asked for.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from sqlalchemy import ColumnElement, Connection, case, func, select, text

from chatforge.storage.models import Chunk
from chatforge.storage.search_index import (
    IndexEntry,
    KeywordQuery,
    Sizes,
    check_dimensions,
    indexed,
)

#: Keyword candidates FTS5 hands over, per one asked for.
CANDIDATE_FACTOR = 2


def _json_ids(ids: Sequence[int]) -> str:
    return "[" + ",".join(str(int(i)) for i in ids) + "]"


def stored_length() -> ColumnElement[int]:
    """SQL for a chunk's length from ``chunks.terms`` ("title terms\\nbody terms"): its terms
    + 1 (the scope token), as ``bm25.score_chunks`` counts it."""
    separators = func.length(Chunk.terms) - func.length(
        func.replace(func.replace(Chunk.terms, " ", ""), func.char(10), "")
    )
    empty_title = case((func.substr(Chunk.terms, 1, 1) == func.char(10), 1), else_=0)
    empty_body = case((func.substr(Chunk.terms, -1, 1) == func.char(10), 1), else_=0)
    length: ColumnElement[int] = separators + 2 - empty_title - empty_body
    return length


class SQLiteCandidates:
    """FTS5 and sqlite-vec: the ``Candidates`` of a SQLite database."""

    def __init__(self, dimensions: int) -> None:
        self.dimensions = dimensions

    def ensure(self, conn: Connection) -> None:
        ddl = conn.execute(
            text("SELECT sql FROM sqlite_master WHERE name = 'chunk_vectors'")
        ).scalar()
        if ddl is not None:
            match = re.search(r"float\[(\d+)\]", ddl, re.IGNORECASE)
            check_dimensions(int(match.group(1)) if match else None, self.dimensions)
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

    @staticmethod
    def _scope(chatbot_id: str) -> str:
        return "s" + chatbot_id.replace("-", "")

    def sizes(self, conn: Connection, chatbot_id: str) -> Sizes:
        query = select(func.count(), func.count(Chunk.terms), func.sum(stored_length()))
        chunks, stored, length = conn.execute(indexed(query, chatbot_id)).one()
        return Sizes(int(chunks), int(length or 0), int(chunks) - int(stored))

    def document_frequencies(
        self, conn: Connection, chatbot_id: str, terms: Sequence[str]
    ) -> dict[str, int]:
        found = {}
        for term in terms:  # safe terms: letters and digits only
            match = f'scope:{self._scope(chatbot_id)} AND {{title body}}: "{term}"'
            found[term] = int(
                conn.execute(
                    text("SELECT count(*) FROM chunks_fts WHERE chunks_fts MATCH :m"), {"m": match}
                ).scalar_one()
            )
        return found

    def insert(self, conn: Connection, entries: Sequence[IndexEntry]) -> None:
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

    def delete(self, conn: Connection, chunk_ids: Sequence[int]) -> None:
        for start in range(0, len(chunk_ids), 500):
            batch = [{"id": i} for i in chunk_ids[start : start + 500]]
            conn.execute(text("DELETE FROM chunks_fts WHERE rowid = :id"), batch)
            conn.execute(text("DELETE FROM chunk_vectors WHERE chunk_id = :id"), batch)

    def matches(self, conn: Connection, query: KeywordQuery) -> list[int]:
        quoted = " OR ".join(f'"{t}"' for t in query.terms)
        match = f"scope:{self._scope(query.chatbot_id)} AND {{title body}}: ({quoted})"
        params: dict[str, object] = {"m": match, "k": CANDIDATE_FACTOR * query.limit}
        where = ""
        weights, only = query.weights, query.only
        if only is not None:
            # Filtering the materialised matches, not the MATCH: FTS5 would re-run the full-text
            # query for every row of a rowid IN (...) constraint.
            where = " WHERE id IN (SELECT value FROM json_each(:only))"
            params["only"] = _json_ids(only)
        rows = conn.execute(
            text(
                "WITH m AS MATERIALIZED (SELECT rowid AS id, bm25(chunks_fts, 0.0, "
                f"{float(weights.title)}, {float(weights.body)}) AS rank FROM chunks_fts "
                f"WHERE chunks_fts MATCH :m) SELECT id FROM m{where} ORDER BY rank LIMIT :k"
            ),
            params,
        )
        return [int(r[0]) for r in rows]

    def nearest(
        self, conn: Connection, chatbot_id: str, query: np.ndarray, limit: int
    ) -> list[tuple[int, float]]:
        blob = np.asarray(query, dtype=np.float32).tobytes()
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
            {"q": np.asarray(query, dtype=np.float32).tobytes(), "ids": _json_ids(chunk_ids)},
        )
        return {int(r[0]): 1.0 - float(r[1]) for r in rows}
