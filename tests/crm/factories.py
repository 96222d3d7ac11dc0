"""Small builders of CRM rows for API tests, independent of the demo-data generator."""

from datetime import datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy.orm import Session

from app.models import Customer, Order, OrderLine, OrderStatus, Product

NOW = datetime.now(timezone.utc)  # real time: return windows and lockouts are judged against it


def add_customer(session: Session, *, name: str, email: str, postcode: str, country: str = "United Kingdom") -> Customer:
    customer = Customer(
        name=name, email=email, phone="+44 20 7946 0000", address_line="1 High Street", city="London",
        postcode=postcode, country=country, created_at=NOW - timedelta(days=400),
    )
    session.add(customer)
    session.commit()
    return customer


def add_product(session: Session, *, sku: str, name: str, price: str, stock: int = 10) -> Product:
    product = Product(sku=sku, name=name, category="Kitchen", description=name, price=Decimal(price), stock=stock)
    session.add(product)
    session.commit()
    return product


def add_order(
    session: Session,
    *,
    customer: Customer,
    number: str,
    status: OrderStatus,
    days_ago: int,
    lines: list[tuple[Product, int]],
    carrier: str | None = None,
    tracking: str | None = None,
) -> Order:
    placed = NOW - timedelta(days=days_ago)
    order = Order(
        order_number=number, customer_id=customer.id, status=status, placed_at=placed,
        paid_at=placed + timedelta(hours=1) if status is not OrderStatus.placed else None,
        shipped_at=placed + timedelta(days=1) if status in (OrderStatus.shipped, OrderStatus.delivered) else None,
        delivered_at=placed + timedelta(days=3) if status is OrderStatus.delivered else None,
        carrier=carrier, tracking_number=tracking,
        lines=[OrderLine(product_id=p.id, quantity=q, unit_price=p.price) for p, q in lines],
    )
    session.add(order)
    session.commit()
    return order
