from datetime import datetime, timezone
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from app.models import Agent, CannedReply, HandoffTicket, Interaction, MessageSender, TicketMessage, TicketStatus
from app.models.support import OPEN_TICKET_STATUSES
from app.schemas.support import HandoffCreate, InteractionCreate


def log_interaction(session: Session, *, data: InteractionCreate, customer_id: int | None) -> Interaction:
    interaction = _add_interaction(session, data, customer_id)
    session.commit()
    return interaction


def log_interactions(session: Session, messages: list[tuple[InteractionCreate, int | None]]) -> None:
    """Log messages (each with its customer, or None) in the order given, in one transaction."""
    for data, customer_id in messages:
        _add_interaction(session, data, customer_id)
    session.commit()


def _add_interaction(session: Session, data: InteractionCreate, customer_id: int | None) -> Interaction:
    """Log the message; while the conversation is handed over, the agent also gets it in the ticket, unless the
    ticket's transcript already has it (see ``_already_in_transcript``)."""
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
    session.flush()  # the message takes its place in the log
    ticket = session.execute(select(HandoffTicket.id, HandoffTicket.created_at, HandoffTicket.transcript).where(
        HandoffTicket.conversation_id == data.conversation_id, HandoffTicket.status.in_(OPEN_TICKET_STATUSES))).first()
    if ticket is not None and not _already_in_transcript(session, interaction, ticket.created_at, ticket.transcript):
        session.add(TicketMessage(ticket_id=ticket.id, sender=MessageSender.customer, author=None, text=data.text))
    return interaction


def _unlogged_tail(transcript: list[str], logged: list[str]) -> list[str]:
    """The transcript's customer messages that were not in the log yet: what follows the longest start of the
    transcript that the log ends with (both oldest first). Assuming as much as possible logged errs towards showing
    a message twice, never towards hiding one that is not in the transcript."""
    for count in range(min(len(transcript), len(logged)), 0, -1):
        if transcript[:count] == logged[-count:]:
            return transcript[count:]
    return transcript


def _already_in_transcript(session: Session, interaction: Interaction, opened_at: datetime,
                           transcript: list[dict[str, Any]]) -> bool:
    """Whether this logged message is one the ticket's transcript already shows the agent.

    The bot sends the transcript when it opens the ticket, but Rasa publishes a turn's customer message only after
    the turn's actions ran: the message that triggered the handoff (and any the log was behind on) reaches the log
    after the ticket exists. Those late messages are the transcript's tail the log lacked when the ticket was opened;
    the first messages logged since then that match it, in order, are the transcript's, later ones are new.
    """
    said = [entry["text"] for entry in transcript if entry.get("sender") == "customer"]
    if not said:
        return False
    in_order = (Interaction.created_at, Interaction.id)
    conversation = Interaction.conversation_id == interaction.conversation_id
    logged_before = session.scalars(select(Interaction.text).where(conversation, Interaction.created_at < opened_at)
                                    .order_by(*(column.desc() for column in in_order)).limit(len(said))).all()
    late = _unlogged_tail(said, list(reversed(logged_before)))
    if not late:
        return False
    logged_since = session.execute(select(Interaction.id, Interaction.text)
                                   .where(conversation, Interaction.created_at >= opened_at)
                                   .order_by(*in_order).limit(len(late))).all()
    for (interaction_id, text), expected in zip(logged_since, late):
        if text != expected:
            return False
        if interaction_id == interaction.id:
            return True
    return False


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
