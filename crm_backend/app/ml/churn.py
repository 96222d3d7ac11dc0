"""The churn model: calibrated probabilities from a blend of logistic regression and gradient boosting.

The same class serves the shop (configured with the columns of ``app.ml.features``) and the public Telco benchmark
(configured with that data set's columns), so the benchmark measures the modelling code the CRM runs.
"""

import itertools
import math
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.calibration import CalibratedClassifierCV
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier, VotingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegressionCV
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, QuantileTransformer
from sklearn.utils.validation import check_is_fitted
from threadpoolctl import ThreadpoolController

# Created after the imports above, so it sees the OpenMP and BLAS libraries scikit-learn loaded.
_THREADPOOLS = ThreadpoolController()

# Risk bands on the calibrated probability of churning within the horizon: below LOW_RISK is low, from HIGH_RISK on
# is high, medium in between.
LOW_RISK = 0.3
HIGH_RISK = 0.6


def risk_band(probability: float) -> str:
    if probability >= HIGH_RISK:
        return "high"
    return "medium" if probability >= LOW_RISK else "low"


def one_thread():  # type: ignore[no-untyped-def]
    """Context manager: fit and predict on one thread per library. On a small shared machine OpenMP and BLAS threads
    spin against each other and run several times slower than one thread (measured: 10x for gradient boosting)."""
    return _THREADPOOLS.limit(limits=1)


def churn_metrics(labels: Sequence[int], probabilities: Sequence[float]) -> dict[str, float]:
    """Ranking (ROC-AUC, PR-AUC: average precision) and calibration (Brier score, lower is better)."""
    return {
        "roc_auc": round(float(roc_auc_score(labels, probabilities)), 4),
        "pr_auc": round(float(average_precision_score(labels, probabilities)), 4),
        "brier": round(float(brier_score_loss(labels, probabilities)), 4),
    }


class ChurnClassifier(ClassifierMixin, BaseEstimator):
    """Probability that a customer churns, calibrated, from numeric and categorical columns of a DataFrame.

    A ColumnTransformer prepares the columns (numbers: median-imputed with a flag for missing values, then mapped to
    normal scores by rank; categories: one-hot). A soft vote of a logistic regression, its regularisation chosen by
    an inner cross-validation, and a histogram gradient boosting model ranks the rows; ``CalibratedClassifierCV``
    turns the vote into probabilities fitted on held-out folds. ``reference_`` keeps a typical retained row (the
    median, or the most frequent category, where the label is 0), the baseline of ``explain``.
    """

    def __init__(self, numeric: Sequence[str] = (), categorical: Sequence[str] = (), *, lr_weight: float = 0.5,
                 learning_rate: float = 0.05, max_iter: int = 200, max_leaf_nodes: int = 8, min_samples_leaf: int = 40,
                 l2_regularization: float = 1.0, calibration: str = "sigmoid", cv: int = 5,
                 random_state: int = 0) -> None:
        self.numeric = numeric
        self.categorical = categorical
        self.lr_weight = lr_weight
        self.learning_rate = learning_rate
        self.max_iter = max_iter
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.calibration = calibration
        self.cv = cv
        self.random_state = random_state

    @property
    def columns(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    def fit(self, X: pd.DataFrame, y: Sequence[int]) -> "ChurnClassifier":
        X = X[self.columns]
        y = np.asarray(y)
        self.pipeline_ = self._pipeline().fit(X, y)
        self.classes_ = self.pipeline_.classes_
        retained = X[y == self.classes_[0]]
        self.reference_ = {
            **{name: float(retained[name].median()) for name in self.numeric},
            **{name: retained[name].mode().iloc[0] for name in self.categorical},
        }
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        check_is_fitted(self, "pipeline_")
        return self.pipeline_.predict_proba(X[self.columns])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[(self.predict_proba(X)[:, 1] >= 0.5).astype(int)]

    def explain(self, X: pd.DataFrame, groups: Mapping[str, Sequence[str]]) -> tuple[np.ndarray, pd.DataFrame]:
        """Churn probabilities, and how much each group of columns moves them away from a typical retained row's.

        The contributions are Shapley values of the groups, in probability points: every coalition of groups takes
        the row's own values, the other groups the typical values (``reference_``), and each group is credited with
        its average marginal effect. They add up to the row's probability minus the typical one, and two facts that
        each suffice to flag a customer share the credit instead of hiding each other. One prediction of
        2**len(groups) rows per row; columns in no group keep the row's values.
        """
        check_is_fitted(self, "pipeline_")
        names = list(groups)
        k = len(names)
        coalitions = np.array(list(itertools.product((False, True), repeat=k)))  # the last one: all own values
        X = X[self.columns]
        variants = X.loc[X.index.repeat(len(coalitions))].reset_index(drop=True)
        own = np.tile(coalitions, (len(X), 1))
        for position, name in enumerate(names):
            for column in groups[name]:
                variants[column] = variants[column].where(own[:, position], self.reference_[column])
        values = self.predict_proba(variants)[:, 1].reshape(len(X), len(coalitions))
        weight_of_size = [math.factorial(size) * math.factorial(k - size - 1) / math.factorial(k) for size in range(k)]
        effects = np.zeros((len(X), k))
        for position in range(k):
            without = np.flatnonzero(~coalitions[:, position])
            with_it = without + 2 ** (k - 1 - position)  # the same coalition with this group's own values
            weights = np.array([weight_of_size[size] for size in coalitions[without].sum(axis=1)])
            effects[:, position] = (values[:, with_it] - values[:, without]) @ weights
        return values[:, -1], pd.DataFrame(effects, columns=names, index=X.index)

    def _pipeline(self) -> Pipeline:
        folds = StratifiedKFold(self.cv, shuffle=True, random_state=self.random_state)
        columns = ColumnTransformer([
            ("numeric", make_pipeline(SimpleImputer(strategy="median", add_indicator=True),
                                      QuantileTransformer(n_quantiles=200, output_distribution="normal",
                                                          random_state=self.random_state)), list(self.numeric)),
            ("categorical", OneHotEncoder(handle_unknown="ignore", sparse_output=False), list(self.categorical)),
        ])
        vote = VotingClassifier([
            ("logistic", LogisticRegressionCV(Cs=12, l1_ratios=(0.0,), cv=folds, scoring="neg_log_loss", max_iter=2000,
                                              use_legacy_attributes=False)),
            ("boosting", HistGradientBoostingClassifier(
                learning_rate=self.learning_rate, max_iter=self.max_iter, max_leaf_nodes=self.max_leaf_nodes,
                min_samples_leaf=self.min_samples_leaf, l2_regularization=self.l2_regularization,
                early_stopping=False, random_state=self.random_state)),
        ], voting="soft", weights=[self.lr_weight, 1.0 - self.lr_weight])
        return Pipeline([("columns", columns),
                         ("model", CalibratedClassifierCV(vote, method=self.calibration, cv=folds))])
