"""Writing a knowledge item's chunks into the chunks table and the search indexes.

An item's chunks, keyword rows and vectors are replaced in one transaction, so that a search
never sees half an item and a re-run of the same job leaves exactly one copy.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sqlalchemy import Connection, delete, insert, select

from chatforge.rag.chunking import qna_text
from chatforge.storage.models import Chunk, KnowledgeItem
from chatforge.storage.search import (
    IndexEntry,
    SearchIndex,
    join_terms,
    pack_embedding,
    split_terms,
    unpack_embedding,
)
from chatforge.text.analysis import analyze


@dataclass(frozen=True)
class ChunkRow:
    """A chunk ready to be stored: its fields, its okchat form, position and embedding."""

    chunk_index: int
    title: str
    content: str
    #: The chunk's text (a Q&A pair's answer), as ``Chunk.body`` stores it.
    body: str
    tokens: int
    page: int | None
    vector: np.ndarray
    #: Vectors of the chunk's windows, ``(n, d)``; none for a chunk that fits in one window.
    windows: np.ndarray | None = None
    heading: str | None = None
    #: A Q&A pair: ``title`` is its question, ``body`` its answer.
    qna: bool = False


def replace_chunks(
    conn: Connection,
    index: SearchIndex,
    *,
    item_id: str,
    chatbot_id: str,
    rows: Sequence[ChunkRow],
    searchable: bool,
) -> None:
    """Replace the item's chunks (and their index rows) with ``rows``."""
    disable_item(conn, index, item_id)
    conn.execute(delete(Chunk).where(Chunk.item_id == item_id))
    if not rows:
        return
    terms = [chunk_terms(row.title, row.body, qna=row.qna) for row in rows]
    ids = (
        conn.execute(
            insert(Chunk).returning(Chunk.id, sort_by_parameter_order=True),
            [
                {
                    "item_id": item_id,
                    "chatbot_id": chatbot_id,
                    "chunk_index": row.chunk_index,
                    "title": row.title,
                    "heading": row.heading,
                    "body": row.body,
                    "content": row.content,
                    "tokens": row.tokens,
                    "page": row.page,
                    "embedding": pack_embedding(row.vector, row.windows),
                    "terms": join_terms(*row_terms),
                }
                for row, row_terms in zip(rows, terms, strict=True)
            ],
        )
        .scalars()
        .all()
    )
    if searchable:
        index.add(
            conn,
            [
                IndexEntry(
                    chunk_id=int(chunk_id),
                    chatbot_id=chatbot_id,
                    title_terms=title_terms,
                    body_terms=body_terms,
                    vector=row.vector,
                    windows=row.windows,
                )
                for chunk_id, row, (title_terms, body_terms) in zip(ids, rows, terms, strict=True)
            ],
        )


def disable_item(conn: Connection, index: SearchIndex, item_id: str) -> None:
    """Take the item's chunks out of the indexes (they stay in the chunks table)."""
    ids = list(conn.execute(select(Chunk.id).where(Chunk.item_id == item_id)).scalars())
    index.remove(conn, ids)


def enable_item(conn: Connection, index: SearchIndex, item_id: str) -> None:
    """Put the item's stored chunks back into the indexes, without re-embedding."""
    disable_item(conn, index, item_id)
    chunks = conn.execute(
        select(
            Chunk.id, Chunk.chatbot_id, Chunk.title, Chunk.body, Chunk.terms, Chunk.embedding,
            KnowledgeItem.type,
        )
        .join(KnowledgeItem, KnowledgeItem.id == Chunk.item_id)
        .where(Chunk.item_id == item_id)
    ).all()  # fmt: skip
    entries = []
    for c in chunks:
        title_terms, body_terms = (
            split_terms(c.terms)
            if c.terms is not None
            else chunk_terms(c.title, c.body, qna=c.type == "qna")
        )
        vector, windows = unpack_embedding(c.embedding, index.dimensions)
        entries.append(
            IndexEntry(
                chunk_id=int(c.id),
                chatbot_id=c.chatbot_id,
                title_terms=title_terms,
                body_terms=body_terms,
                vector=vector,
                windows=windows,
            )
        )
    index.add(conn, entries)


def chunk_terms(title: str, body: str, qna: bool = False) -> tuple[list[str], list[str]]:
    """The analysed title and body terms of a chunk (for a Q&A pair, ``title`` is the question).

    A Q&A pair's body is searched with its question (:func:`~chatforge.rag.chunking.qna_text`):
    its vector is the question's alone, and its words must find it by keyword too.
    """
    return analyze(title), analyze(qna_text(title, body) if qna else body)
