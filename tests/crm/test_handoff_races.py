"""A conversation has at most one open handoff ticket, enforced by the database (migration 0005): requests racing
through the real app on a SQLite file and on PostgreSQL, and the migration on a database the race already hit."""

from datetime import datetime, timezone
from functools import partial

import pytest
from alembic import command
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from app.core.db import make_engine, make_session_factory
from app.models import HandoffTicket, TicketStatus
from conftest import Desk, alembic_config, at_once

CALLERS = 8
ROUNDS = 5
AVAILABILITY = {"within_hours", "agents_online", "hours", "next_opening"}  # every caller gets the same answer


def open_at_once(desk: Desk, conversation: str) -> list[tuple[int, dict]]:
    """``CALLERS`` handoff requests for one conversation released together, each from its own thread; half of them
    for the verified customer, whose context (account summary) takes longer to build."""
    body = {"conversation_id": conversation, "reason": "customer_request"}
    callers = [desk.as_customer(conversation) if caller % 2 == 0 else desk.actions for caller in range(CALLERS)]
    responses = at_once([partial(desk.client.post, "/api/v1/handoffs", headers=headers, json=body) for headers in callers])
    return [(response.status_code, response.json()) for response in responses]


def tickets_of(desk: Desk, conversation: str) -> list[HandoffTicket]:
    with desk.session() as session:
        return list(session.scalars(select(HandoffTicket).where(HandoffTicket.conversation_id == conversation)))


def test_simultaneous_handoffs_open_exactly_one_ticket(desk: Desk) -> None:
    for round_number in range(ROUNDS):
        conversation = f"race-open-{round_number}"
        results = open_at_once(desk, conversation)
        assert [status for status, _ in results] == [201] * CALLERS, results
        assert len({body["id"] for _, body in results}) == 1, results
        assert all(body["status"] == "waiting" and set(body["availability"]) == AVAILABILITY for _, body in results)
        assert len(tickets_of(desk, conversation)) == 1


def test_a_resolved_conversation_can_be_handed_over_again_once(desk: Desk) -> None:
    alice = desk.bearer("alice")
    first = open_at_once(desk, "race-again")[0][1]["id"]
    desk.client.post(f"/api/v1/handoffs/{first}/claim", headers=alice)
    resolved = desk.client.post(f"/api/v1/handoffs/{first}/resolve", headers=alice, json={"note": "done"})
    assert resolved.status_code == 200
    second = {body["id"] for _, body in open_at_once(desk, "race-again")}
    assert len(second) == 1 and second != {first}
    statuses = sorted((t.id, t.status) for t in tickets_of(desk, "race-again"))
    assert statuses == [(first, TicketStatus.resolved), (second.pop(), TicketStatus.waiting)]


def _ticket(conversation: str, status: TicketStatus) -> HandoffTicket:
    now = datetime.now(timezone.utc)
    return HandoffTicket(conversation_id=conversation, reason="customer_request", status=status, queue_at=now,
                         created_at=now, transcript=[], context={})


def test_the_migration_closes_duplicates_the_race_left_and_then_refuses_them(database_url: str) -> None:
    config = alembic_config(database_url)
    command.downgrade(config, "0004")
    engine = make_engine(database_url)
    try:
        with make_session_factory(engine)() as session:
            session.add_all([_ticket("dup", TicketStatus.claimed), _ticket("dup", TicketStatus.waiting),
                             _ticket("dup", TicketStatus.waiting), _ticket("dup", TicketStatus.resolved),
                             _ticket("single", TicketStatus.waiting)])
            session.commit()
        command.upgrade(config, "head")
        with make_session_factory(engine)() as session:
            tickets = list(session.scalars(select(HandoffTicket).order_by(HandoffTicket.id)))
            assert [(t.conversation_id, t.status) for t in tickets] == [
                ("dup", TicketStatus.resolved), ("dup", TicketStatus.resolved), ("dup", TicketStatus.waiting),
                ("dup", TicketStatus.resolved), ("single", TicketStatus.waiting)]
            kept = tickets[2].id
            assert [t.resolution_note for t in tickets[:2]] == [f"Closed as a duplicate of ticket #{kept}."] * 2
            assert tickets[0].resolved_at is not None and tickets[3].resolution_note is None

            session.add(_ticket("dup", TicketStatus.claimed))
            with pytest.raises(IntegrityError):
                session.commit()
            session.rollback()
            session.add(_ticket("dup", TicketStatus.resolved))  # closed tickets are not limited
            session.commit()
            assert session.scalar(select(func.count()).select_from(HandoffTicket)
                                  .where(HandoffTicket.conversation_id == "dup")) == 5
    finally:
        engine.dispose()
