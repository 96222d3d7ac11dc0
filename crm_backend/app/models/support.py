"""Conversations with customers: logged messages and handoff tickets for human agents."""

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Enum, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from app.core.db import Base
from app.models.types import UTCDateTime, utcnow


class SentimentLabel(str, enum.Enum):
    negative = "negative"
    neutral = "neutral"
    positive = "positive"


class Interaction(Base):
    """One customer message, with what the assistant understood of it."""

    __tablename__ = "interactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(128))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    channel: Mapped[str] = mapped_column(String(40))
    text: Mapped[str] = mapped_column(Text)
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
    )


class TicketStatus(str, enum.Enum):
    waiting = "waiting"
    claimed = "claimed"
    resolved = "resolved"


class HandoffTicket(Base):
    """A conversation handed over to a human agent."""

    __tablename__ = "handoff_tickets"

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[str] = mapped_column(String(128))
    customer_id: Mapped[int | None] = mapped_column(ForeignKey("customers.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(String(40))
    status: Mapped[TicketStatus] = mapped_column(
        Enum(TicketStatus, native_enum=False, length=10), default=TicketStatus.waiting
    )
    priority: Mapped[float] = mapped_column(Float, default=0.0)
    agent: Mapped[str | None] = mapped_column(String(120))
    transcript: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    context: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    resolution_note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    messages: Mapped[list["TicketMessage"]] = relationship(
        back_populates="ticket", cascade="all, delete-orphan", order_by="TicketMessage.id"
    )

    __table_args__ = (
        Index("ix_handoff_tickets_queue", "status", "priority", "created_at"),
        Index("ix_handoff_tickets_conversation", "conversation_id", "status"),
        Index("ix_handoff_tickets_customer", "customer_id"),
    )


class TicketMessage(Base):
    """A message posted into a handed-over conversation (by the agent, the customer or the bot)."""

    __tablename__ = "ticket_messages"

    id: Mapped[int] = mapped_column(primary_key=True)
    ticket_id: Mapped[int] = mapped_column(ForeignKey("handoff_tickets.id", ondelete="CASCADE"))
    sender: Mapped[str] = mapped_column(String(20))
    author: Mapped[str | None] = mapped_column(String(120))
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    ticket: Mapped[HandoffTicket] = relationship(back_populates="messages")

    __table_args__ = (Index("ix_ticket_messages_ticket", "ticket_id", "id"),)
