"""Knowledge items, chunks, the jobs queue and the keyword index.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

JSON_TYPE = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:

    op.create_table(
        "knowledge_items",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("chatbot_id", sa.String(length=36), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False),
        sa.Column("chunks", sa.Integer(), nullable=False),
        sa.Column("content_hash", sa.String(length=64), nullable=False),
        sa.Column("content", sa.Text(), nullable=True),
        sa.Column("file_key", sa.String(length=300), nullable=True),
        sa.Column("metadata", JSON_TYPE, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["chatbot_id"], ["chatbots.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("knowledge_items", schema=None) as batch_op:
        batch_op.create_index(
            "ix_knowledge_items_chatbot_created", ["chatbot_id", "created_at"], unique=False
        )
        batch_op.create_index(
            "ix_knowledge_items_chatbot_hash", ["chatbot_id", "content_hash"], unique=False
        )

    op.create_table(
        "chunks",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("item_id", sa.String(length=36), nullable=False),
        sa.Column("chatbot_id", sa.String(length=36), nullable=False),
        sa.Column("chunk_index", sa.Integer(), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("tokens", sa.Integer(), nullable=False),
        sa.Column("page", sa.Integer(), nullable=True),
        sa.Column("embedding", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["knowledge_items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("chunks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_chunks_chatbot_id"), ["chatbot_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_chunks_item_id"), ["item_id"], unique=False)

    op.create_table(
        "jobs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("item_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("run_after", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("worker_id", sa.String(length=64), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["item_id"], ["knowledge_items.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_claim", ["status", "run_after"], unique=False)
        batch_op.create_index(batch_op.f("ix_jobs_item_id"), ["item_id"], unique=False)

    if op.get_bind().dialect.name == "sqlite":
        # Contentless FTS5: the text lives in chunks; rowid is the chunk id. "scope" holds one
        # token per chatbot so that a search intersects with the chatbot's postings.
        op.execute(
            "CREATE VIRTUAL TABLE chunks_fts USING fts5(scope, title, body, content='', "
            "contentless_delete=1, tokenize='unicode61 remove_diacritics 2')"
        )
        # Document frequencies of terms, for the BM25 ceiling of a query.
        op.execute("CREATE VIRTUAL TABLE chunks_fts_vocab USING fts5vocab('chunks_fts', 'row')")
        # Virtual tables have no foreign keys: a trigger follows cascaded deletes of chunks.
        op.execute(
            "CREATE TRIGGER chunks_fts_delete AFTER DELETE ON chunks BEGIN "
            "DELETE FROM chunks_fts WHERE rowid = old.id; END"
        )
    else:
        op.execute("CREATE EXTENSION IF NOT EXISTS vector")
        op.execute(
            "CREATE TABLE chunk_terms ("
            "chunk_id BIGINT PRIMARY KEY REFERENCES chunks(id) ON DELETE CASCADE, "
            "chatbot_id VARCHAR(36) NOT NULL, length INTEGER NOT NULL, tsv TSVECTOR NOT NULL)"
        )
        op.execute("CREATE INDEX ix_chunk_terms_tsv ON chunk_terms USING gin (tsv)")
        op.execute("CREATE INDEX ix_chunk_terms_chatbot ON chunk_terms (chatbot_id)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("DROP TRIGGER IF EXISTS chunks_fts_delete")
        op.execute("DROP TABLE IF EXISTS chunks_fts_vocab")
        op.execute("DROP TABLE IF EXISTS chunks_fts")
    else:
        op.execute("DROP TABLE IF EXISTS chunk_terms")

    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_jobs_item_id"))
        batch_op.drop_index("ix_jobs_claim")

    op.drop_table("jobs")
    with op.batch_alter_table("chunks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_chunks_item_id"))
        batch_op.drop_index(batch_op.f("ix_chunks_chatbot_id"))

    op.drop_table("chunks")
    with op.batch_alter_table("knowledge_items", schema=None) as batch_op:
        batch_op.drop_index("ix_knowledge_items_chatbot_hash")
        batch_op.drop_index("ix_knowledge_items_chatbot_created")

    op.drop_table("knowledge_items")
