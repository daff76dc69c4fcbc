"""A chunk's heading and body are columns, not text to parse back out of its okchat form.

``chunks.content`` stays (okchat's API returns it); ``body`` is the text under its ``Content:``
line, or a Q&A pair's answer, and ``heading`` the heading of the chunk's section.

Existing rows get their body from their content: this migration is the one place that reads
the old form. Their heading stays null: the old form does not say whether a body's first line
is a heading, and a heading equal to the item's title was never written at all. Indexing an
item again fills it.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

#: Rows read and written per round trip of the backfill.
_BATCH = 1000
# The two stored forms (rag/chunking.py when this revision was written); the question of a Q&A
# pair is one line.
_CONTENT_HEADER = re.compile(r"\ATitle: [^\n]*\nChunk: \d+\n\nContent:\n")
_QNA_HEADER = re.compile(r"\ATitle: [^\n]*\nChunk: \d+\n\nQuestion: [^\n]*\n\nAnswer: ")


def body_of(content: str) -> str:
    """A chunk's body, from its okchat form; content in any other form is its own body."""
    header = _QNA_HEADER.match(content) or _CONTENT_HEADER.match(content)
    return content[header.end() :] if header is not None else content


def upgrade() -> None:
    # Added in place on both databases (SQLite's ADD COLUMN keeps the table, its triggers and
    # its AUTOINCREMENT); the server default fills existing rows until the backfill below.
    op.add_column("chunks", sa.Column("heading", sa.Text(), nullable=True))
    op.add_column("chunks", sa.Column("body", sa.Text(), server_default="", nullable=False))
    chunks = sa.table(
        "chunks", sa.column("id", sa.BigInteger), sa.column("content"), sa.column("body")
    )
    conn = op.get_bind()
    last = -1
    while True:
        # By id, a batch at a time: a large knowledge base is never read into memory whole.
        rows = conn.execute(
            sa.select(chunks.c.id, chunks.c.content)
            .where(chunks.c.id > last)
            .order_by(chunks.c.id)
            .limit(_BATCH)
        ).all()
        if not rows:
            break
        conn.execute(
            chunks.update().where(chunks.c.id == sa.bindparam("chunk_id")),
            [{"chunk_id": row.id, "body": body_of(row.content or "")} for row in rows],
        )
        last = rows[-1].id


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        # SQLite drops a column in place since 3.35; a batch rebuild would lose the table's
        # triggers (the search indexes' deletes).
        op.execute("ALTER TABLE chunks DROP COLUMN body")
        op.execute("ALTER TABLE chunks DROP COLUMN heading")
    else:
        op.drop_column("chunks", "body")
        op.drop_column("chunks", "heading")
