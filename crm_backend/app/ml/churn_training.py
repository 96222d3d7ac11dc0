"""Training the churn model on the shop's own database (``crm train-churn``).

Label: take a cutoff, the latest order's date minus a horizon of 90 days. Every customer who had ordered before the
cutoff (an order not cancelled) and whose account was open at the cutoff is a training row, described by
``customer_features`` as of the cutoff; the label is 1 (churned) if they placed no order in the 90 days after it.
The model therefore estimates "the chance of no order in the next 90 days"; it scores features as of the date of the
data (`data_date`: now, for a live shop).

Training also scores every customer as of the data date and saves those scores with the model: the agents'
high-risk list reads them (instant, and the same in every worker), so the list is as fresh as the last training.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from app.core.db import make_session_factory
from app.ml.churn import HIGH_RISK, LOW_RISK, ChurnClassifier, churn_metrics, one_thread
from app.ml.churn_reasons import MODEL_FEATURES
from app.ml.customer_scores import data_date
from app.ml.features import customer_features
from app.ml.store import ModelCard, save_model
from app.models import Order, OrderStatus

MODEL_NAME = "churn"
HORIZON_DAYS = 90
HELD_OUT_SHARE = 0.2
MIN_ROWS_PER_CLASS = 20


class NotEnoughData(Exception):
    """Too few customers, or only one outcome, to train and test a model."""


@dataclass(frozen=True)
class TrainingSet:
    cutoff: datetime
    features: pd.DataFrame
    labels: pd.Series


@dataclass
class ShopChurnModel:
    """What ``crm train-churn`` saves: the model, and the scores of every scorable customer at training time
    (highest first), for the high-risk list."""

    model: ChurnClassifier
    scored_as_of: str
    customer_ids: np.ndarray
    probabilities: np.ndarray


def scorable(features: pd.DataFrame) -> pd.Series:
    """Customers the model is for: at least one order, account open."""
    return (features["frequency"] > 0) & ~features["account_closed"]


def shop_churn_model() -> ChurnClassifier:
    return ChurnClassifier(numeric=MODEL_FEATURES)


def training_set(session: Session, horizon_days: int = HORIZON_DAYS) -> TrainingSet:
    latest = session.scalar(select(func.max(Order.placed_at)))
    if latest is None:
        raise NotEnoughData("there are no orders yet")
    cutoff = latest - timedelta(days=horizon_days)
    features = customer_features(session, cutoff)
    features = features[scorable(features)]
    came_back = set(session.scalars(select(Order.customer_id).distinct().where(
        Order.placed_at >= cutoff, Order.status != OrderStatus.cancelled)))
    labels = pd.Series((~features.index.isin(came_back)).astype(int), index=features.index, name="churned")
    return TrainingSet(cutoff=cutoff, features=features, labels=labels)


def held_out_predictions(data: TrainingSet, random_state: int = 0) -> tuple[pd.Series, np.ndarray]:
    """Labels and predicted probabilities of a stratified held-out share, from a model fitted on the rest."""
    X_train, X_test, y_train, y_test = train_test_split(
        data.features, data.labels, test_size=HELD_OUT_SHARE, stratify=data.labels, random_state=random_state)
    return y_test, shop_churn_model().fit(X_train, y_train).predict_proba(X_test)[:, 1]


def train_churn(session: Session, models_dir: Path, *, random_state: int = 0) -> ModelCard:
    """Measure on a held-out share of the customers, then train on all of them and save that model."""
    data = training_set(session)
    counts = data.labels.value_counts()
    if len(counts) < 2 or counts.min() < MIN_ROWS_PER_CLASS:
        raise NotEnoughData(f"need at least {MIN_ROWS_PER_CLASS} churned and {MIN_ROWS_PER_CLASS} retained customers, "
                            f"have {counts.get(1, 0)} and {counts.get(0, 0)}")
    y_test, held_out = held_out_predictions(data, random_state)
    metrics = churn_metrics(y_test, held_out) | {"churn_rate": round(float(data.labels.mean()), 4)}
    model = shop_churn_model().fit(data.features, data.labels)
    bundle = score_everyone(session, model)
    details = {
        "cutoff": data.cutoff.isoformat(), "horizon_days": HORIZON_DAYS, "held_out_rows": len(y_test),
        "metrics_on": f"held-out {HELD_OUT_SHARE:.0%} of customers; the saved model is then trained on all rows",
        "bands": {"low": f"< {LOW_RISK}", "medium": f"{LOW_RISK} to < {HIGH_RISK}", "high": f">= {HIGH_RISK}"},
        "features": list(MODEL_FEATURES),
        "scored_as_of": bundle.scored_as_of, "scored_customers": len(bundle.customer_ids),
    }
    return save_model(models_dir, MODEL_NAME, bundle, training_rows=len(data.labels), metrics=metrics, details=details)


def score_everyone(session: Session, model: ChurnClassifier) -> ShopChurnModel:
    as_of = data_date(session)
    features = customer_features(session, as_of)
    features = features[scorable(features)]
    probabilities = model.predict_proba(features)[:, 1] if len(features) else np.empty(0)
    order = np.argsort(-probabilities, kind="stable")
    return ShopChurnModel(model=model, scored_as_of=as_of.isoformat(), customer_ids=features.index.to_numpy()[order],
                          probabilities=probabilities[order])


def train_churn_command(engine: Engine, models_dir: Path) -> None:
    """``crm train-churn``: retrain on the database, save the new version, print its held-out metrics."""
    with make_session_factory(engine)() as session, one_thread():
        try:
            card = train_churn(session, models_dir)
        except NotEnoughData as error:
            raise SystemExit(f"churn model not trained: {error}") from error
    print(f"churn model {card.version}: {card.training_rows:,} customers, cutoff {card.details['cutoff'][:10]}, "
          f"churn rate {card.metrics['churn_rate']:.1%}")
    print(f"held-out ROC-AUC {card.metrics['roc_auc']:.3f}  PR-AUC {card.metrics['pr_auc']:.3f}  "
          f"Brier {card.metrics['brier']:.3f}  -> {models_dir / MODEL_NAME / card.version}")
