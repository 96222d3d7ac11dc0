"""What the recommender reads from the database: all order lines for training, one customer's for serving, and
live stock to filter candidates by."""

from collections.abc import Sequence
from datetime import datetime, timezone

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from app.ml.shop_recs import Candidate, PurchaseHistory
from app.models import Order, OrderLine, OrderStatus, Product

SECONDS_PER_DAY = 86400.0
STOCK_CHUNK = 40  # candidates checked against stock per query


def day_number(moment: datetime) -> float:
    """Days since the Unix epoch: the time scale of the recommender."""
    return moment.astimezone(timezone.utc).timestamp() / SECONDS_PER_DAY


# Built once, with bound parameters: the two serving queries then cost SQLAlchemy a cache lookup, not a statement build.
_LINES = (select(Order.customer_id, Order.id, Order.placed_at, Order.status, OrderLine.product_id)
          .join(OrderLine, OrderLine.order_id == Order.id)
          .where(Order.status != OrderStatus.cancelled))
_LINES_OF_CUSTOMER = _LINES.where(Order.customer_id == bindparam("customer_id"))
_IN_STOCK = select(Product).where(Product.id.in_(bindparam("product_ids", expanding=True)), Product.stock > 0)


def _frame(rows: Sequence) -> pd.DataFrame:  # type: ignore[type-arg]
    frame = pd.DataFrame(rows, columns=["customer_id", "order_id", "placed_at", "status", "product_id"])
    frame["day"] = [day_number(moment) for moment in frame["placed_at"]]
    frame["returned"] = frame["status"] == OrderStatus.returned
    return frame.drop(columns=["placed_at", "status"])


def order_lines(session: Session) -> pd.DataFrame:
    """Every line of every order that was not cancelled: customer_id, order_id, product_id, day, returned."""
    return _frame(session.execute(_LINES).all())


def products(session: Session) -> pd.DataFrame:
    rows = session.execute(select(Product.id, Product.name, Product.category, Product.description,
                                  Product.is_consumable)).all()
    return pd.DataFrame(rows, columns=["id", "name", "category", "description", "is_consumable"])


def customer_history(session: Session, customer_id: int) -> PurchaseHistory:
    rows = session.execute(_LINES_OF_CUSTOMER, {"customer_id": customer_id}).all()
    return PurchaseHistory(
        product_ids=np.array([row.product_id for row in rows], dtype=np.int64),
        order_ids=np.array([row.id for row in rows], dtype=np.int64),
        days=np.array([day_number(row.placed_at) for row in rows], dtype=np.float64),
        kept=np.array([row.status is not OrderStatus.returned for row in rows], dtype=bool),
    )


def first_in_stock(session: Session, candidates: Sequence[Candidate], k: int) -> list[tuple[Candidate, Product]]:
    """The first ``k`` candidates that are in stock right now, each with its live product row."""
    chosen: list[tuple[Candidate, Product]] = []
    for start in range(0, len(candidates), STOCK_CHUNK):
        chunk = candidates[start:start + STOCK_CHUNK]
        rows = session.scalars(_IN_STOCK, {"product_ids": [c.product_id for c in chunk]})
        available = {product.id: product for product in rows}
        chosen += [(c, available[c.product_id]) for c in chunk if c.product_id in available]
        if len(chosen) >= k:
            break
    return chosen[:k]
