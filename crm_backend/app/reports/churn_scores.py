"""Churn probabilities for the manager report, from the churn model when it can serve; the reason when it cannot."""

from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session

from app.ml.churn import HIGH_RISK, LOW_RISK, one_thread, risk_band
from app.ml.churn_scoring import current_model
from app.ml.churn_training import score_everyone
from app.ml.store import ModelUnavailable

BAND_LIMITS = {"low": (0.0, LOW_RISK), "medium": (LOW_RISK, HIGH_RISK), "high": (HIGH_RISK, 1.0 + 1e-9)}


@dataclass(frozen=True)
class ChurnScores:
    probabilities: pd.Series | None  # per customer id: those the model is for (ordered, account open)
    bands: pd.Series | None
    version: str = ""
    horizon_days: int | None = None  # the churn model's "no order within" horizon
    unavailable_reason: str = ""
    band_limits: dict[str, tuple[float, float]] = field(default_factory=lambda: dict(BAND_LIMITS))


def churn_scores(session: Session, models_dir: Path) -> ChurnScores:
    """Every scorable customer scored live by the current churn model, as of the date of the data."""
    try:
        bundle, card = current_model(models_dir)
    except ModelUnavailable as error:
        return ChurnScores(None, None, unavailable_reason=str(error))
    with one_thread():
        scored = score_everyone(session, bundle.model)
    probabilities = pd.Series(scored.probabilities, index=scored.customer_ids, name="churn_probability")
    return ChurnScores(probabilities, probabilities.map(risk_band), version=card.version,
                       horizon_days=card.details.get("horizon_days"))
