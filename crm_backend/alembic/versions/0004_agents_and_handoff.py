"""agents who sign in, canned replies, and handoff tickets with channel, claiming agent, queue position and rating

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-28 10:00:00
"""

from collections.abc import Sequence
from datetime import timedelta, timezone

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As app.services.priority.PRIORITY_HEAD_START when this revision was written: a ticket is queued as if it had
# arrived this much earlier per point of priority.
HEAD_START_PER_POINT = timedelta(minutes=10)


def upgrade() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username", sa.String(length=40), nullable=False),
        sa.Column("display_name", sa.String(length=80), nullable=False),
        sa.Column("password_hash", sa.String(length=255), nullable=False),
        sa.Column("is_active", sa.Boolean(), nullable=False),
        sa.Column("last_seen_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("username"),
    )
    op.create_table(
        "agent_login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("username_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_agent_login_failures_username", "agent_login_failures", ["username_hash", "created_at"])
    op.create_table(
        "canned_replies",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=80), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("title"),
    )
    with op.batch_alter_table("handoff_tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("channel", sa.String(length=40), nullable=True))
        batch_op.add_column(sa.Column("queue_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("agent_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("rating", sa.SmallInteger(), nullable=True))
        batch_op.add_column(sa.Column("rating_comment", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key("fk_handoff_tickets_agent_id_agents", "agents", ["agent_id"], ["id"], ondelete="SET NULL")
        batch_op.drop_index("ix_handoff_tickets_queue")
    _fill_queue_positions()
    with op.batch_alter_table("handoff_tickets", schema=None) as batch_op:
        batch_op.alter_column("queue_at", existing_type=sa.DateTime(timezone=True), nullable=False)
        batch_op.create_index("ix_handoff_tickets_queue", ["status", "queue_at"], unique=False)


def _fill_queue_positions() -> None:
    tickets = sa.table("handoff_tickets", sa.column("id", sa.Integer()), sa.column("priority", sa.Float()),
                       sa.column("created_at", sa.DateTime(timezone=True)), sa.column("queue_at", sa.DateTime(timezone=True)))
    connection = op.get_bind()
    rows = connection.execute(sa.select(tickets.c.id, tickets.c.priority, tickets.c.created_at)).all()
    updates = [
        {"ticket_id": ticket_id,
         "position": (created if created.tzinfo else created.replace(tzinfo=timezone.utc)) - HEAD_START_PER_POINT * priority}
        for ticket_id, priority, created in rows
    ]
    if updates:
        connection.execute(
            tickets.update().where(tickets.c.id == sa.bindparam("ticket_id")).values(queue_at=sa.bindparam("position")),
            updates,
        )


def downgrade() -> None:
    with op.batch_alter_table("handoff_tickets", schema=None) as batch_op:
        batch_op.drop_index("ix_handoff_tickets_queue")
        batch_op.create_index("ix_handoff_tickets_queue", ["status", "priority", "created_at"], unique=False)
        batch_op.drop_constraint("fk_handoff_tickets_agent_id_agents", type_="foreignkey")
        for column in ("rated_at", "rating_comment", "rating", "agent_id", "queue_at", "channel"):
            batch_op.drop_column(column)
    op.drop_table("canned_replies")
    op.drop_index("ix_agent_login_failures_username", table_name="agent_login_failures")
    op.drop_table("agent_login_failures")
    op.drop_table("agents")
