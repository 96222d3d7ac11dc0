"""The segment and value models together: trained by ``crm train-segments``, read by the API and the manager report."""

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
from sklearn.pipeline import Pipeline
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from threadpoolctl import threadpool_limits

from app.ml.customer_value import HORIZON_DAYS, LAST_WINDOW_SPEND, predict_value, train_value_model, value_inputs
from app.ml.features import customer_features
from app.ml.segments import (
    RFM_COLUMNS,
    SEGMENT_LABELS,
    SEGMENT_ORDER,
    SEGMENT_RULES,
    RFMScorer,
    assign_segments,
    cluster_check,
)
from app.ml.store import CurrentModel, ModelCard, ModelUnavailable, save_model
from app.models import Customer, Order

SEGMENTS_MODEL = "segments"
VALUE_MODEL = "customer_value"
_current_scorer = CurrentModel(SEGMENTS_MODEL)
_current_value = CurrentModel(VALUE_MODEL)


def data_date(session: Session, now: datetime | None = None) -> datetime:
    """"Today" for the models: now, or the midnight after the latest order or sign-up when the data stops earlier
    (a demo shop seeded in the past, an imported history)."""
    now = now or datetime.now(timezone.utc)
    latest = max(filter(None, (session.scalar(select(func.max(Order.placed_at))),
                               session.scalar(select(func.max(Customer.created_at))))), default=now)
    return min(now, latest.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1))


@dataclass(frozen=True)
class ScoringModels:
    scorer: RFMScorer
    value_model: Pipeline
    segments_card: ModelCard
    value_card: ModelCard

    @property
    def horizon_days(self) -> int:
        return int(self.value_card.details.get("horizon_days", HORIZON_DAYS))

    @property
    def versions(self) -> dict[str, str]:
        return {card.name: card.version for card in (self.segments_card, self.value_card)}


def load_scoring_models(models_dir: Path) -> ScoringModels:
    """Both current models (each reloaded when retraining moves it); ``ModelUnavailable`` if either cannot serve."""
    scorer, segments_card = _current_scorer.get(models_dir)
    value_model, value_card = _current_value.get(models_dir)
    if not isinstance(scorer, RFMScorer) or not hasattr(value_model, "predict"):
        raise ModelUnavailable("the segment model files do not hold the expected models")
    return ScoringModels(scorer, value_model, segments_card, value_card)


def score_customers(session: Session, models: ScoringModels, as_of: datetime,
                    customer_ids: list[int] | None = None) -> pd.DataFrame:
    """Per customer: recency, frequency, monetary, their 1-5 scores, the segment, the spend of the last window and the
    expected spend of the next."""
    inputs = value_inputs(session, as_of, models.horizon_days, customer_ids)
    scored = inputs[[*RFM_COLUMNS, LAST_WINDOW_SPEND]].join(assign_segments(inputs, models.scorer))
    scored["expected_value"] = predict_value(models.value_model, inputs)
    return scored


def segment_summary(scored: pd.DataFrame) -> pd.DataFrame:
    """Per segment (every segment, in a fixed order): customers, share, revenue to date and in the last window,
    expected value in the next."""
    grouped = scored.groupby("segment")
    summary = pd.DataFrame({
        "customers": grouped.size(),
        "revenue": grouped["monetary"].sum(),
        "revenue_last_window": grouped[LAST_WINDOW_SPEND].sum(),
        "expected_value": grouped["expected_value"].sum(),
    }).reindex(list(SEGMENT_ORDER), fill_value=0)
    summary["label"] = [SEGMENT_LABELS[name] for name in summary.index]
    summary["share"] = summary["customers"] / max(len(scored), 1)
    summary["revenue_share"] = summary["revenue"] / summary["revenue"].sum() if summary["revenue"].sum() else 0.0
    summary["average_expected_value"] = (summary["expected_value"] / summary["customers"]).where(summary["customers"] > 0, 0.0)
    return summary


def train_scoring_models(session: Session, models_dir: Path, now: datetime | None = None,
                         horizon_days: int = HORIZON_DAYS) -> tuple[ModelCard, ModelCard]:
    """Fit the RFM cut points and the value model on the live database and save both as the current versions.

    One BLAS/OpenMP thread: the data is small, and on a busy machine spinning threads made training 20 times slower.
    """
    with threadpool_limits(limits=1):
        return _train(session, models_dir, data_date(session, now), horizon_days)


def _train(session: Session, models_dir: Path, as_of: datetime, horizon_days: int) -> tuple[ModelCard, ModelCard]:
    features = customer_features(session, as_of)
    scorer = RFMScorer().fit(features)
    segments = assign_segments(features, scorer)["segment"]
    check = cluster_check(features, segments)
    segments_card = save_model(
        models_dir, SEGMENTS_MODEL, scorer, training_rows=len(features),
        metrics={name: round(value, 4) for name, value in check.metrics.items()},
        details={
            "as_of": as_of.isoformat(),
            "cut_points": {column: [round(float(edge), 2) for edge in edges] for column, edges in scorer.edges_.items()},
            "rules": [{"segment": rule.name, "r": rule.r, "f": rule.f, "fm": rule.fm} for rule in SEGMENT_RULES],
            "segment_counts": {name: int(count) for name, count in segments.value_counts().items()},
            "kmeans_best_k_composition": check.best_k_composition,
        },
    )
    value = train_value_model(session, as_of, horizon_days)
    value_card = save_model(models_dir, VALUE_MODEL, value.model, training_rows=value.training_rows,
                            metrics=value.metrics, details={"as_of": as_of.isoformat(), **value.details})
    return segments_card, value_card
