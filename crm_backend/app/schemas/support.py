from datetime import datetime
from enum import Enum
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from app.models import MessageSender, SentimentLabel, TicketStatus
from app.schemas.common import ConversationId, MessageText, RequestModel

Channel = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9_-]{1,40}$")]
IntentName = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[\w/.-]{1,80}$")]
# Rasa's id of a customer message (a UUID's 32 hex digits from its channels; other channels' ids fit too)
MessageId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]


class Sentiment(RequestModel):
    label: SentimentLabel
    score: float = Field(ge=0.0, le=1.0)


MAX_INTERACTION_BATCH = 100


class InteractionCreate(RequestModel):
    conversation_id: ConversationId
    channel: Channel
    text: MessageText
    message_id: MessageId | None = Field(default=None, description="a message id the conversation already logged is not logged again")
    intent: IntentName | None = None
    intent_confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    sentiment: Sentiment | None = None


class LoggedInteraction(InteractionCreate):
    """One message of a batch, with the customer's verification token if the conversation holds one."""

    customer_token: str | None = Field(default=None, max_length=2000)


class InteractionBatch(RequestModel):
    interactions: list[LoggedInteraction] = Field(min_length=1, max_length=MAX_INTERACTION_BATCH)


class InteractionBatchLogged(BaseModel):
    logged: int = Field(description="new messages logged")
    already_logged: int = Field(description="messages whose id the conversation had logged before: nothing done")
    attributed: int  # new ones logged with their customer; the others had no token, or one that is no longer valid


class InteractionPublic(BaseModel):
    id: int
    conversation_id: str
    customer_id: int | None
    channel: str
    text: str
    message_id: str | None
    intent: str | None
    intent_confidence: float | None
    sentiment: SentimentLabel | None
    sentiment_score: float | None
    created_at: datetime


class HandoffReason(str, Enum):
    customer_request = "customer_request"
    repeated_fallback = "repeated_fallback"
    negative_sentiment = "negative_sentiment"
    complaint = "complaint"
    service_unavailable = "service_unavailable"


class TranscriptEntry(RequestModel):
    sender: Annotated[str, StringConstraints(pattern=r"^(customer|bot|agent)$")]
    text: MessageText
    message_id: MessageId | None = Field(default=None, description="a customer message's id: logged later, it is not shown again")
    sent_at: datetime | None = None


class HandoffCreate(RequestModel):
    """What the assistant knows; the CRM builds the ticket's context itself."""

    conversation_id: ConversationId
    reason: HandoffReason
    channel: Channel | None = Field(default=None, description="defaults to the channel of the conversation's last logged message")
    transcript: list[TranscriptEntry] = Field(default_factory=list, max_length=500)


class TicketMessageCreate(RequestModel):
    text: MessageText


class HandoffResolve(RequestModel):
    note: Annotated[str, StringConstraints(max_length=5000)] = ""


class HandoffRating(RequestModel):
    rating: int = Field(ge=1, le=5)
    comment: Annotated[str, StringConstraints(strip_whitespace=True, max_length=2000)] | None = None


class Availability(BaseModel):
    within_hours: bool
    agents_online: int
    hours: str = Field(description="the support hours, readable")
    next_opening: datetime | None = Field(description="when the next support window starts; null while open")


class TicketMessagePublic(BaseModel):
    id: int
    sender: MessageSender
    author: str | None
    text: str
    created_at: datetime


class HandoffState(BaseModel):
    """A ticket as the customer's side may see it: no context, no transcript."""

    id: int
    conversation_id: str
    status: TicketStatus
    reason: str
    agent: str | None = Field(description="display name of the agent who claimed it")
    resolution_note: str | None
    created_at: datetime
    claimed_at: datetime | None
    resolved_at: datetime | None
    rating: int | None
    rated_at: datetime | None


class HandoffCreated(HandoffState):
    availability: Availability


class ConversationHandoff(BaseModel):
    ticket: HandoffState
    messages: list[TicketMessagePublic] = Field(description="agent and system messages after the cursor, oldest first")


class HandoffPublic(HandoffState):
    """A ticket as agents see it."""

    customer_id: int | None
    channel: str | None
    priority: float
    effective_priority: float = Field(description="priority plus one point per ten minutes of waiting")
    waiting_seconds: int = Field(description="from creation until claimed, or until now while waiting")
    agent_id: int | None
    transcript: list[dict[str, Any]]
    context: dict[str, Any]
    rating_comment: str | None
    messages: list[TicketMessagePublic]


class HandoffQueue(BaseModel):
    tickets: list[HandoffPublic]


class CannedReplyPublic(BaseModel):
    id: int
    title: str
    text: str
