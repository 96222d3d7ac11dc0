"""Rasa's message id on interactions, logged once per conversation: a partial unique index on (conversation_id, message_id)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05 20:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As app.models.support.HAS_MESSAGE_ID when this revision was written. Rows logged before have no id: nothing to clean.
HAS_MESSAGE_ID = "message_id IS NOT NULL"
INDEX = "uq_interactions_conversation_message"


def upgrade() -> None:
    with op.batch_alter_table("interactions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("message_id", sa.String(length=64), nullable=True))
    op.create_index(INDEX, "interactions", ["conversation_id", "message_id"], unique=True,
                    sqlite_where=sa.text(HAS_MESSAGE_ID), postgresql_where=sa.text(HAS_MESSAGE_ID))


def downgrade() -> None:
    op.drop_index(INDEX, table_name="interactions")
    with op.batch_alter_table("interactions", schema=None) as batch_op:
        batch_op.drop_column("message_id")
