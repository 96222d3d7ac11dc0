"""Opening a handoff ticket with what an agent needs to see about the conversation.

The CRM builds a ticket's context itself, never from what the bot sends: the verified identity (from the customer
token only), the account summary, the churn risk with its reasons when a churn model is trained, the sentiment of the
conversation's recent messages, the trigger and the channel. The priority follows from it (``app.services.priority``).
"""

from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.crud import support as support_crud
from app.crud.customers import account_summary
from app.ml.churn_scoring import score_customer
from app.ml.store import ModelUnavailable
from app.models import Customer, HandoffTicket, Interaction, SentimentLabel
from app.schemas.support import HandoffCreate, HandoffReason
from app.services.priority import queue_position, ticket_priority

RECENT_MESSAGES = 10


def conversation_sentiment(session: Session, conversation_id: str) -> dict[str, Any]:
    """Labels of the conversation's last messages (newest first) and an overall label: negative when at least half of
    the labelled ones are, positive when more than half are, else neutral; ``None`` with no labelled message."""
    rows = session.execute(
        select(Interaction.sentiment, Interaction.sentiment_score, Interaction.created_at)
        .where(Interaction.conversation_id == conversation_id)
        .order_by(Interaction.created_at.desc(), Interaction.id.desc())
        .limit(RECENT_MESSAGES)
    ).all()
    labels = [label for label, _, _ in rows if label is not None]
    negative = labels.count(SentimentLabel.negative)
    positive = labels.count(SentimentLabel.positive)
    if not labels:
        overall = None
    elif 2 * negative >= len(labels):
        overall = SentimentLabel.negative.value
    elif 2 * positive > len(labels):
        overall = SentimentLabel.positive.value
    else:
        overall = SentimentLabel.neutral.value
    return {
        "label": overall,
        "negative": negative,
        "labelled": len(labels),
        "negative_share": round(negative / len(labels), 3) if labels else 0.0,
        "recent": [{"label": label.value, "score": score, "at": at.isoformat()}
                   for label, score, at in rows if label is not None],
    }


def conversation_channel(session: Session, conversation_id: str) -> str | None:
    """The channel of the conversation's latest logged message, for tickets whose creator did not name one."""
    return session.scalar(select(Interaction.channel).where(Interaction.conversation_id == conversation_id)
                          .order_by(Interaction.created_at.desc(), Interaction.id.desc()).limit(1))


def churn_context(session: Session, models_dir: Path, customer: Customer) -> dict[str, Any] | None:
    """The customer's churn risk and its reasons, or ``None`` when no usable model is trained."""
    try:
        risk = score_customer(session, models_dir, customer)
    except ModelUnavailable:
        return None
    return {key: value.isoformat() if isinstance(value, datetime) else value for key, value in asdict(risk).items()}


def build_context(session: Session, models_dir: Path, *, reason: HandoffReason, channel: str | None,
                  customer: Customer | None, conversation_id: str) -> dict[str, Any]:
    identity: dict[str, Any] = {"verified": False}
    account = churn = None
    if customer is not None:
        identity = {"verified": True, "customer_id": customer.id, "name": customer.name, "email": customer.email}
        account = account_summary(session, customer=customer).model_dump(mode="json")
        churn = churn_context(session, models_dir, customer)
    return {
        "trigger": reason.value,
        "channel": channel,
        "identity": identity,
        "account": account,
        "churn": churn,
        "sentiment": conversation_sentiment(session, conversation_id),
    }


def open_ticket(session: Session, models_dir: Path, *, data: HandoffCreate, customer: Customer | None) -> HandoffTicket:
    """Queue the conversation with its context and priority, or return its open ticket so it never queues twice
    (also when another request opens it meanwhile: see ``support_crud.create_ticket``)."""
    existing = support_crud.open_ticket_for_conversation(session, conversation_id=data.conversation_id)
    if existing is not None:
        return existing
    channel = data.channel or conversation_channel(session, data.conversation_id)
    context = build_context(session, models_dir, reason=data.reason, channel=channel, customer=customer,
                            conversation_id=data.conversation_id)
    churn_band = context["churn"]["band"] if context["churn"] else None
    priority = ticket_priority(data.reason, churn_band, context["sentiment"]["negative_share"])
    created_at = datetime.now(timezone.utc)
    return support_crud.create_ticket(
        session, data=data, customer_id=customer.id if customer else None, channel=channel, priority=priority,
        created_at=created_at, queue_at=queue_position(created_at, priority), context=context,
    )
