"""How urgent a handed-over conversation is, for ordering the agents' queue.

Priority = reason weight (``REASON_PRIORITY``) + churn band weight (``CHURN_PRIORITY``)
           + ``NEGATIVE_WEIGHT`` x share of negative messages among the conversation's recent ones.
The queue is ordered by effective priority, which grows while a ticket waits, so that no ticket waits for ever:
    effective priority = priority + waited / ``PRIORITY_HEAD_START``   (one point per ten minutes of waiting).
Ordering by it is the same as ordering by ``queue_at = created_at - priority x PRIORITY_HEAD_START``, earliest first
(a ticket is served as if it had arrived ten minutes earlier per point of priority). That value does not change while
the ticket waits, so it is stored on the ticket and indexed.
"""

from datetime import datetime, timedelta

from app.schemas.support import HandoffReason

REASON_PRIORITY: dict[HandoffReason, float] = {
    HandoffReason.complaint: 3.0,
    HandoffReason.negative_sentiment: 2.5,
    HandoffReason.service_unavailable: 2.0,
    HandoffReason.repeated_fallback: 1.5,
    HandoffReason.customer_request: 1.0,
}
CHURN_PRIORITY = {"high": 2.0, "medium": 1.0}
NEGATIVE_WEIGHT = 1.5
PRIORITY_HEAD_START = timedelta(minutes=10)


def ticket_priority(reason: HandoffReason, churn_band: str | None, negative_share: float) -> float:
    return round(REASON_PRIORITY[reason] + CHURN_PRIORITY.get(churn_band or "", 0.0) + NEGATIVE_WEIGHT * negative_share, 3)


def queue_position(created_at: datetime, priority: float) -> datetime:
    return created_at - PRIORITY_HEAD_START * priority


def effective_priority(priority: float, created_at: datetime, now: datetime) -> float:
    return round(priority + max((now - created_at) / PRIORITY_HEAD_START, 0.0), 3)
