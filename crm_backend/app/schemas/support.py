from datetime import datetime
from enum import Enum
from typing import Annotated, Any

from pydantic import BaseModel, Field, StringConstraints

from app.models import SentimentLabel, TicketStatus
from app.schemas.common import ConversationId, MessageText, RequestModel, ShortText

Channel = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z0-9_-]{1,40}$")]
IntentName = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[\w/.-]{1,80}$")]


class Sentiment(RequestModel):
    label: SentimentLabel
    score: float = Field(ge=0.0, le=1.0)


class InteractionCreate(RequestModel):
    conversation_id: ConversationId
    channel: Channel
    text: MessageText
    intent: IntentName | None = None
    intent_confidence: float | None = Field(default=None, ge=0.0, le=1.0)
    sentiment: Sentiment | None = None


class InteractionPublic(BaseModel):
    id: int
    conversation_id: str
    customer_id: int | None
    channel: str
    text: str
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
    sent_at: datetime | None = None


class HandoffCreate(RequestModel):
    conversation_id: ConversationId
    reason: HandoffReason
    transcript: list[TranscriptEntry] = Field(default_factory=list, max_length=500)
    context: dict[str, Any] = Field(default_factory=dict, max_length=50)


class TicketMessageCreate(RequestModel):
    text: MessageText


class HandoffClaim(RequestModel):
    agent_name: ShortText


class HandoffResolve(RequestModel):
    note: Annotated[str, StringConstraints(max_length=5000)] = ""


class TicketMessagePublic(BaseModel):
    id: int
    sender: str
    author: str | None
    text: str
    created_at: datetime


class HandoffPublic(BaseModel):
    id: int
    conversation_id: str
    customer_id: int | None
    reason: str
    status: TicketStatus
    priority: float
    agent: str | None
    transcript: list[dict[str, Any]]
    context: dict[str, Any]
    resolution_note: str | None
    created_at: datetime
    claimed_at: datetime | None
    resolved_at: datetime | None
    messages: list[TicketMessagePublic]


class HandoffQueue(BaseModel):
    tickets: list[HandoffPublic]
