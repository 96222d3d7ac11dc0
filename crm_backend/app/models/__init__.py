"""ORM mappings; importing this package registers every table on ``Base.metadata``."""

from app.models.agent import Agent, AgentLoginFailure
from app.models.catalog import Product
from app.models.customer import Customer
from app.models.order import Order, OrderLine, OrderStatus
from app.models.refund import Refund, RefundKind, RefundStatus
from app.models.security import AuditEntry, OneTimeCode, VerificationAttempt
from app.models.support import (
    CannedReply,
    HandoffTicket,
    Interaction,
    MessageSender,
    SentimentLabel,
    TicketMessage,
    TicketStatus,
)

__all__ = [
    "Agent",
    "AgentLoginFailure",
    "AuditEntry",
    "CannedReply",
    "Customer",
    "HandoffTicket",
    "Interaction",
    "MessageSender",
    "OneTimeCode",
    "Order",
    "OrderLine",
    "OrderStatus",
    "Product",
    "Refund",
    "RefundKind",
    "RefundStatus",
    "SentimentLabel",
    "TicketMessage",
    "TicketStatus",
    "VerificationAttempt",
]
