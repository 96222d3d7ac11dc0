"""ORM mappings; importing this package registers every table on ``Base.metadata``."""

from app.models.catalog import Product
from app.models.customer import Customer
from app.models.order import Order, OrderLine, OrderStatus
from app.models.refund import Refund, RefundKind, RefundStatus
from app.models.security import AuditEntry, OneTimeCode, VerificationAttempt
from app.models.support import (
    HandoffTicket,
    Interaction,
    SentimentLabel,
    TicketMessage,
    TicketStatus,
)

__all__ = [
    "AuditEntry",
    "Customer",
    "HandoffTicket",
    "Interaction",
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
