"""Benchmark of the churn model on the public IBM Telco customer-churn data (7,043 customers, 26.5 % churned).

The CRM's own model class (``app.ml.churn.ChurnClassifier``), configured with the Telco columns, against a logistic
regression and a gradient boosting baseline, on the same stratified 5-fold split: ROC-AUC, PR-AUC (average
precision) and Brier score, mean and spread over the folds. Every fit sees its training folds only (the model's
calibration and regularisation use inner folds of those). Prints a table, writes ``benchmarks/results/churn.json``
and a reliability plot of the out-of-fold probabilities, ``benchmarks/results/churn_reliability.png``.

Run: ``make bench-churn``, or ``crm_backend/.venv/bin/python benchmarks/bench_churn.py --help``.
"""

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from sklearn.calibration import calibration_curve  # noqa: E402
from sklearn.compose import ColumnTransformer  # noqa: E402
from sklearn.ensemble import GradientBoostingClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import StratifiedKFold  # noqa: E402
from sklearn.pipeline import Pipeline, make_pipeline  # noqa: E402
from sklearn.preprocessing import OneHotEncoder, StandardScaler  # noqa: E402

from app.ml.churn import ChurnClassifier, churn_metrics, one_thread  # noqa: E402
from app.ml.telco import RAW_CATEGORICAL, RAW_NUMERIC, TELCO_CSV, load_telco, telco_churn_model  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks/results/churn.json"
PLOT = REPO / "benchmarks/results/churn_reliability.png"
TARGET_ROC_AUC = 0.850
ANCHORS = {"logistic regression": 0.845, "gradient boosting": 0.841}
HEADLINE = "churn model (CRM), engineered columns"


def _baseline(numeric_step: object, classifier: object) -> Pipeline:
    columns = ColumnTransformer([("numeric", numeric_step, list(RAW_NUMERIC)),
                                 ("categorical", OneHotEncoder(handle_unknown="ignore"), list(RAW_CATEGORICAL))])
    return make_pipeline(columns, classifier)


MODELS: dict[str, Callable[[], object]] = {
    "logistic regression (baseline)": lambda: _baseline(StandardScaler(), LogisticRegression(max_iter=2000)),
    "gradient boosting (baseline)": lambda: _baseline("passthrough", GradientBoostingClassifier(random_state=0)),
    "churn model, raw columns": lambda: ChurnClassifier(RAW_NUMERIC, RAW_CATEGORICAL),
    HEADLINE: telco_churn_model,
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=TELCO_CSV)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--seed", type=int, default=0, help="of the fold split")
    return parser.parse_args()


def cross_validate(make: Callable[[], object], X: pd.DataFrame, y: pd.Series,
                   folds: StratifiedKFold) -> tuple[dict[str, float], np.ndarray]:
    """Mean and standard deviation of the metrics over the folds, and the out-of-fold probabilities."""
    started = time.perf_counter()
    out_of_fold = np.zeros(len(y))
    per_fold = []
    for train, test in folds.split(X, y):
        model = make().fit(X.iloc[train], y.iloc[train])  # type: ignore[attr-defined]
        out_of_fold[test] = model.predict_proba(X.iloc[test])[:, 1]
        per_fold.append(churn_metrics(y.iloc[test], out_of_fold[test]))
    table = pd.DataFrame(per_fold)
    summary = {name: round(float(table[name].mean()), 4) for name in table}
    summary |= {f"{name}_std": round(float(table[name].std()), 4) for name in table}
    return summary | {"seconds": round(time.perf_counter() - started, 1)}, out_of_fold


def reliability_plot(y: pd.Series, predictions: dict[str, np.ndarray], path: Path) -> None:
    figure, axes = plt.subplots(figsize=(6, 6))
    axes.plot([0, 1], [0, 1], color="grey", linestyle=":", label="perfectly calibrated")
    for name, probabilities in predictions.items():
        observed, predicted = calibration_curve(y, probabilities, n_bins=10, strategy="quantile")
        axes.plot(predicted, observed, marker="o", markersize=4, label=name)
    axes.set(xlabel="predicted churn probability (decile means)", ylabel="observed churn rate",
             title="Telco churn: reliability of out-of-fold probabilities", xlim=(0, 1), ylim=(0, 1))
    axes.legend(loc="upper left", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main() -> int:
    args = parse_args()
    if not args.data.is_file():
        print(f"bench-churn needs the Telco churn data set at {args.data} (Telco-Customer-Churn.csv, 7,043 rows)",
              file=sys.stderr)
        return 2
    X, y = load_telco(args.data)
    folds = StratifiedKFold(args.folds, shuffle=True, random_state=args.seed)
    started = time.perf_counter()
    results, predictions = {}, {}
    with one_thread():
        for name, make in MODELS.items():
            print(f"{name} ...", flush=True)
            results[name], predictions[name] = cross_validate(make, X, y, folds)
    headline = results[HEADLINE]
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    reliability_plot(y, predictions, PLOT)
    report = {
        "roc_auc": headline["roc_auc"], "pr_auc": headline["pr_auc"], "brier": headline["brier"],
        "model": HEADLINE, "target_roc_auc": TARGET_ROC_AUC, "target_met": headline["roc_auc"] >= TARGET_ROC_AUC,
        "anchors_roc_auc": ANCHORS, "models": results,
        "data": {"rows": len(y), "churn_rate": round(float(y.mean()), 4), "folds": args.folds, "seed": args.seed},
        "reliability_plot": str(PLOT.relative_to(REPO)),
        "seconds": round(time.perf_counter() - started, 1),
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(), "threads_per_fit": 1},
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nTelco churn, {len(y):,} customers, stratified {args.folds}-fold (seed {args.seed}), mean ± sd over folds")
    print(f"{'model':<40}{'ROC-AUC':>17}{'PR-AUC':>17}{'Brier':>17}{'seconds':>9}")
    for name, row in results.items():
        cells = "".join(f"{row[m]:>9.4f} ± {row[m + '_std']:.3f}" for m in ("roc_auc", "pr_auc", "brier"))
        print(f"{name:<40}{cells}{row['seconds']:>9.1f}")
    verdict = "met" if report["target_met"] else "NOT met"
    print(f"target ROC-AUC >= {TARGET_ROC_AUC} for the churn model: {verdict} ({headline['roc_auc']:.4f}); anchors: "
          + ", ".join(f"{name} {value}" for name, value in ANCHORS.items()))
    print(f"wrote {RESULTS.relative_to(REPO)} and {PLOT.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
