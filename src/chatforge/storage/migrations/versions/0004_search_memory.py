"""Chunks keep their analysed terms; chatbots' search versions for in-memory search.

Chunk ids become AUTOINCREMENT on SQLite, so that an id is never reused: the memory index tells
chunks apart by id (PostgreSQL's identity never reuses one).

``chunks.terms`` lets a chatbot's keyword index be rebuilt in memory without analysing its text
again; ``search_versions`` moves whenever a chatbot's indexed chunks change, so that every process
knows when its memory copy is stale (``storage/memory_index``).

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # On SQLite the table is rebuilt (with its indexes; the vector index's trigger is made again
    # by ``SearchIndex.ensure`` at start-up).
    terms = sa.Column("terms", sa.Text(), nullable=True)
    if op.get_bind().dialect.name != "sqlite":
        op.add_column("chunks", terms)
    else:
        with op.batch_alter_table(
            "chunks", recreate="always", table_kwargs={"sqlite_autoincrement": True}
        ) as batch_op:
            batch_op.add_column(terms)
    op.create_table(
        "search_versions",
        sa.Column("chatbot_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("chatbot_id"),
    )


def downgrade() -> None:
    op.drop_table("search_versions")
    with op.batch_alter_table("chunks") as batch_op:
        batch_op.drop_column("terms")
