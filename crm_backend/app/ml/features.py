"""Per-customer features (churn risk, RFM segments), built with pandas from four SQL queries.

Everything is as of a moment ``as_of``: only rows before it count, and an order counts as cancelled or returned, a
ticket as resolved, only if that happened before ``as_of``. So features at a past cutoff do not see the future.

Columns (days are fractional; NaN where a value does not exist, e.g. recency without orders):

- ``tenure_days``: since the account was opened; ``account_closed``: closed before ``as_of``.
- ``frequency``: orders placed and not cancelled; ``recency_days``: since the last of them;
  ``monetary``: spend on them, returned orders excluded.
- ``mean_gap_days`` / ``last_gap_days``: average gap between orders and the latest gap (two orders or more);
  ``overdue_ratio``: ``recency_days / mean_gap_days``, how many usual gaps have passed since the last order.
- ``orders_90d``, ``spend_90d``, ``spend_prev_90d`` (the 90 days before those) and ``spend_trend`` =
  (recent - previous) / (recent + previous), from -1 (stopped spending) to +1 (new spending), 0 when both are 0.
- ``return_count``, ``return_rate`` (of ``frequency``).
- ``complaints_30d``, ``complaints_total``: conversations with a complaint (a message with a complaint intent or a
  handoff ticket raised as a complaint; one per conversation); ``contacts_90d``: messages in the last 90 days.
- ``recent_messages`` (up to 5), ``negative_recent`` (negative among them), ``negative_share``, and
  ``sentiment_recent``: their mean signed sentiment (+confidence if positive, -confidence if negative, 0 if neutral).
- ``open_tickets``: handoff tickets open at ``as_of``.
"""

from collections.abc import Collection
from datetime import datetime

import pandas as pd
from sqlalchemy import Select, String, func, select, type_coerce
from sqlalchemy.orm import Session

from app.models import Customer, HandoffTicket, Interaction, Order, OrderLine, OrderStatus, SentimentLabel, TicketStatus

RECENT_DAYS = 90
COMPLAINT_DAYS = 30
LAST_MESSAGES = 5
COMPLAINT_INTENTS = ("complain",)
COMPLAINT_TICKET_REASONS = ("complaint",)
SECONDS_PER_DAY = 86_400.0

FEATURE_COLUMNS = (
    "tenure_days", "account_closed", "frequency", "recency_days", "monetary", "mean_gap_days", "last_gap_days",
    "overdue_ratio", "orders_90d", "spend_90d", "spend_prev_90d", "spend_trend", "return_count", "return_rate",
    "complaints_30d", "complaints_total", "contacts_90d", "recent_messages", "negative_recent", "negative_share",
    "sentiment_recent", "open_tickets",
)
# Values that do not exist without two orders (or one); everything else is a count, a sum or a share: 0.
_MAY_BE_MISSING = frozenset({"recency_days", "mean_gap_days", "last_gap_days"})


def customer_features(session: Session, as_of: datetime, customer_ids: Collection[int] | None = None) -> pd.DataFrame:
    """One row per customer whose account existed before ``as_of`` (only ``customer_ids`` if given)."""
    if as_of.tzinfo is None:
        raise ValueError("as_of must be timezone-aware")

    def fetch(query: Select, customer_column) -> pd.DataFrame:  # type: ignore[no-untyped-def]
        if customer_ids is not None:
            query = query.where(customer_column.in_(list(customer_ids)))
        result = session.execute(query)
        return pd.DataFrame(result.all(), columns=list(result.keys()))

    customers = fetch(_customer_query(as_of), Customer.id).set_index("customer_id").sort_index()
    orders = fetch(_order_query(as_of), Order.customer_id)
    messages = fetch(_message_query(as_of), Interaction.customer_id)
    tickets = fetch(_ticket_query(as_of), HandoffTicket.customer_id)
    frame = pd.DataFrame({"tenure_days": _days_before(as_of, customers["created_at"]),
                          "account_closed": (customers["closed_at"] < as_of).to_numpy(dtype=bool)},
                         index=customers.index)
    frame = frame.join([_order_features(orders, as_of), _message_features(messages, tickets, as_of),
                        _ticket_features(tickets, as_of)])
    counts = [column for column in frame.columns if frame[column].dtype != bool and column not in _MAY_BE_MISSING]
    frame[counts] = frame[counts].fillna(0.0)
    frame["overdue_ratio"] = frame["recency_days"] / frame["mean_gap_days"]
    frame["return_rate"] = _share(frame["return_count"], frame["frequency"])
    frame["negative_share"] = _share(frame["negative_recent"], frame["recent_messages"])
    total = frame["spend_90d"] + frame["spend_prev_90d"]
    frame["spend_trend"] = _share(frame["spend_90d"] - frame["spend_prev_90d"], total)
    return frame[list(FEATURE_COLUMNS)]


def _share(part: pd.Series, whole: pd.Series) -> pd.Series:
    return (part / whole).where(whole > 0, 0.0)


def _stored(column):  # type: ignore[no-untyped-def]
    """An enum column as the stored string: pandas would turn enum members into "OrderStatus.paid"."""
    return type_coerce(column, String).label(column.key)


def _days_before(as_of: datetime, moments: pd.Series) -> pd.Series:
    return (pd.Timestamp(as_of) - pd.to_datetime(moments, utc=True)).dt.total_seconds() / SECONDS_PER_DAY


def _customer_query(as_of: datetime) -> Select:
    return select(Customer.id.label("customer_id"), Customer.created_at, Customer.closed_at).where(
        Customer.created_at < as_of)


def _order_query(as_of: datetime) -> Select:
    """Orders placed before ``as_of`` with their value, summed from the lines in the database."""
    value = func.coalesce(func.sum(OrderLine.quantity * OrderLine.unit_price), 0)
    return (select(Order.id, Order.customer_id, Order.placed_at, _stored(Order.status), Order.cancelled_at,
                   Order.returned_at, value.label("value"))
            .outerjoin(OrderLine, OrderLine.order_id == Order.id).where(Order.placed_at < as_of).group_by(Order.id))


def _message_query(as_of: datetime) -> Select:
    return select(Interaction.customer_id, Interaction.conversation_id, Interaction.created_at, Interaction.intent,
                  _stored(Interaction.sentiment), Interaction.sentiment_score).where(
        Interaction.customer_id.is_not(None), Interaction.created_at < as_of)


def _ticket_query(as_of: datetime) -> Select:
    return select(HandoffTicket.customer_id, HandoffTicket.conversation_id, HandoffTicket.created_at,
                  HandoffTicket.reason, _stored(HandoffTicket.status), HandoffTicket.resolved_at).where(
        HandoffTicket.customer_id.is_not(None), HandoffTicket.created_at < as_of)


def _happened(status: pd.Series, wanted: OrderStatus, moment: pd.Series, as_of: datetime) -> pd.Series:
    """The order reached ``wanted`` before ``as_of`` (a missing timestamp counts as before)."""
    moment = pd.to_datetime(moment, utc=True)
    return (status == wanted.value) & (moment.isna() | (moment < pd.Timestamp(as_of)))


def _order_features(orders: pd.DataFrame, as_of: datetime) -> pd.DataFrame:
    orders = orders[~_happened(orders["status"], OrderStatus.cancelled, orders["cancelled_at"], as_of)]
    orders = orders.sort_values(["customer_id", "placed_at", "id"])
    returned = _happened(orders["status"], OrderStatus.returned, orders["returned_at"], as_of)
    age = _days_before(as_of, orders["placed_at"])
    kept = orders["value"].astype(float).where(~returned, 0.0)
    by_customer = orders.assign(age=age, kept=kept, returned=returned, gap=-age.groupby(orders["customer_id"]).diff())
    grouped = by_customer.groupby("customer_id")
    recent = by_customer["age"] < RECENT_DAYS
    previous = ~recent & (by_customer["age"] < 2 * RECENT_DAYS)
    frequency = grouped.size()
    return pd.DataFrame({
        "frequency": frequency,
        "recency_days": grouped["age"].min(),
        "monetary": grouped["kept"].sum(),
        "mean_gap_days": ((grouped["age"].max() - grouped["age"].min()) / (frequency - 1)).where(frequency > 1),
        "last_gap_days": grouped["gap"].last(),
        "orders_90d": recent.groupby(by_customer["customer_id"]).sum(),
        "spend_90d": by_customer["kept"].where(recent, 0.0).groupby(by_customer["customer_id"]).sum(),
        "spend_prev_90d": by_customer["kept"].where(previous, 0.0).groupby(by_customer["customer_id"]).sum(),
        "return_count": grouped["returned"].sum(),
    }, dtype=float)


def _message_features(messages: pd.DataFrame, tickets: pd.DataFrame, as_of: datetime) -> pd.DataFrame:
    columns = ["customer_id", "conversation_id", "created_at"]
    complaints = pd.concat([messages.loc[messages["intent"].isin(COMPLAINT_INTENTS), columns],
                            tickets.loc[tickets["reason"].isin(COMPLAINT_TICKET_REASONS), columns]])
    first_complaints = complaints.groupby(["customer_id", "conversation_id"])["created_at"].min().reset_index()
    complaint_age = _days_before(as_of, first_complaints["created_at"])
    messages = messages.assign(age=_days_before(as_of, messages["created_at"]))
    messages = messages.sort_values(["customer_id", "created_at"])
    last = messages.groupby("customer_id").tail(LAST_MESSAGES)
    sign = last["sentiment"].map({SentimentLabel.positive.value: 1.0, SentimentLabel.negative.value: -1.0}).fillna(0.0)
    signed = sign * last["sentiment_score"].astype(float).fillna(1.0)
    return pd.DataFrame({
        "complaints_30d": (complaint_age < COMPLAINT_DAYS).groupby(first_complaints["customer_id"]).sum(),
        "complaints_total": first_complaints.groupby("customer_id").size(),
        "contacts_90d": (messages["age"] < RECENT_DAYS).groupby(messages["customer_id"]).sum(),
        "recent_messages": last.groupby("customer_id").size(),
        "negative_recent": (sign < 0).groupby(last["customer_id"]).sum(),
        "sentiment_recent": signed.groupby(last["customer_id"]).mean(),
    }, dtype=float)


def _ticket_features(tickets: pd.DataFrame, as_of: datetime) -> pd.DataFrame:
    resolved_later = pd.to_datetime(tickets["resolved_at"], utc=True) >= pd.Timestamp(as_of)
    still_open = (tickets["status"] != TicketStatus.resolved.value) | resolved_later
    return pd.DataFrame({"open_tickets": still_open.groupby(tickets["customer_id"]).sum()}, dtype=float)

