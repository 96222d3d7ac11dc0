"""Deterministic demo shop: customers with buying habits, a year and a half of orders, returns and complaints.

The data is simulated, not sampled: each customer has favourite categories, a usual gap between orders and consumables
they rebuy; about a third drift away, ordering less often, returning more and complaining before their last order.
Baskets follow "bought together" pairs of products. So the churn and recommendation models have real signal to learn.

The same seed and anchor date give the same rows. Seeding is skipped when the demo customers are already there.
"""

import math
import random
import time
from bisect import bisect
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from itertools import accumulate
from typing import Any

from sqlalchemy import Connection, Engine, Table, func, insert, select, text

from app.data.demo_catalog import DemoProduct, build_catalog, category_by_name
from app.data.demo_people import Person, make_person
from app.models import (
    Customer,
    HandoffTicket,
    Interaction,
    Order,
    OrderLine,
    OrderStatus,
    Product,
    Refund,
    RefundKind,
    RefundStatus,
    SentimentLabel,
    TicketStatus,
)
from app.schemas.support import HandoffReason
from app.services.priority import queue_position, ticket_priority

SEED = 20240601
HISTORY_DAYS = 548  # a year and a half of orders
DRIFT_SHARE = 0.35  # customers who drift away at some point
DRIFT_WARNING_DAYS = 120  # before drifting away, a customer orders less often, returns more and complains
NEW_CUSTOMER_SHARE = 0.06  # signed up in the last two months
CANCEL_RATE = 0.03
RETURN_RATE, DRIFTING_RETURN_RATE = 0.04, 0.16
COMPLEMENT_RATE = 0.35  # chance that a basket also holds a product bought together with one in it
REBUY_RATE = 0.4  # chance that a basket line rebuys a consumable the customer had before
FAVOURITE_RATE = 0.8  # chance that a new product comes from the customer's favourite categories
TICKET_RATE = 0.4  # complaints that went to a human agent
BATCH_CUSTOMERS = 2000
CARRIERS = ("Royal Mail", "DPD", "Evri", "DHL")
MARKER_PREFIX = "DEMO-"


@dataclass(frozen=True)
class PersonaOrder:
    days_ago: float
    status: OrderStatus


@dataclass(frozen=True)
class Persona:
    """A hand-written demo customer the README names, so a user can try every flow."""

    person: Person
    signup_days_ago: int
    orders: tuple[PersonaOrder, ...]
    drifting: bool


def _orders(*plan: tuple[float, OrderStatus]) -> tuple[PersonaOrder, ...]:
    return tuple(PersonaOrder(days, status) for days, status in plan)


S = OrderStatus
PERSONAS = (
    Persona(Person("Jane Doe", "jane.doe@example.com", "+44 7700 900123", "12 Station Road", "London", "SW1A 1AA"),
            signup_days_ago=500, drifting=False,
            orders=_orders((420, S.delivered), (330, S.delivered), (240, S.delivered), (150, S.delivered),
                           (75, S.delivered), (9, S.delivered), (2.5, S.shipped), (0.3, S.paid))),
    Persona(Person("Sam Patel", "sam.patel@example.com", "+44 7700 900456", "4 Mill Lane", "Manchester", "M1 1AE"),
            signup_days_ago=520, drifting=True,
            orders=_orders((470, S.delivered), (425, S.delivered), (380, S.delivered), (310, S.delivered),
                           (220, S.returned), (130, S.returned))),
    Persona(Person("Alex Morgan", "alex.morgan@example.org", "+44 7700 900789", "7 Castle Hill", "Edinburgh", "EH1 1YZ"),
            signup_days_ago=3, drifting=False, orders=_orders((1.5, S.shipped))),
)


@dataclass(frozen=True)
class DemoReport:
    customers: int = 0
    products: int = 0
    orders: int = 0
    order_lines: int = 0
    refunds: int = 0
    interactions: int = 0
    tickets: int = 0
    seconds: float = 0.0
    already_present: bool = False

    def format(self) -> str:
        if self.already_present:
            return "demo shop already loaded: nothing to do"
        logins = ", ".join(f"{p.person.email} / {p.person.postcode}" for p in PERSONAS)
        return (
            f"demo shop loaded in {self.seconds:.1f} s: {self.customers:,} customers, {self.products:,} products, "
            f"{self.orders:,} orders with {self.order_lines:,} lines, {self.refunds:,} refunds, "
            f"{self.interactions:,} support messages, {self.tickets:,} handoff tickets\n"
            f"demo customers to verify as (email / postcode): {logins}"
        )


@dataclass
class Rows:
    """Rows waiting to be inserted, table by table, with the next free id of each table."""

    next_id: dict[str, int]
    tables: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def add(self, table: Table, **values: Any) -> int:
        row_id = self.next_id[table.name]
        self.next_id[table.name] = row_id + 1
        self.tables.setdefault(table.name, []).append({"id": row_id, **values})
        return row_id

    def count(self, table: Table) -> int:
        return len(self.tables.get(table.name, []))


class Catalog:
    """The generated products with ids, and weighted samplers by category and by "bought together" partner."""

    def __init__(self, products: list[DemoProduct], first_id: int, rng: random.Random) -> None:
        self.products = products
        self.ids = list(range(first_id, first_id + len(products)))
        self.by_category: dict[str, list[int]] = {}
        for index, product in enumerate(products):
            self.by_category.setdefault(product.category, []).append(index)
        self.cum_weights = {
            name: list(accumulate(products[i].popularity for i in members)) for name, members in self.by_category.items()
        }
        self.category_names = sorted(self.by_category)
        self.partners = [self._pick_partners(index, rng) for index in range(len(products))]

    def popular_in(self, rng: random.Random, category: str) -> int:
        members, weights = self.by_category[category], self.cum_weights[category]
        return members[bisect(weights, rng.random() * weights[-1])]

    def _pick_partners(self, index: int, rng: random.Random) -> tuple[int, ...]:
        """Two products from related categories that people buy together with this one."""
        own = self.products[index].category
        related = [name for name in category_by_name()[own].related if name in self.by_category] or [own]
        return tuple(self.popular_in(rng, rng.choice(related)) for _ in range(2))


@dataclass
class Shopper:
    customer_id: int
    signup: datetime
    mean_gap_days: float
    favourites: list[str]
    drift_at: datetime | None
    consumables: list[int] = field(default_factory=list)

    def near_drift(self, moment: datetime) -> bool:
        return self.drift_at is not None and moment > self.drift_at - timedelta(days=DRIFT_WARNING_DAYS)


def seed_demo_data(engine: Engine, *, customers: int, products: int, seed: int = SEED,
                   anchor: datetime | None = None) -> DemoReport:
    """Load the demo shop in one transaction, unless it is there already.

    ``anchor`` is "today" for the simulation (default: today's midnight UTC), so recent orders are still in transit.
    """
    if customers < len(PERSONAS):
        raise ValueError(f"the demo needs at least {len(PERSONAS)} customers")
    started = time.perf_counter()
    anchor = anchor or datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    rng = random.Random(seed)
    with engine.begin() as connection:
        if connection.scalar(select(Customer.id).where(Customer.external_ref == f"{MARKER_PREFIX}000001")):
            return DemoReport(already_present=True)
        rows = Rows(next_id={table.name: _next_id(connection, table) for table in _tables()})
        catalog = Catalog(build_catalog(products, rng), rows.next_id["products"], rng)
        for product in catalog.products:
            rows.add(Product.__table__, sku=product.sku, name=product.name, category=product.category,
                     description=product.description, price=product.price, stock=product.stock,
                     is_consumable=product.is_consumable, created_at=anchor - timedelta(days=HISTORY_DAYS + 30))
        totals = Rows(next_id=dict(rows.next_id))
        for batch_start in range(0, customers, BATCH_CUSTOMERS):
            for number in range(batch_start, min(batch_start + BATCH_CUSTOMERS, customers)):
                _simulate_customer(rows, catalog, rng, number, anchor)
            _flush(connection, rows, totals)
        _flush(connection, rows, totals)
        if connection.dialect.name == "postgresql":
            for table in _tables():
                connection.execute(text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), "
                                        f"(SELECT MAX(id) FROM {table.name}))"))
    return DemoReport(
        customers=customers, products=products, orders=totals.count(Order.__table__),
        order_lines=totals.count(OrderLine.__table__), refunds=totals.count(Refund.__table__),
        interactions=totals.count(Interaction.__table__), tickets=totals.count(HandoffTicket.__table__),
        seconds=time.perf_counter() - started,
    )


def _tables() -> tuple[Table, ...]:
    """In foreign-key order."""
    models = (Product, Customer, Order, OrderLine, Refund, Interaction, HandoffTicket)
    return tuple(model.__table__ for model in models)  # type: ignore[misc]


def _next_id(connection: Connection, table: Table) -> int:
    return (connection.scalar(select(func.max(table.c.id))) or 0) + 1


def _flush(connection: Connection, rows: Rows, totals: Rows) -> None:
    """Insert what is waiting, table by table in foreign-key order; ``totals`` keeps only the counts."""
    for table in _tables():
        waiting = rows.tables.pop(table.name, [])
        if waiting:
            connection.execute(insert(table), waiting)
            totals.tables.setdefault(table.name, []).extend({} for _ in waiting)


def _simulate_customer(rows: Rows, catalog: Catalog, rng: random.Random, number: int, anchor: datetime) -> None:
    persona = PERSONAS[number] if number < len(PERSONAS) else None
    person = persona.person if persona else make_person(rng, number)
    if persona:
        signup = anchor - timedelta(days=persona.signup_days_ago)
    elif rng.random() < NEW_CUSTOMER_SHARE:
        signup = anchor - timedelta(days=rng.uniform(1, 60))
    else:
        signup = anchor - timedelta(days=rng.uniform(60, 720))
    drifting = persona.drifting if persona else rng.random() < DRIFT_SHARE
    drift_at = signup + (anchor - signup) * rng.uniform(0.35, 0.9) if drifting else None
    if persona and drifting:
        drift_at = anchor - timedelta(days=100)
    closed_at = None
    if drift_at and not persona and rng.random() < 0.1 and drift_at + timedelta(days=60) < anchor:
        closed_at = drift_at + timedelta(days=rng.uniform(5, 60))
    customer_id = rows.add(
        Customer.__table__, external_ref=f"{MARKER_PREFIX}{number + 1:06d}", name=person.name, email=person.email,
        phone=person.phone, address_line=person.address_line, city=person.city, postcode=person.postcode,
        country=person.country, created_at=signup, closed_at=closed_at,
    )
    shopper = Shopper(customer_id, signup, mean_gap_days=min(max(rng.lognormvariate(math.log(60), 0.5), 10), 150),
                      favourites=rng.sample(catalog.category_names, rng.randint(1, 3)), drift_at=drift_at)
    plan = persona.orders if persona else _order_plan(shopper, rng, anchor)
    for order in plan:
        _add_order(rows, catalog, rng, shopper, anchor - timedelta(days=order.days_ago), order.status, anchor)
    _add_conversations(rows, rng, shopper, anchor, until=closed_at or anchor)


def _order_plan(shopper: Shopper, rng: random.Random, anchor: datetime) -> list[PersonaOrder]:
    """When the customer ordered and what became of each order, from their habit."""
    history_start = anchor - timedelta(days=HISTORY_DAYS)
    moment = max(shopper.signup, history_start) + timedelta(days=rng.expovariate(1 / shopper.mean_gap_days) * 0.5)
    plan = []
    while moment < anchor and (shopper.drift_at is None or moment < shopper.drift_at):
        age_days = (anchor - moment).total_seconds() / 86400
        plan.append(PersonaOrder(age_days, _status(rng, shopper, moment, age_days)))
        gap = shopper.mean_gap_days * rng.gammavariate(4, 0.25) * (1.6 if shopper.near_drift(moment) else 1.0)
        moment += timedelta(days=max(gap, 1))
    return plan


def _status(rng: random.Random, shopper: Shopper, placed_at: datetime, age_days: float) -> OrderStatus:
    if age_days < 1:
        return OrderStatus.placed if rng.random() < 0.4 else OrderStatus.paid
    if rng.random() < CANCEL_RATE:
        return OrderStatus.cancelled
    if age_days < 2:
        return OrderStatus.paid
    if age_days < 5:
        return OrderStatus.shipped if rng.random() < 0.7 else OrderStatus.delivered
    return_rate = DRIFTING_RETURN_RATE if shopper.near_drift(placed_at) else RETURN_RATE
    if age_days > 10 and rng.random() < return_rate:
        return OrderStatus.returned
    return OrderStatus.delivered


def _basket(rng: random.Random, catalog: Catalog, shopper: Shopper) -> dict[int, int]:
    """Product index -> quantity: rebought consumables, favourites by popularity, and things bought together."""
    basket: dict[int, int] = {}
    for _ in range(1 + min(int(rng.expovariate(1.1)), 5)):
        if shopper.consumables and rng.random() < REBUY_RATE:
            index = rng.choice(shopper.consumables)
        elif rng.random() < FAVOURITE_RATE:
            index = catalog.popular_in(rng, rng.choice(shopper.favourites))
        else:
            index = catalog.popular_in(rng, rng.choice(catalog.category_names))
        basket[index] = rng.randint(1, 3) if catalog.products[index].is_consumable else 1
        if rng.random() < COMPLEMENT_RATE:
            basket.setdefault(rng.choice(catalog.partners[index]), 1)
    for index in basket:
        if catalog.products[index].is_consumable and index not in shopper.consumables:
            shopper.consumables.append(index)
    return basket


def _add_order(rows: Rows, catalog: Catalog, rng: random.Random, shopper: Shopper, placed_at: datetime,
               status: OrderStatus, anchor: datetime) -> None:
    def after(hours: float) -> datetime:
        return min(placed_at + timedelta(hours=hours), anchor + timedelta(hours=12))

    reached = {OrderStatus.paid: 1, OrderStatus.shipped: 2, OrderStatus.delivered: 3, OrderStatus.returned: 4}.get(status, 0)
    shipped = reached >= 2
    carrier = rng.choice(CARRIERS) if shipped else None
    returned_at = after(rng.uniform(200, 320)) if status is OrderStatus.returned else None
    order_id = rows.add(
        Order.__table__, order_number=f"SO-{1_000_000 + rows.next_id['orders']:07d}", customer_id=shopper.customer_id,
        status=status, placed_at=placed_at,
        paid_at=after(0.2) if reached >= 1 or status is OrderStatus.cancelled and rng.random() < 0.5 else None,
        shipped_at=after(rng.uniform(18, 40)) if shipped else None,
        delivered_at=after(rng.uniform(60, 110)) if reached >= 3 else None,
        cancelled_at=after(rng.uniform(1, 12)) if status is OrderStatus.cancelled else None,
        returned_at=returned_at,
        carrier=carrier, tracking_number=_tracking_number(rng, carrier) if carrier else None,
    )
    total = Decimal(0)
    for index, quantity in _basket(rng, catalog, shopper).items():
        product = catalog.products[index]
        rows.add(OrderLine.__table__, order_id=order_id, product_id=catalog.ids[index], quantity=quantity,
                 unit_price=product.price)
        total += product.price * quantity
    if returned_at:
        rows.add(Refund.__table__, order_id=order_id, customer_id=shopper.customer_id, kind=RefundKind.return_,
                 status=RefundStatus.refunded, amount=total, reason=rng.choice(RETURN_REASONS),
                 reference=f"RF-D{order_id:07d}", created_at=returned_at, updated_at=returned_at)
        _add_message(rows, rng, shopper, returned_at, "request_refund", SentimentLabel.negative)


def _tracking_number(rng: random.Random, carrier: str) -> str:
    digits = "".join(str(rng.randint(0, 9)) for _ in range(14))
    return {"Royal Mail": f"RM{digits[:9]}GB", "DPD": digits, "Evri": f"H{digits[:15]}", "DHL": f"JD{digits[:10]}"}[carrier]


RETURN_REASONS = ("arrived damaged", "wrong size", "not as described", "changed my mind", "arrived too late")
# Messages customers sent in the past, by intent and sentiment: what the churn model reads as support history.
MESSAGES: dict[tuple[str, SentimentLabel], Sequence[str]] = {
    ("track_order", SentimentLabel.neutral): ("where is my order?", "has my parcel been sent yet",
                                              "can I get the tracking number for my last order"),
    ("faq", SentimentLabel.neutral): ("how long does delivery take", "do you deliver on saturdays",
                                      "what is your return policy?"),
    ("check_account", SentimentLabel.neutral): ("can you check my account details", "what's the email on my account"),
    ("thank", SentimentLabel.positive): ("thanks, that was really helpful!", "great service as always, thank you",
                                         "parcel arrived early, love it"),
    ("request_refund", SentimentLabel.negative): ("I want to return this, it arrived damaged",
                                                  "the item is nothing like the photos, I want my money back",
                                                  "wrong size again, how do I send it back?"),
    ("complain", SentimentLabel.negative): ("this is the third late delivery this month, really disappointed",
                                            "nobody has answered my emails for a week. terrible service",
                                            "the quality has gone downhill, I'm thinking of shopping elsewhere",
                                            "my refund still hasn't arrived, this is unacceptable"),
}


def _add_message(rows: Rows, rng: random.Random, shopper: Shopper, moment: datetime, intent: str,
                 sentiment: SentimentLabel) -> None:
    conversation_id = f"demo-{shopper.customer_id}-{rows.next_id['interactions']}"
    rows.add(Interaction.__table__, conversation_id=conversation_id, customer_id=shopper.customer_id,
             channel=rng.choice(("web", "app")), text=rng.choice(MESSAGES[intent, sentiment]), intent=intent,
             intent_confidence=round(rng.uniform(0.6, 0.99), 3), sentiment=sentiment,
             sentiment_score=round(rng.uniform(0.55, 0.98), 3), created_at=moment)


def _add_conversations(rows: Rows, rng: random.Random, shopper: Shopper, anchor: datetime, until: datetime) -> None:
    """Everyday questions and thanks for everybody; complaints (some handed to an agent) before drifting away."""
    start = max(shopper.signup, anchor - timedelta(days=HISTORY_DAYS))
    span = (until - start).total_seconds()
    if span <= 0:
        return
    for intent, sentiment, rate in (("track_order", SentimentLabel.neutral, 0.5), ("faq", SentimentLabel.neutral, 0.3),
                                    ("check_account", SentimentLabel.neutral, 0.1), ("thank", SentimentLabel.positive, 0.3)):
        for _ in range(_poisson(rng, rate)):
            _add_message(rows, rng, shopper, start + timedelta(seconds=rng.uniform(0, span)), intent, sentiment)
    complaints = _poisson(rng, 1.8) if shopper.drift_at else _poisson(rng, 0.15)
    for _ in range(complaints):
        if shopper.drift_at:
            moment = shopper.drift_at - timedelta(days=rng.uniform(0, DRIFT_WARNING_DAYS))
        else:
            moment = start + timedelta(seconds=rng.uniform(0, span))
        moment = min(max(moment, start), until)
        _add_message(rows, rng, shopper, moment, "complain", SentimentLabel.negative)
        if rng.random() < TICKET_RATE:
            _add_resolved_ticket(rows, shopper, moment, rows.tables[Interaction.__table__.name][-1])


def _add_resolved_ticket(rows: Rows, shopper: Shopper, moment: datetime, complaint: dict[str, Any]) -> None:
    """A past complaint an agent dealt with: resolved long ago, so it is history, never in the live queue."""
    priority = ticket_priority(HandoffReason.complaint, None, 1.0)
    rows.add(HandoffTicket.__table__, conversation_id=complaint["conversation_id"], customer_id=shopper.customer_id,
             reason=HandoffReason.complaint.value, channel=complaint["channel"], status=TicketStatus.resolved,
             priority=priority, queue_at=queue_position(moment, priority), agent="Demo Agent",
             transcript=[{"sender": "customer", "text": complaint["text"], "sent_at": moment.isoformat()}],
             context={}, resolution_note="Apologised and explained the next steps.", created_at=moment,
             claimed_at=moment + timedelta(minutes=4), resolved_at=moment + timedelta(minutes=25))


def _poisson(rng: random.Random, mean: float) -> int:
    """Knuth's method; means here are small."""
    limit, count, product = math.exp(-mean), 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count
