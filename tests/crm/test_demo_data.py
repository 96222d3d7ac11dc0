"""The demo-data generator: deterministic, idempotent, consistent, and with the signal the models need."""

from collections import Counter
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.core.db import make_engine
from app.data.demo import PERSONAS, seed_demo_data
from app.models import Customer, HandoffTicket, Interaction, Order, OrderLine, OrderStatus, Product, Refund

ANCHOR = datetime(2026, 6, 1, tzinfo=timezone.utc)
CUSTOMERS, PRODUCTS = 400, 120


@pytest.fixture
def engine(database_url: str) -> Engine:
    engine = make_engine(database_url)
    yield engine
    engine.dispose()


def _counts(session: Session) -> dict[str, int]:
    models = (Customer, Product, Order, OrderLine, Refund, Interaction, HandoffTicket)
    return {model.__tablename__: session.scalar(select(func.count()).select_from(model)) for model in models}


def test_seeding_twice_loads_once_and_the_report_matches_the_tables(engine: Engine) -> None:
    report = seed_demo_data(engine, customers=CUSTOMERS, products=PRODUCTS, anchor=ANCHOR)
    with Session(engine) as session:
        counts = _counts(session)
    assert counts == {
        "customers": CUSTOMERS, "products": PRODUCTS, "orders": report.orders, "order_lines": report.order_lines,
        "refunds": report.refunds, "interactions": report.interactions, "handoff_tickets": report.tickets,
    }
    assert report.order_lines > 5 * CUSTOMERS
    again = seed_demo_data(engine, customers=CUSTOMERS, products=PRODUCTS, anchor=ANCHOR)
    assert again.already_present and "nothing to do" in again.format()
    with Session(engine) as session:
        assert _counts(session) == counts


def _fingerprint(sqlite_url: str) -> list[tuple]:
    engine = make_engine(sqlite_url)
    seed_demo_data(engine, customers=60, products=50, anchor=ANCHOR)
    with Session(engine) as session:
        rows = session.execute(
            select(Customer.email, Order.order_number, Order.status, Order.placed_at, Product.sku, OrderLine.quantity)
            .join(Order, Order.customer_id == Customer.id).join(OrderLine).join(Product).order_by(OrderLine.id)
        ).all()
    engine.dispose()
    return [tuple(row) for row in rows]


def test_the_same_seed_and_anchor_give_the_same_shop(tmp_path, sqlite_url: str) -> None:
    from conftest import migrate

    other_url = f"sqlite:///{tmp_path / 'other.sqlite3'}"
    migrate(other_url)
    assert _fingerprint(sqlite_url) == _fingerprint(other_url)


def test_personas_can_verify_and_have_what_the_readme_promises(db_session: Session) -> None:
    seed_demo_data(db_session.get_bind(), customers=CUSTOMERS, products=PRODUCTS, anchor=ANCHOR)
    jane = db_session.scalar(select(Customer).where(Customer.email == PERSONAS[0].person.email))
    assert jane is not None and jane.postcode == "SW1A 1AA"
    statuses = Counter(order.status for order in jane.orders)
    assert statuses[OrderStatus.shipped] == 1 and statuses[OrderStatus.paid] == 1 and statuses[OrderStatus.delivered] >= 5
    shipped = next(order for order in jane.orders if order.status is OrderStatus.shipped)
    assert shipped.carrier and shipped.tracking_number and shipped.order_number.startswith("SO-")


def test_order_dates_and_tracking_follow_the_status(db_session: Session) -> None:
    seed_demo_data(db_session.get_bind(), customers=CUSTOMERS, products=PRODUCTS, anchor=ANCHOR)
    for order in db_session.scalars(select(Order)):
        assert ANCHOR - timedelta(days=560) <= order.placed_at <= ANCHOR
        has_shipped = order.status in (OrderStatus.shipped, OrderStatus.delivered, OrderStatus.returned)
        assert (order.shipped_at is not None) == has_shipped == (order.tracking_number is not None)
        assert (order.cancelled_at is not None) == (order.status is OrderStatus.cancelled)
        assert (order.returned_at is not None) == (order.status is OrderStatus.returned)
        assert order.lines, order.order_number
    returned = db_session.scalar(select(func.count()).where(Order.status == OrderStatus.returned))
    assert db_session.scalar(select(func.count()).select_from(Refund)) == returned > 0


def test_customers_who_drift_away_complained_and_returned_more(db_session: Session) -> None:
    """The churn signal: customers with no order in the last 120 days complained far more often than the rest."""
    seed_demo_data(db_session.get_bind(), customers=1500, products=PRODUCTS, anchor=ANCHOR)
    last_order = dict(db_session.execute(select(Order.customer_id, func.max(Order.placed_at)).group_by(Order.customer_id)).all())
    complaints = Counter(db_session.scalars(select(Interaction.customer_id).where(Interaction.intent == "complain")))
    returns = Counter(db_session.scalars(select(Order.customer_id).where(Order.status == OrderStatus.returned)))
    gone = [c for c, last in last_order.items() if last < ANCHOR - timedelta(days=120)]
    active = [c for c, last in last_order.items() if last >= ANCHOR - timedelta(days=30)]
    assert len(gone) > 200 and len(active) > 300

    def rate(counter: Counter, group: list[int]) -> float:
        return sum(counter[c] for c in group) / len(group)

    assert rate(complaints, gone) > 3 * rate(complaints, active)
    assert rate(returns, gone) > rate(returns, active)


def test_baskets_repeat_consumables_and_pair_products(db_session: Session) -> None:
    """The recommendation signal: consumables are bought again, and some product pairs recur across customers."""
    seed_demo_data(db_session.get_bind(), customers=1500, products=PRODUCTS, anchor=ANCHOR)
    purchases = db_session.execute(
        select(Order.customer_id, OrderLine.product_id, Product.is_consumable, Order.id)
        .join(OrderLine, OrderLine.order_id == Order.id).join(Product)
    ).all()
    bought = Counter((customer, product) for customer, product, consumable, _ in purchases if consumable)
    assert sum(1 for times in bought.values() if times >= 3) > 500
    baskets: dict[int, set[int]] = {}
    for _, product, _, order_id in purchases:
        baskets.setdefault(order_id, set()).add(product)
    pairs = Counter((a, b) for basket in baskets.values() for a in basket for b in basket if a < b)
    products = Counter(p for basket in baskets.values() for p in basket)

    def lift(pair: tuple[int, int]) -> float:
        return pairs[pair] * len(baskets) / (products[pair[0]] * products[pair[1]])

    frequent = [pair for pair, together in pairs.items() if together >= 30]
    assert sum(lift(pair) > 5 for pair in frequent) >= 10
