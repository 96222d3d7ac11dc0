"""``crm train-recs``: fit the shop recommender on the live database, measure it, save it with its card.

The measurement holds out every customer's last order: a model fitted on the orders before it recommends ten
products (with the serving rules: nothing bought before unless a consumable is due), and a hit is any product of that
last order among them. Popularity, with the same rule, is the baseline.
"""

import time
from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session

from app.ml import recs_data
from app.ml.recs_eval import hit_rate
from app.ml.shop_recs import PurchaseHistory, ShopRecommender, fit_shop_recommender
from app.ml.store import ModelCard, save_model

MODEL_NAME = "recommendations"
EVAL_CUSTOMERS = 3000
K = 10


def split_last_order(lines: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Lines before each customer's last order, and the lines of that order (customers with two orders or more)."""
    orders = lines.drop_duplicates("order_id").sort_values(["customer_id", "day", "order_id"])
    last = orders.groupby("customer_id").tail(1)
    repeat = last[last["customer_id"].isin(orders["customer_id"][orders.duplicated("customer_id")])]
    held_out = lines["order_id"].isin(repeat["order_id"])
    return lines[~held_out], lines[held_out]


def evaluate(lines: pd.DataFrame, products: pd.DataFrame, customers: int = EVAL_CUSTOMERS,
             seed: int = 0) -> dict[str, float]:
    """HR@10 on held-out last orders of a sample of customers, for the model and for popularity."""
    before, last = split_last_order(lines)
    model = fit_shop_recommender(before, products)
    kept_last = last[~last["returned"]]
    chosen = kept_last["customer_id"].drop_duplicates()
    chosen = chosen.sample(min(customers, len(chosen)), random_state=seed) if len(chosen) else chosen
    by_customer = dict(tuple(before[before["customer_id"].isin(chosen)].groupby("customer_id")))
    targets, ours, popular = [], [], []
    for customer_id, target in kept_last[kept_last["customer_id"].isin(chosen)].groupby("customer_id"):
        history = PurchaseHistory.from_frame(by_customer[customer_id])
        targets.append(target["product_id"].to_numpy())
        ours.append([c.product_id for c in model.for_customer(history, float(target["day"].min()), K, K)])
        popular.append(_popular_unbought(model, history))
    return {"hr10": round(hit_rate(ours, targets), 4), "popularity_hr10": round(hit_rate(popular, targets), 4),
            "eval_customers": len(targets)}


def _popular_unbought(model: ShopRecommender, history: PurchaseHistory) -> list[int]:
    bought = set(history.product_ids.tolist())
    ranked = model.product_ids[model.popular_order[:K + len(bought)]]
    return [int(p) for p in ranked if int(p) not in bought][:K]


def train(session: Session, models_dir: Path) -> ModelCard:
    lines, products = recs_data.order_lines(session), recs_data.products(session)
    if products.empty:
        raise ValueError("there are no products to recommend")
    started = time.perf_counter()
    metrics = evaluate(lines, products)
    evaluated = time.perf_counter()
    model = fit_shop_recommender(lines, products)
    fitted = time.perf_counter()
    return save_model(models_dir, MODEL_NAME, model, training_rows=len(lines), metrics=metrics, details={
        "customers": int(lines["customer_id"].nunique()), "products": len(products),
        "orders": int(lines["order_id"].nunique()), "fit_seconds": round(fitted - evaluated, 1),
        "evaluation_seconds": round(evaluated - started, 1),
        "metric": "HR@10 on each customer's held-out last order, sampled customers; baseline: popularity",
    })
