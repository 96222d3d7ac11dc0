"""Conversations with customers: logged messages and handoff tickets for human agents."""

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, Float, ForeignKey, Index, SmallInteger, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base
from app.models.types import UTCDateTime, utcnow


class SentimentLabel(str, enum.Enum):
    negative = "negative"
    neutral = "neutral"
    positive = "positive"


# the condition of the partial unique index: a message id is logged once per conversation, messages without one freely
HAS_MESSAGE_ID = text("message_id IS NOT NULL")


class Interaction(Base):
    """One customer message, with what the assistant understood of it and Rasa's id of the message (if it sent one)."""

    __tablename__ = "interactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(128))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
    message_id: Mapped[str | None] = mapped_column(String(64))
    intent: Mapped[str | None] = mapped_column(String(80))
    intent_confidence: Mapped[float | None] = mapped_column(Float)
    sentiment: Mapped[SentimentLabel | None] = mapped_column(
        Enum(SentimentLabel, native_enum=False, length=10)
    )
    sentiment_score: Mapped[float | None] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    __table_args__ = (
        Index("ix_interactions_conversation", "conversation_id", "created_at"),
        Index("ix_interactions_customer", "customer_id", "created_at"),
        # each message once, however often it is posted, even by requests racing (migration 0006)
        Index("uq_interactions_conversation_message", "conversation_id", "message_id", unique=True,
              sqlite_where=HAS_MESSAGE_ID, postgresql_where=HAS_MESSAGE_ID),
    )


class TicketStatus(str, enum.Enum):
    waiting = "waiting"
    claimed = "claimed"
    resolved = "resolved"


OPEN_TICKET_STATUSES = (TicketStatus.waiting, TicketStatus.claimed)
# the same as SQL, for the partial unique index (a conversation has at most one open ticket)
OPEN_TICKET_CONDITION = "status IN ({})".format(", ".join(f"'{s.value}'" for s in OPEN_TICKET_STATUSES))


class MessageSender(str, enum.Enum):
    customer = "customer"
    agent = "agent"
    system = "system"  # e.g. "Alice joined the conversation"


class HandoffTicket(Base):
    """A conversation handed over to a human agent.

    ``queue_at`` orders the queue: the ticket is served as if it had arrived ``priority`` x ``PRIORITY_HEAD_START``
    earlier (see ``app.services.priority``).
    """

    __tablename__ = "handoff_tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(128))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str | None] = mapped_column(String(40))
    status: Mapped[TicketStatus] = mapped_column(
        Enum(TicketStatus, native_enum=False, length=10), default=TicketStatus.waiting
    )
    priority: Mapped[float] = mapped_column(Float, default=0.0)
    queue_at: Mapped[datetime] = mapped_column(UTCDateTime)
    agent_id: Mapped[int | None] = mapped_column(ForeignKey("agents.id", ondelete="SET NULL"))
    agent: Mapped[str | None] = mapped_column(String(120))  # the agent's display name when claimed
    transcript: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    resolution_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rating: Mapped[int | None] = mapped_column(SmallInteger)
    rating_comment: Mapped[str | None] = mapped_column(Text)
    rated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    messages: Mapped[list["TicketMessage"]] = relationship(
        back_populates="ticket", cascade="all, delete-orphan", order_by="TicketMessage.id"
    )

    __table_args__ = (
        Index("ix_handoff_tickets_queue", "status", "queue_at"),
        Index("ix_handoff_tickets_conversation", "conversation_id", "status"),
        Index("ix_handoff_tickets_customer", "customer_id"),
        # at most one open ticket per conversation, whatever the race between requests (migration 0005)
        Index("uq_handoff_tickets_open_conversation", "conversation_id", unique=True,
              sqlite_where=text(OPEN_TICKET_CONDITION), postgresql_where=text(OPEN_TICKET_CONDITION)),
    )


class TicketMessage(Base):
    """A message in a handed-over conversation: from the customer, the agent, or the system."""

    __tablename__ = "ticket_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("handoff_tickets.id", ondelete="CASCADE"))
    sender: Mapped[MessageSender] = mapped_column(Enum(MessageSender, native_enum=False, length=20))
    author: Mapped[str | None] = mapped_column(String(120))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    ticket: Mapped[HandoffTicket] = relationship(back_populates="messages")

    __table_args__ = (Index("ix_ticket_messages_ticket", "ticket_id", "id"),)


class CannedReply(Base):
    """A ready-made answer agents pick in the console and adapt before sending."""

    __tablename__ = "canned_replies"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(80), unique=True)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
