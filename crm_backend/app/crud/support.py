from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from app.models import Agent, CannedReply, HandoffTicket, Interaction, MessageSender, TicketMessage, TicketStatus
from app.models.support import HAS_MESSAGE_ID, OPEN_TICKET_STATUSES
from app.schemas.support import HandoffCreate, InteractionCreate

# the databases the CRM runs on, each with its own INSERT ... ON CONFLICT
_INSERTS = {"postgresql": postgresql.insert, "sqlite": sqlite.insert}
Insert = postgresql.Insert | sqlite.Insert


def log_interaction(session: Session, *, data: InteractionCreate, customer_id: int | None) -> tuple[Interaction, bool]:
    """The logged message and whether it is new (a message id the conversation logged before is not logged again)."""
    interaction = _add_interaction(session, data, customer_id)
    session.commit()
    if interaction is not None:
        return interaction, True
    return session.scalars(select(Interaction).where(Interaction.conversation_id == data.conversation_id,
                                                     Interaction.message_id == data.message_id)).one(), False


def log_interactions(session: Session, messages: list[tuple[InteractionCreate, int | None]]
                     ) -> list[tuple[InteractionCreate, int | None]]:
    """Log messages (each with its customer, or None) in the order given, in one transaction; those that were new."""
    new = [(data, customer_id) for data, customer_id in messages
           if _add_interaction(session, data, customer_id) is not None]
    session.commit()
    return new


def _add_interaction(session: Session, data: InteractionCreate, customer_id: int | None) -> Interaction | None:
    """Log the message unless the conversation has logged its id before (None then): the unique index decides, so
    of two requests racing with the same message one logs it. While the conversation is handed over, a new message
    also goes to the agent in the ticket, unless the ticket's transcript has its id."""
    values = {"conversation_id": data.conversation_id, "customer_id": customer_id, "channel": data.channel,
              "text": data.text, "message_id": data.message_id, "intent": data.intent,
              "intent_confidence": data.intent_confidence,
              "sentiment": data.sentiment.label if data.sentiment else None,
              "sentiment_score": data.sentiment.score if data.sentiment else None}
    interaction = session.scalar(_insert_unless_logged(session).values(values).returning(Interaction))
    if interaction is None:
        return None
    ticket = session.execute(select(HandoffTicket.id, HandoffTicket.transcript).where(
        HandoffTicket.conversation_id == data.conversation_id, HandoffTicket.status.in_(OPEN_TICKET_STATUSES))).first()
    if ticket is not None and not _in_transcript(data.message_id, ticket.transcript):
        session.add(TicketMessage(ticket_id=ticket.id, sender=MessageSender.customer, author=None, text=data.text))
    return interaction


def _insert_unless_logged(session: Session) -> Insert:
    """``INSERT ... ON CONFLICT DO NOTHING`` on the index of logged message ids (messages without an id never conflict)."""
    insert = _INSERTS[session.get_bind().dialect.name]
    return insert(Interaction).on_conflict_do_nothing(index_elements=["conversation_id", "message_id"],
                                                      index_where=HAS_MESSAGE_ID)


def _in_transcript(message_id: str | None, transcript: list[dict[str, Any]]) -> bool:
    """Whether the ticket's transcript shows the agent this message already: the bot sent it when it opened the ticket,
    and Rasa logs a turn's customer message (the one that triggered the handoff) only after the turn's actions ran.
    A message without an id is never taken for one of the transcript's."""
    return message_id is not None and any(entry.get("message_id") == message_id for entry in transcript)


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
    """Tickets with their messages, always read fresh from the database (sessions keep objects after commit)."""
    return select(HandoffTicket).options(selectinload(HandoffTicket.messages)).execution_options(populate_existing=True)


def get_ticket(session: Session, *, ticket_id: int) -> HandoffTicket | None:
    return session.scalar(_ticket_query().where(HandoffTicket.id == ticket_id))


def open_ticket_for_conversation(session: Session, *, conversation_id: str) -> HandoffTicket | None:
    return session.scalar(
        _ticket_query().where(HandoffTicket.conversation_id == conversation_id, HandoffTicket.status.in_(OPEN_TICKET_STATUSES))
    )


def latest_ticket_for_conversation(session: Session, *, conversation_id: str) -> HandoffTicket | None:
    return session.scalar(
        _ticket_query().where(HandoffTicket.conversation_id == conversation_id).order_by(HandoffTicket.id.desc()).limit(1)
    )


def create_ticket(session: Session, *, data: HandoffCreate, customer_id: int | None, channel: str | None,
                  priority: float, created_at: datetime, queue_at: datetime, context: dict[str, Any]) -> HandoffTicket:
    """The new ticket, or the conversation's open ticket when a concurrent request has just opened it."""
    ticket = HandoffTicket(
        conversation_id=data.conversation_id,
        customer_id=customer_id,
        reason=data.reason.value,
        channel=channel,
        priority=priority,
        queue_at=queue_at,
        transcript=[entry.model_dump(mode="json") for entry in data.transcript],
        context=context,
        created_at=created_at,
    )
    session.add(ticket)
    try:
        session.commit()
    except IntegrityError:
        # another request opened the conversation's ticket since we looked: the unique index refused a second one
        session.rollback()
        existing = open_ticket_for_conversation(session, conversation_id=data.conversation_id)
        if existing is None:  # not that index (or the other ticket is already resolved): a real error
            raise
        return existing
    return get_ticket(session, ticket_id=ticket.id)  # type: ignore[return-value]


def ticket_queue(session: Session, *, status: TicketStatus | None, agent_id: int | None, limit: int) -> list[HandoffTicket]:
    """By effective priority (see ``app.services.priority``), then by id."""
    query = _ticket_query().order_by(HandoffTicket.queue_at, HandoffTicket.id).limit(limit)
    if status is not None:
        query = query.where(HandoffTicket.status == status)
    if agent_id is not None:
        query = query.where(HandoffTicket.agent_id == agent_id)
    return list(session.scalars(query))


def claim_ticket(session: Session, *, ticket_id: int, agent: Agent) -> bool:
    """Claim atomically (of several agents claiming at once, exactly one wins) and say so in the conversation."""
    result = session.execute(
        update(HandoffTicket)
        .where(HandoffTicket.id == ticket_id, HandoffTicket.status == TicketStatus.waiting)
        .values(status=TicketStatus.claimed, agent_id=agent.id, agent=agent.display_name,
                claimed_at=datetime.now(timezone.utc))
    )
    if result.rowcount != 1:
        session.rollback()
        return False
    session.add(TicketMessage(ticket_id=ticket_id, sender=MessageSender.system, author=agent.display_name,
                              text=f"{agent.display_name} joined the conversation"))
    session.commit()
    return True


def add_agent_message(session: Session, *, ticket: HandoffTicket, agent: Agent, text: str) -> TicketMessage:
    message = TicketMessage(ticket_id=ticket.id, sender=MessageSender.agent, author=agent.display_name, text=text)
    session.add(message)
    session.commit()
    return message


def resolve_ticket(session: Session, *, ticket_id: int, agent: Agent, note: str) -> bool:
    """Resolve a ticket the agent holds; ``False`` if it was resolved meanwhile."""
    result = session.execute(
        update(HandoffTicket)
        .where(HandoffTicket.id == ticket_id, HandoffTicket.status == TicketStatus.claimed,
               HandoffTicket.agent_id == agent.id)
        .values(status=TicketStatus.resolved, resolution_note=note or None, resolved_at=datetime.now(timezone.utc))
    )
    session.commit()
    return result.rowcount == 1


def rate_ticket(session: Session, *, ticket_id: int, rating: int, comment: str | None) -> bool:
    """Record the customer's rating once, and only after the ticket is resolved."""
    result = session.execute(
        update(HandoffTicket)
        .where(HandoffTicket.id == ticket_id, HandoffTicket.status == TicketStatus.resolved,
               HandoffTicket.rating.is_(None))
        .values(rating=rating, rating_comment=comment or None, rated_at=datetime.now(timezone.utc))
    )
    session.commit()
    return result.rowcount == 1


def messages_after(ticket: HandoffTicket, *, after: int, senders: tuple[MessageSender, ...] | None = None) -> list[TicketMessage]:
    return [m for m in ticket.messages if m.id > after and (senders is None or m.sender in senders)]


def canned_replies(session: Session) -> list[CannedReply]:
    return list(session.scalars(select(CannedReply).order_by(CannedReply.id)))
