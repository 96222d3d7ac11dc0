"""Expected spend of each customer in the next ``horizon_days`` (180 by default), learnt from the shop's own history.

Training uses time splits: inputs are the customer features as of a cutoff, the target is the customer's net spend in
the window after it (``monetary`` at the window's end minus ``monetary`` at the cutoff, so an earlier order returned
inside the window counts against it). The holdout is out of time: the model learns from the window that ends one
horizon before the data date and is scored on the last window, against the naive forecast "the next window repeats the
last one" (the spend of the ``horizon_days`` before the cutoff). The served model is then refitted on both windows.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from sklearn.impute import SimpleImputer
from sklearn.linear_model import PoissonRegressor
from sklearn.metrics import mean_absolute_error, root_mean_squared_error
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sqlalchemy.orm import Session

from app.ml.features import FEATURE_COLUMNS, customer_features
from app.ml.store import ModelUnavailable

HORIZON_DAYS = 180
LAST_WINDOW_SPEND = "spend_last_window"
VALUE_INPUTS = (*FEATURE_COLUMNS, LAST_WINDOW_SPEND)


def value_inputs(session: Session, as_of: datetime, horizon_days: int = HORIZON_DAYS,
                 customer_ids: list[int] | None = None) -> pd.DataFrame:
    """The customer features as of ``as_of`` and the net spend of the ``horizon_days`` before it, as floats."""
    features = customer_features(session, as_of, customer_ids).astype(float)
    earlier = customer_features(session, as_of - timedelta(days=horizon_days), customer_ids)["monetary"]
    features[LAST_WINDOW_SPEND] = features["monetary"] - earlier.reindex(features.index, fill_value=0.0)
    return features[list(VALUE_INPUTS)]


def spend_after(session: Session, inputs: pd.DataFrame, cutoff: datetime, horizon_days: int) -> pd.Series:
    """Net spend of the customers in ``inputs`` in the ``horizon_days`` after ``cutoff``."""
    later = customer_features(session, cutoff + timedelta(days=horizon_days))["monetary"]
    return (later.reindex(inputs.index).astype(float) - inputs["monetary"]).rename("spend_next_window")


def build_value_model() -> Pipeline:
    """A Poisson GLM: predictions are means (they add up to revenue), never negative, and each input acts on the log
    of expected spend. Missing recency or gaps (customers with no or one order) are imputed and flagged.

    Gradient-boosted trees (Poisson loss) and a random forest did no better on the holdout and were worse on small
    shops (docs/segments.md).
    """
    return Pipeline([
        ("impute", SimpleImputer(strategy="median", add_indicator=True)),
        ("scale", StandardScaler()),
        ("regressor", PoissonRegressor(alpha=1e-3, max_iter=1000)),
    ])


def fit_value_model(inputs: pd.DataFrame, target: pd.Series) -> Pipeline:
    # The Poisson loss needs a non-negative target; a net refund in a window counts as no spend.
    return build_value_model().fit(inputs, target.clip(lower=0.0))


def predict_value(model: Pipeline, inputs: pd.DataFrame) -> pd.Series:
    missing = [name for name in model.feature_names_in_ if name not in inputs.columns]
    if missing:
        raise ModelUnavailable(f"the customer value model needs inputs that no longer exist ({', '.join(missing[:3])}); "
                               "retrain it with crm train-segments")
    return pd.Series(model.predict(inputs[list(model.feature_names_in_)]), index=inputs.index, name="expected_value")


@dataclass(frozen=True)
class ValueTraining:
    model: Pipeline
    training_rows: int
    metrics: dict[str, float]
    details: dict[str, object]


def train_value_model(session: Session, as_of: datetime, horizon_days: int = HORIZON_DAYS) -> ValueTraining:
    """Holdout on the last window, then the served model refitted on both windows."""
    windows = []
    for cutoff in (as_of - timedelta(days=2 * horizon_days), as_of - timedelta(days=horizon_days)):
        inputs = value_inputs(session, cutoff, horizon_days)
        windows.append((cutoff, inputs, spend_after(session, inputs, cutoff, horizon_days)))
    (train_cutoff, train_x, train_y), (test_cutoff, test_x, test_y) = windows
    if len(train_x) < 50 or len(test_x) < 50:
        raise ValueError("the value model needs at least 50 customers in each window; is the order history too short?")
    holdout = holdout_metrics(test_y, predict_value(fit_value_model(train_x, train_y), test_x), test_x[LAST_WINDOW_SPEND])
    model = fit_value_model(pd.concat([train_x, test_x]), pd.concat([train_y, test_y]))
    details = {
        "horizon_days": horizon_days,
        "train_window": [train_cutoff.isoformat(), test_cutoff.isoformat()],
        "holdout_window": [test_cutoff.isoformat(), as_of.isoformat()],
        "train_rows": len(train_x), "holdout_rows": len(test_x), "inputs": list(VALUE_INPUTS),
        "baseline": f"net spend of the {horizon_days} days before the cutoff",
    }
    return ValueTraining(model, len(train_x) + len(test_x), holdout, details)


def holdout_metrics(actual: pd.Series, predicted: pd.Series, baseline: pd.Series) -> dict[str, float]:
    mae, baseline_mae = mean_absolute_error(actual, predicted), mean_absolute_error(actual, baseline)
    return {
        "holdout_mae": round(float(mae), 2),
        "baseline_mae": round(float(baseline_mae), 2),
        "mae_gain_vs_baseline": round(float(1 - mae / baseline_mae), 4),
        "holdout_rmse": round(float(root_mean_squared_error(actual, predicted)), 2),
        "baseline_rmse": round(float(root_mean_squared_error(actual, baseline)), 2),
        "holdout_mean_actual": round(float(actual.mean()), 2),
        "predicted_to_actual_total": round(float(np.sum(predicted) / np.sum(actual)), 4),
    }
