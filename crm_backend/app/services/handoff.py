"""How urgent a handed-over conversation is, for ordering the agents' queue."""

from app.schemas.support import HandoffReason

REASON_PRIORITY: dict[HandoffReason, float] = {
    HandoffReason.complaint: 3.0,
    HandoffReason.negative_sentiment: 2.5,
    HandoffReason.service_unavailable: 2.0,
    HandoffReason.repeated_fallback: 1.5,
    HandoffReason.customer_request: 1.0,
}


def ticket_priority(reason: HandoffReason) -> float:
    return REASON_PRIORITY[reason]
