"""at most one open handoff ticket per conversation: a partial unique index on handoff_tickets.conversation_id

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence
from datetime import datetime, timezone
from itertools import groupby

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# As app.models.support.OPEN_TICKET_CONDITION when this revision was written.
OPEN_CONDITION = "status IN ('waiting', 'claimed')"
INDEX = "uq_handoff_tickets_open_conversation"


def upgrade() -> None:
    _resolve_duplicate_open_tickets()
    op.create_index(INDEX, "handoff_tickets", ["conversation_id"], unique=True,
                    sqlite_where=sa.text(OPEN_CONDITION), postgresql_where=sa.text(OPEN_CONDITION))


def _resolve_duplicate_open_tickets() -> None:
    """Before the index, a race could open two tickets for one conversation. The newest stays open (it is the one the
    assistant reads); the others are resolved with a note that names it, and stay readable by agents."""
    tickets = sa.table("handoff_tickets", sa.column("id", sa.Integer()), sa.column("conversation_id", sa.String()),
                       sa.column("status", sa.String()), sa.column("resolution_note", sa.Text()),
                       sa.column("resolved_at", sa.DateTime(timezone=True)))
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(tickets.c.conversation_id, tickets.c.id)
        .where(sa.text(OPEN_CONDITION))
        .order_by(tickets.c.conversation_id, tickets.c.id.desc())
    ).all()
    now = datetime.now(timezone.utc)
    updates = []
    for _, group in groupby(rows, key=lambda row: row.conversation_id):
        kept, *duplicates = [row.id for row in group]
        note = f"Closed as a duplicate of ticket #{kept}."
        updates += [{"ticket_id": ticket_id, "note": note} for ticket_id in duplicates]
    if updates:
        connection.execute(
            tickets.update().where(tickets.c.id == sa.bindparam("ticket_id"))
            .values(status="resolved", resolution_note=sa.bindparam("note"), resolved_at=now),
            updates,
        )


def downgrade() -> None:
    op.drop_index(INDEX, table_name="handoff_tickets")
