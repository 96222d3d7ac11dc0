from datetime import datetime, timezone

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from app.crud.orders import NOT_SPENT_STATUSES, OPEN_STATUSES, money, order_summaries
from app.models import AuditEntry, Customer, Order
from app.schemas.customer import AccountSummary, Address, ContactUpdate

_CUSTOMER_BY_ID = select(Customer).where(Customer.id == bindparam("customer_id"))  # built once, like the order queries


def get_customer(session: Session, *, customer_id: int) -> Customer | None:
    """Like ``session.get``, which builds its query on every call, for the hot per-request lookup."""
    return session.scalars(_CUSTOMER_BY_ID, {"customer_id": customer_id}).one_or_none()


def find_customer_by_email(session: Session, *, email: str) -> Customer | None:
    return session.scalar(select(Customer).where(Customer.email == email.strip().lower()))


def find_customer_by_order_number(session: Session, *, order_number: str) -> Customer | None:
    return session.scalar(
        select(Customer).join(Order, Order.customer_id == Customer.id).where(Order.order_number == order_number.strip().upper())
    )


def find_customer_by_identifier(session: Session, *, identifier: str) -> Customer | None:
    """An identifier with an ``@`` is an email; anything else is an order number."""
    if "@" in identifier:
        return find_customer_by_email(session, email=identifier)
    return find_customer_by_order_number(session, order_number=identifier)


def account_summary(session: Session, *, customer: Customer) -> AccountSummary:
    orders = order_summaries(session, customer_id=customer.id)
    return AccountSummary(
        customer_id=customer.id,
        name=customer.name,
        email=customer.email,
        phone=customer.phone,
        address=Address(line=customer.address_line, city=customer.city, postcode=customer.postcode, country=customer.country),
        member_since=customer.created_at,
        account_status="closed" if customer.closed_at else "active",
        order_count=len(orders),
        open_order_count=sum(order.status in OPEN_STATUSES for order in orders),
        total_spent=money(sum(order.total for order in orders if order.status not in NOT_SPENT_STATUSES)),
        last_order=orders[0] if orders else None,
    )


def email_taken(session: Session, *, email: str, by_other_than: int) -> bool:
    return bool(
        session.scalar(select(func.count(Customer.id)).where(Customer.email == email, Customer.id != by_other_than))
    )


def update_contact(session: Session, *, customer: Customer, update: ContactUpdate, actor: str) -> list[str]:
    """Apply the changes, write one audit entry per changed field, and return the changed field names."""
    wanted: dict[str, str | None] = {}
    if update.email is not None:
        wanted["email"] = update.email.lower()
    if update.phone is not None:
        wanted["phone"] = update.phone
    if update.address is not None:
        wanted |= {
            "address_line": update.address.line,
            "city": update.address.city,
            "postcode": update.address.postcode.upper(),
            "country": update.address.country,
        }
    changed = []
    for field, new_value in wanted.items():
        old_value = getattr(customer, field)
        if old_value == new_value:
            continue
        setattr(customer, field, new_value)
        session.add(AuditEntry(customer_id=customer.id, actor=actor, field=field, old_value=old_value, new_value=new_value))
        changed.append(field)
    session.commit()
    return changed


def has_open_orders(session: Session, *, customer_id: int) -> bool:
    return bool(session.scalar(
        select(func.count(Order.id)).where(Order.customer_id == customer_id, Order.status.in_(OPEN_STATUSES))
    ))


def close_account(session: Session, *, customer: Customer, reason: str, actor: str) -> datetime:
    """Mark the account closed and audit it with the reason; the caller checks it may be closed."""
    customer.closed_at = datetime.now(timezone.utc)
    session.add(AuditEntry(customer_id=customer.id, actor=actor, field="account_status", old_value="active",
                           new_value=f"closed: {reason}"))
    session.commit()
    return customer.closed_at


def record_retention_offer(session: Session, *, customer: Customer, offer: str, accepted: bool, actor: str) -> None:
    """A retention offer and its outcome, kept in the audit log."""
    session.add(AuditEntry(customer_id=customer.id, actor=actor, field="retention_offer", old_value=offer,
                           new_value="accepted" if accepted else "declined"))
    session.commit()
