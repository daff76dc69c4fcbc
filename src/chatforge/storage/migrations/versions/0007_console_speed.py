"""An index for the console's insights on large organizations (bench/console.py).

Insights count the conversations started each day, chatbot by chatbot (today's on every
visit): ``chat_sessions (chatbot_id, created_at)``.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index(
        "ix_chat_sessions_chatbot_created", "chat_sessions", ["chatbot_id", "created_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_chat_sessions_chatbot_created", table_name="chat_sessions")
