"""The PostgreSQL index: a tsvector table scored with FTS5's BM25, and pgvector with HNSW.

The table holds the analysed terms that SQLite's FTS5 holds, written as tsvector literals by hand
so that PostgreSQL's parser cannot rewrite them; keyword scores use the same formula as FTS5's
``bm25()``, computed in SQL with the idf of ``SearchIndex.idf``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

import numpy as np
from sqlalchemy import Connection, bindparam, text

from chatforge.storage.search import (
    K1,
    STATS_TTL_SECONDS,
    IndexEntry,
    SearchIndex,
    Weights,
    safe_terms,
    vector_literal,
)


class PostgresSearchIndex(SearchIndex):
    """A tsvector table scored with FTS5's BM25, and pgvector with HNSW."""

    def __init__(self, dimensions: int) -> None:
        super().__init__(dimensions)
        self._avgdl = 0.0
        self._avgdl_at = -math.inf

    def forget_statistics(self) -> None:
        super().forget_statistics()
        self._avgdl_at = -math.inf

    def ensure(self, conn: Connection) -> None:
        typmod = conn.execute(
            text(
                "SELECT atttypmod FROM pg_attribute WHERE attrelid = "
                "to_regclass('chunk_vectors') AND attname = 'embedding'"
            )
        ).scalar()
        if typmod is not None:
            self._check_dimensions(int(typmod))
            return
        conn.execute(
            text(
                "CREATE TABLE IF NOT EXISTS chunk_vectors ("
                "chunk_id BIGINT PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE, "
                "chatbot_id VARCHAR(36) NOT NULL, "
                f"embedding vector({int(self.dimensions)}) NOT NULL)"
            )
        )
        conn.execute(
            text(
                "CREATE INDEX IF NOT EXISTS ix_chunk_vectors_hnsw ON chunk_vectors "
                "USING hnsw (embedding vector_cosine_ops) WITH (m = 16, ef_construction = 64)"
            )
        )
        conn.execute(
            text("CREATE INDEX IF NOT EXISTS ix_chunk_vectors_chatbot ON chunk_vectors(chatbot_id)")
        )

    def _count_rows(self, conn: Connection) -> int:
        return int(conn.execute(text("SELECT count(*) FROM chunk_terms")).scalar_one())

    def _document_frequencies(self, conn: Connection, terms: Sequence[str]) -> dict[str, int]:
        rows = conn.execute(
            text(
                "SELECT t, (SELECT count(*) FROM chunk_terms WHERE tsv @@ CAST(quote_literal(t) "
                "AS tsquery)) FROM unnest(CAST(:terms AS text[])) AS t"
            ),
            {"terms": list(terms)},
        )
        return {str(term): int(n) for term, n in rows}

    def add(self, conn: Connection, entries: Sequence[IndexEntry]) -> None:
        if not entries:
            return
        conn.execute(
            text(
                "INSERT INTO chunk_terms(chunk_id, chatbot_id, length, tsv) "
                "VALUES (:id, :c, :n, CAST(:tsv AS tsvector))"
            ),
            [
                {
                    "id": e.chunk_id,
                    "c": e.chatbot_id,
                    # + 1 for the scope token that FTS5 counts in a row's length.
                    "n": len(e.title_terms) + len(e.body_terms) + 1,
                    "tsv": _tsvector_literal(e.title_terms, e.body_terms),
                }
                for e in entries
            ],
        )
        conn.execute(
            text(
                "INSERT INTO chunk_vectors(chunk_id, chatbot_id, embedding) "
                "VALUES (:id, :c, CAST(:v AS vector))"
            ),
            [{"id": e.chunk_id, "c": e.chatbot_id, "v": vector_literal(e.vector)} for e in entries],
        )

    def remove(self, conn: Connection, chunk_ids: Sequence[int]) -> None:
        if not chunk_ids:
            return
        ids = [int(i) for i in chunk_ids]
        conn.execute(text("DELETE FROM chunk_terms WHERE chunk_id = ANY(:ids)"), {"ids": ids})
        conn.execute(text("DELETE FROM chunk_vectors WHERE chunk_id = ANY(:ids)"), {"ids": ids})

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
        tsquery = " | ".join(f"'{t}'" for t in safe)
        # Collection statistics are global, like FTS5's: rows, average length, idf per term.
        idf = self.idf(conn, safe)
        idfs = [idf.get(t, 1e-6) for t in safe]
        if time.monotonic() - self._avgdl_at > STATS_TTL_SECONDS:
            self._avgdl = float(
                conn.execute(text("SELECT coalesce(avg(length), 0) FROM chunk_terms")).scalar_one()
            )
            self._avgdl_at = time.monotonic()
        avgdl = self._avgdl or 1.0
        filter_sql = " AND k.chunk_id = ANY(:only)" if only is not None else ""
        statement = text(
            "WITH q(term, idf) AS (SELECT * FROM unnest(CAST(:terms AS text[]), "
            "CAST(:idfs AS float8[]))), m AS MATERIALIZED ("
            "SELECT k.chunk_id, sum(q.idf * (t.tfw * (:k1 + 1)) / "
            "(t.tfw + :k1 * (1 - :b + :b * k.length / :avgdl))) AS score "
            "FROM chunk_terms k CROSS JOIN LATERAL ("
            "  SELECT u.lexeme, (SELECT sum(CASE WHEN w = 'A' THEN :wt ELSE :wb END) "
            "  FROM unnest(u.weights) AS w) AS tfw FROM unnest(k.tsv) AS u"
            "  WHERE u.lexeme = ANY(CAST(:terms AS text[]))) t "
            "JOIN q ON q.term = t.lexeme "
            f"WHERE k.chatbot_id = :c AND k.tsv @@ CAST(:tsq AS tsquery){filter_sql} "
            "GROUP BY k.chunk_id) "
            "SELECT chunk_id, score FROM (SELECT * FROM m ORDER BY score DESC LIMIT :k) top "
            "UNION SELECT chunk_id, score FROM m WHERE chunk_id = ANY(:also)"
        )
        params: dict[str, object] = {
            "terms": safe,
            "idfs": idfs,
            "k1": K1,
            "b": weights.b,
            "avgdl": avgdl,
            "wt": weights.title,
            "wb": weights.body,
            "c": chatbot_id,
            "tsq": tsquery,
            "k": limit,
            "also": [int(i) for i in also],
        }
        if only is not None:
            params["only"] = [int(i) for i in only]
        rows = conn.execute(statement, params)
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
        if only is not None:
            scores = self.similarities(conn, only, query)
            return sorted(scores.items(), key=lambda kv: -kv[1])[:limit]
        # SET LOCAL holds only inside a transaction: a read connection in autocommit (the search
        # path's, to save BEGIN and ROLLBACK when memory answers) starts one here.
        if conn.get_execution_options().get("isolation_level") == "AUTOCOMMIT":
            if conn.in_transaction():
                conn.commit()  # ends SQLAlchemy's own autobegin; the server had no transaction
            conn.execution_options(isolation_level="READ COMMITTED")
        # HNSW with a filter: iterative scans keep going until enough rows of this chatbot match.
        conn.execute(text("SET LOCAL hnsw.iterative_scan = relaxed_order"))
        conn.execute(text(f"SET LOCAL hnsw.ef_search = {max(40, min(int(limit), 1000))}"))
        rows = conn.execute(
            text(
                "SELECT chunk_id, 1 - (embedding <=> CAST(:q AS vector)) AS sim "
                "FROM chunk_vectors WHERE chatbot_id = :c "
                "ORDER BY embedding <=> CAST(:q AS vector) LIMIT :k"
            ),
            {"q": vector_literal(query), "c": chatbot_id, "k": limit},
        )
        # relaxed_order may return neighbours slightly out of order.
        return sorted(((int(r[0]), float(r[1])) for r in rows), key=lambda kv: -kv[1])

    def similarities(
        self, conn: Connection, chunk_ids: Sequence[int], query: np.ndarray
    ) -> dict[int, float]:
        if not chunk_ids:
            return {}
        rows = conn.execute(
            text(
                "SELECT chunk_id, 1 - (embedding <=> CAST(:q AS vector)) FROM chunk_vectors "
                "WHERE chunk_id = ANY(:ids)"
            ).bindparams(bindparam("ids")),
            {"q": vector_literal(query), "ids": [int(i) for i in chunk_ids]},
        )
        return {int(r[0]): float(r[1]) for r in rows}


def _tsvector_literal(title_terms: Sequence[str], body_terms: Sequence[str]) -> str:
    # Built by hand rather than by to_tsvector() so that PostgreSQL's parser cannot split or
    # rewrite the analysed terms: the index holds exactly the terms that SQLite's FTS5 holds.
    positions: dict[str, list[str]] = {}
    position = 0
    for weight, terms in (("A", title_terms), ("B", body_terms)):
        for term in terms:
            position = min(position + 1, 16383)
            positions.setdefault(term, []).append(f"{position}{weight}")
    return " ".join(f"'{term}':{','.join(p[:256])}" for term, p in positions.items())
