"""Serving the churn model: one customer's live risk with reasons, and the high-risk list saved at training time."""

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.ml.churn import HIGH_RISK, one_thread, risk_band
from app.ml.churn_reasons import FEATURE_GROUPS, reasons_for
from app.ml.churn_training import MODEL_NAME, ShopChurnModel, scorable
from app.ml.customer_scores import data_date
from app.ml.features import customer_features
from app.ml.store import CurrentModel, ModelCard
from app.models import Customer

NOT_SCORED = "not_scored"
_current = CurrentModel(MODEL_NAME)


@dataclass(frozen=True)
class CustomerRisk:
    probability: float | None  # None: the model is not for this customer (no orders, or account closed)
    band: str
    reasons: list[str]
    as_of: datetime
    model_version: str


@dataclass(frozen=True)
class HighRisk:
    customer_id: int
    name: str
    probability: float


def current_model(models_dir: Path) -> tuple[ShopChurnModel, ModelCard]:
    """The current trained model; ``ModelUnavailable`` (503) if there is none or its file is unreadable."""
    return _current.get(models_dir)


def score_customer(session: Session, models_dir: Path, customer: Customer) -> CustomerRisk:
    """Features of this customer only, as of the date of the data; probability, band and reasons."""
    bundle, card = current_model(models_dir)
    as_of = data_date(session)
    if customer.closed_at is not None and customer.closed_at < as_of:
        return CustomerRisk(None, NOT_SCORED, [f"account closed on {customer.closed_at:%Y-%m-%d}"], as_of, card.version)
    features = customer_features(session, as_of, [customer.id])
    if not scorable(features).any():
        return CustomerRisk(None, NOT_SCORED, ["no orders yet, so there is no buying habit to judge"], as_of,
                            card.version)
    with one_thread():
        probabilities, effects = bundle.model.explain(features, FEATURE_GROUPS)
    probability = float(probabilities[0])
    reasons = reasons_for(features, effects, bundle.model.reference_)[0]
    return CustomerRisk(round(probability, 4), risk_band(probability), reasons, as_of, card.version)


def high_risk(session: Session, models_dir: Path, limit: int) -> tuple[list[HighRisk], datetime, ModelCard]:
    """Customers in the high band at training time, most at risk first, skipping accounts closed since."""
    bundle, card = current_model(models_dir)
    high = int((bundle.probabilities >= HIGH_RISK).sum())
    found: list[HighRisk] = []
    for start in range(0, high, limit):
        ids = bundle.customer_ids[start:min(start + limit, high)]
        names = dict(session.execute(select(Customer.id, Customer.name).where(
            Customer.id.in_(ids.tolist()), Customer.closed_at.is_(None))).tuples().all())
        found += [HighRisk(int(customer_id), names[customer_id], round(float(probability), 4))
                  for customer_id, probability in zip(ids, bundle.probabilities[start:start + len(ids)], strict=True)
                  if customer_id in names]
        if len(found) >= limit:
            break
    return found[:limit], datetime.fromisoformat(bundle.scored_as_of), card
