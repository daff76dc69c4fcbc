"""Indexes for the console's pages on large organizations (bench/console.py).

Insights count today's messages and ratings on every visit (``created_at``); the inbox lists
an organization's conversations most recently active first (``chat_sessions.updated_at``).

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_chat_messages_created", "chat_messages", ["created_at"])
    op.create_index("ix_chat_sessions_updated", "chat_sessions", ["updated_at"])
    op.create_index("ix_message_feedback_created", "message_feedback", ["created_at"])


def downgrade() -> None:
    op.drop_index("ix_message_feedback_created", table_name="message_feedback")
    op.drop_index("ix_chat_sessions_updated", table_name="chat_sessions")
    op.drop_index("ix_chat_messages_created", table_name="chat_messages")
