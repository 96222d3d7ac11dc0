from datetime import datetime, timezone

from sqlalchemy import select, update
from sqlalchemy.orm import Session, selectinload

from app.models import HandoffTicket, Interaction, TicketMessage, TicketStatus
from app.schemas.support import HandoffCreate, InteractionCreate


def log_interaction(session: Session, *, data: InteractionCreate, customer_id: int | None) -> Interaction:
    interaction = Interaction(
        conversation_id=data.conversation_id,
        customer_id=customer_id,
        channel=data.channel,
        text=data.text,
        intent=data.intent,
        intent_confidence=data.intent_confidence,
        sentiment=data.sentiment.label if data.sentiment else None,
        sentiment_score=data.sentiment.score if data.sentiment else None,
    )
    session.add(interaction)
    session.commit()
    return interaction


def list_interactions(session: Session, *, customer_id: int, limit: int) -> list[Interaction]:
    return list(
        session.scalars(
            select(Interaction)
            .where(Interaction.customer_id == customer_id)
            .order_by(Interaction.created_at.desc(), Interaction.id.desc())
            .limit(limit)
        )
    )


def _ticket_query():  # type: ignore[no-untyped-def]
    return select(HandoffTicket).options(selectinload(HandoffTicket.messages))


def get_ticket(session: Session, *, ticket_id: int) -> HandoffTicket | None:
    return session.scalar(_ticket_query().where(HandoffTicket.id == ticket_id))


def open_ticket_for_conversation(session: Session, *, conversation_id: str) -> HandoffTicket | None:
    return session.scalar(
        _ticket_query().where(
            HandoffTicket.conversation_id == conversation_id, HandoffTicket.status != TicketStatus.resolved
        )
    )


def create_ticket(session: Session, *, data: HandoffCreate, customer_id: int | None, priority: float) -> HandoffTicket:
    """Open a ticket, or return the conversation's open one so a repeated request never queues twice."""
    existing = open_ticket_for_conversation(session, conversation_id=data.conversation_id)
    if existing is not None:
        return existing
    ticket = HandoffTicket(
        conversation_id=data.conversation_id,
        customer_id=customer_id,
        reason=data.reason.value,
        priority=priority,
        transcript=[entry.model_dump(mode="json") for entry in data.transcript],
        context=data.context,
    )
    session.add(ticket)
    session.commit()
    return get_ticket(session, ticket_id=ticket.id)  # type: ignore[return-value]


def ticket_queue(session: Session, *, status: TicketStatus | None, limit: int) -> list[HandoffTicket]:
    query = _ticket_query().order_by(HandoffTicket.priority.desc(), HandoffTicket.created_at, HandoffTicket.id).limit(limit)
    if status is not None:
        query = query.where(HandoffTicket.status == status)
    return list(session.scalars(query))


def claim_ticket(session: Session, *, ticket_id: int, agent_name: str) -> bool:
    """Claim atomically: of several agents claiming at once, exactly one wins."""
    result = session.execute(
        update(HandoffTicket)
        .where(HandoffTicket.id == ticket_id, HandoffTicket.status == TicketStatus.waiting)
        .values(status=TicketStatus.claimed, agent=agent_name, claimed_at=datetime.now(timezone.utc))
    )
    session.commit()
    return result.rowcount == 1


def add_ticket_message(session: Session, *, ticket: HandoffTicket, sender: str, author: str | None, text: str) -> TicketMessage:
    message = TicketMessage(ticket_id=ticket.id, sender=sender, author=author, text=text)
    session.add(message)
    session.commit()
    return message


def resolve_ticket(session: Session, *, ticket: HandoffTicket, note: str) -> None:
    ticket.status = TicketStatus.resolved
    ticket.resolution_note = note or None
    ticket.resolved_at = datetime.now(timezone.utc)
    session.commit()
