"""Changes a customer may make to an order: cancel it before it ships, or return it after delivery.

Rules: an order can be cancelled while it is placed or paid (a paid one is refunded in full at once);
once shipped it can no longer be cancelled, and once delivered it can be returned within
``RETURN_WINDOW_DAYS`` days, refunded when the parcel is back. Each change is written to the audit log.
"""

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.crud.orders import CANCELLABLE_STATUSES, money
from app.models import AuditEntry, Order, OrderStatus, Refund, RefundKind, RefundStatus

RETURN_WINDOW_DAYS = 30


class ChangeRefused(Exception):
    """The order does not allow this change; ``code`` is machine-readable, the message plain words."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class ReturnEligibility:
    eligible: bool
    code: str
    message: str
    deadline: datetime | None


def order_total(order: Order) -> Decimal:
    return money(sum(line.quantity * line.unit_price for line in order.lines))


def _new_reference() -> str:
    return f"RF-{secrets.token_hex(4).upper()}"


def _audit(session: Session, order: Order, actor: str, old: str, new: str) -> None:
    session.add(AuditEntry(customer_id=order.customer_id, actor=actor, field=f"order {order.order_number} status",
                           old_value=old, new_value=new))


def cancel_order(session: Session, *, order: Order, actor: str, reason: str | None) -> Refund | None:
    """Cancel an order that has not shipped; returns the refund when it had been paid."""
    if order.status not in CANCELLABLE_STATUSES:
        raise ChangeRefused("not_cancellable", _why_not_cancellable(order))
    was_paid = order.status is OrderStatus.paid
    _audit(session, order, actor, order.status.value, OrderStatus.cancelled.value)
    order.status = OrderStatus.cancelled
    order.cancelled_at = datetime.now(timezone.utc)
    refund = None
    if was_paid:
        refund = Refund(order_id=order.id, customer_id=order.customer_id, kind=RefundKind.cancellation,
                        status=RefundStatus.approved, amount=order_total(order), reason=reason, reference=_new_reference())
        session.add(refund)
    session.commit()
    return refund


def _why_not_cancellable(order: Order) -> str:
    if order.status is OrderStatus.shipped:
        return "The order has already shipped, so it can no longer be cancelled; it can be returned once it arrives."
    if order.status is OrderStatus.delivered:
        return "The order has been delivered, so it can't be cancelled; it can be returned instead."
    return f"The order is already {order.status.value}."


def _open_return(session: Session, order: Order) -> Refund | None:
    return session.scalar(
        select(Refund).where(Refund.order_id == order.id, Refund.kind == RefundKind.return_,
                             Refund.status != RefundStatus.rejected)
    )


def return_eligibility(session: Session, *, order: Order, now: datetime | None = None) -> ReturnEligibility:
    now = now or datetime.now(timezone.utc)
    if order.status in CANCELLABLE_STATUSES:
        return ReturnEligibility(False, "not_shipped", "The order hasn't shipped yet, so it can simply be cancelled.", None)
    if order.status is OrderStatus.shipped:
        return ReturnEligibility(False, "in_transit", "The order is still on its way; it can be returned once it arrives.", None)
    if order.status is not OrderStatus.delivered or order.delivered_at is None:
        return ReturnEligibility(False, "not_returnable", f"The order is {order.status.value}, so it can't be returned.", None)
    if _open_return(session, order) is not None:
        return ReturnEligibility(False, "already_requested", "A return for this order has already been requested.", None)
    deadline = order.delivered_at + timedelta(days=RETURN_WINDOW_DAYS)
    if now > deadline:
        return ReturnEligibility(False, "window_closed",
                                 f"Returns are possible for {RETURN_WINDOW_DAYS} days after delivery, and that time has passed.",
                                 deadline)
    return ReturnEligibility(True, "eligible", "The order can be returned for a full refund.", deadline)


def request_return(session: Session, *, order: Order, actor: str, reason: str | None) -> Refund:
    eligibility = return_eligibility(session, order=order)
    if not eligibility.eligible:
        raise ChangeRefused(eligibility.code, eligibility.message)
    refund = Refund(order_id=order.id, customer_id=order.customer_id, kind=RefundKind.return_,
                    status=RefundStatus.requested, amount=order_total(order), reason=reason, reference=_new_reference())
    session.add(refund)
    _audit(session, order, actor, "delivered", "return requested")
    session.commit()
    return refund
