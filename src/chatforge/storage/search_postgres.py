"""The PostgreSQL index: a tsvector table finds keyword candidates, pgvector's HNSW vector ones.

The table holds the analysed terms that SQLite's FTS5 holds, written as tsvector literals by hand
so that PostgreSQL's parser cannot rewrite them. Candidates are ranked in SQL by the formula of
``bm25`` with the chatbot's own statistics, so they are the chunks memory search would rank
first; their scores are then ``bm25.score_chunks``'s over the stored terms
(``search.DatabaseIndex``), which also counts a term past the tsvector's 256 positions.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from sqlalchemy import Connection, bindparam, text

from chatforge.storage.bm25 import K1
from chatforge.storage.search_index import IndexEntry, KeywordQuery, Sizes, check_dimensions


def vector_literal(vector: np.ndarray) -> str:
    """pgvector's text form of a vector."""
    return "[" + ",".join(f"{x:.7g}" for x in vector.tolist()) + "]"


class PostgresCandidates:
    """A tsvector table ranked by ``bm25``'s formula, and pgvector with HNSW: the
    ``Candidates`` of a PostgreSQL database."""

    def __init__(self, dimensions: int) -> None:
        self.dimensions = dimensions

    def ensure(self, conn: Connection) -> None:
        typmod = conn.execute(
            text(
                "SELECT atttypmod FROM pg_attribute WHERE attrelid = "
                "to_regclass('chunk_vectors') AND attname = 'embedding'"
            )
        ).scalar()
        if typmod is not None:
            check_dimensions(int(typmod), self.dimensions)
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

    def sizes(self, conn: Connection, chatbot_id: str) -> Sizes:
        chunks, length = conn.execute(
            text(
                "SELECT count(*), coalesce(sum(length), 0) FROM chunk_terms WHERE chatbot_id = :c"
            ),
            {"c": chatbot_id},
        ).one()
        return Sizes(int(chunks), int(length))

    def document_frequencies(
        self, conn: Connection, chatbot_id: str, terms: Sequence[str]
    ) -> dict[str, int]:
        rows = conn.execute(
            text(
                "SELECT t, (SELECT count(*) FROM chunk_terms WHERE chatbot_id = :c "
                "AND tsv @@ CAST(quote_literal(t) AS tsquery)) "
                "FROM unnest(CAST(:terms AS text[])) AS t"
            ),
            {"terms": list(terms), "c": chatbot_id},
        )
        return {str(term): int(n) for term, n in rows}

    def insert(self, conn: Connection, entries: Sequence[IndexEntry]) -> None:
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

    def delete(self, conn: Connection, chunk_ids: Sequence[int]) -> None:
        ids = [int(i) for i in chunk_ids]
        conn.execute(text("DELETE FROM chunk_terms WHERE chunk_id = ANY(:ids)"), {"ids": ids})
        conn.execute(text("DELETE FROM chunk_vectors WHERE chunk_id = ANY(:ids)"), {"ids": ids})

    def matches(self, conn: Connection, query: KeywordQuery) -> list[int]:
        terms, weights, statistics, only = query.terms, query.weights, query.statistics, query.only
        filter_sql = " AND k.chunk_id = ANY(:only)" if only is not None else ""
        statement = text(
            "WITH q(term, idf) AS (SELECT * FROM unnest(CAST(:terms AS text[]), "
            "CAST(:idfs AS float8[]))) "
            "SELECT k.chunk_id FROM chunk_terms k CROSS JOIN LATERAL ("
            "  SELECT u.lexeme, (SELECT sum(CASE WHEN w = 'A' THEN :wt ELSE :wb END) "
            "  FROM unnest(u.weights) AS w) AS tfw FROM unnest(k.tsv) AS u"
            "  WHERE u.lexeme = ANY(CAST(:terms AS text[]))) t "
            "JOIN q ON q.term = t.lexeme "
            f"WHERE k.chatbot_id = :c AND k.tsv @@ CAST(:tsq AS tsquery){filter_sql} "
            "GROUP BY k.chunk_id ORDER BY sum(q.idf * (t.tfw * (:k1 + 1)) / "
            "(t.tfw + :k1 * (1 - :b + :b * k.length / :avgdl))) DESC, k.chunk_id LIMIT :k"
        )
        params: dict[str, object] = {
            "terms": list(terms),
            "idfs": [statistics.idf(t) for t in terms],
            "k1": K1,
            "b": weights.b,
            "avgdl": statistics.avgdl,
            "wt": weights.title,
            "wb": weights.body,
            "c": query.chatbot_id,
            "tsq": " | ".join(f"'{t}'" for t in terms),
            "k": query.limit,
        }
        if only is not None:
            params["only"] = [int(i) for i in only]
        return [int(r[0]) for r in conn.execute(statement, params)]

    def nearest(
        self, conn: Connection, chatbot_id: str, query: np.ndarray, limit: int
    ) -> list[tuple[int, float]]:
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
