"""RFM scores and named customer segments, with a k-means check of the rule table.

Each of recency, frequency and monetary value gets a quintile score from 1 (worst) to 5 (best), with the cut points
learnt from the customers who have ordered. A segment is the first rule of ``SEGMENT_RULES`` that matches the R score
and FM, the mean of the F and M scores rounded down. Customers who never ordered are prospects and have no scores.
"""

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.cluster import KMeans
from sklearn.metrics import adjusted_rand_score, silhouette_score
from sklearn.preprocessing import StandardScaler

RFM_COLUMNS = ("recency_days", "frequency", "monetary")
QUINTILES = (0.2, 0.4, 0.6, 0.8)
PROSPECT = "prospect"


@dataclass(frozen=True)
class SegmentRule:
    name: str
    label: str
    r: tuple[int, int]  # inclusive range of the R score
    fm: tuple[int, int]  # inclusive range of FM
    f: tuple[int, int] = (1, 5)  # inclusive range of the F score
    advice: str = ""

    def matches(self, r: int, f: int, fm: int) -> bool:
        return self.r[0] <= r <= self.r[1] and self.f[0] <= f <= self.f[1] and self.fm[0] <= fm <= self.fm[1]


# First match wins; together the rules cover every (R, F, M), so each buyer gets exactly one segment.
SEGMENT_RULES = (
    SegmentRule("new", "New", r=(4, 5), fm=(1, 5), f=(1, 1), advice="welcome them and earn the second order"),
    SegmentRule("champions", "Champions", r=(4, 5), fm=(4, 5), advice="reward them; early access, no discounts needed"),
    SegmentRule("loyal", "Loyal", r=(3, 5), fm=(3, 5), advice="upsell, ask for reviews"),
    SegmentRule("potential_loyalists", "Potential loyalists", r=(3, 5), fm=(1, 2),
                advice="recommend products to grow their baskets"),
    SegmentRule("cant_lose_them", "Can't lose them", r=(1, 1), fm=(4, 5),
                advice="win them back personally, before a competitor does"),
    SegmentRule("at_risk", "At risk", r=(1, 2), fm=(3, 5), advice="reactivation offer, ask what went wrong"),
    SegmentRule("hibernating", "Hibernating", r=(2, 2), fm=(1, 2), advice="low-cost reminders of what they liked"),
    SegmentRule("lost", "Lost", r=(1, 1), fm=(1, 2), advice="leave to cheap campaigns only"),
)
SEGMENT_LABELS = {rule.name: rule.label for rule in SEGMENT_RULES} | {PROSPECT: "Prospects (no order yet)"}
SEGMENT_ADVICE = {rule.name: rule.advice for rule in SEGMENT_RULES} | {PROSPECT: "help them to a first order"}
# For display: from the most to the least valuable relationship.
SEGMENT_ORDER = ("champions", "loyal", "potential_loyalists", "new", "at_risk", "cant_lose_them", "hibernating", "lost",
                 PROSPECT)


def segment_for(r: int, f: int, m: int) -> str:
    fm = (f + m) // 2
    for rule in SEGMENT_RULES:
        if rule.matches(r, f, fm):
            return rule.name
    raise ValueError(f"no segment rule covers R={r} F={f} M={m}")


class RFMScorer(BaseEstimator):
    """Learns the quintile cut points of recency, frequency and monetary value; scores customers 1-5 on each."""

    def fit(self, features: pd.DataFrame) -> "RFMScorer":
        buyers = features[has_ordered(features)]
        if buyers.empty:
            raise ValueError("no customer has ordered yet: there is nothing to score")
        self.edges_ = {column: np.quantile(buyers[column].astype(float), QUINTILES) for column in RFM_COLUMNS}
        return self

    def transform(self, features: pd.DataFrame) -> pd.DataFrame:
        """``r_score``, ``f_score``, ``m_score`` per customer; missing (NA) for customers who never ordered.

        A value equal to a cut point falls in the lower bin (bins are closed on the right, as in ``pandas.qcut``).
        """
        def higher_is_better(column: str) -> np.ndarray:
            return 1 + np.searchsorted(self.edges_[column], features[column].astype(float), side="left")

        scores = pd.DataFrame({
            "r_score": 6 - higher_is_better("recency_days"),
            "f_score": higher_is_better("frequency"),
            "m_score": higher_is_better("monetary"),
        }, index=features.index).astype("Int64")
        scores[~has_ordered(features)] = pd.NA
        return scores


def has_ordered(features: pd.DataFrame) -> pd.Series:
    return (features["frequency"] > 0) & features["recency_days"].notna()


def assign_segments(features: pd.DataFrame, scorer: RFMScorer) -> pd.DataFrame:
    """The scores and the segment name of each customer."""
    scored = scorer.transform(features)
    scored["segment"] = [
        PROSPECT if pd.isna(r) else segment_for(int(r), int(f), int(m))
        for r, f, m in scored[["r_score", "f_score", "m_score"]].itertuples(index=False)
    ]
    return scored


@dataclass(frozen=True)
class ClusterCheck:
    metrics: dict[str, float]
    best_k_composition: dict[str, list[int]]  # rule segment -> customers in each k-means cluster at the best k


def cluster_check(features: pd.DataFrame, segments: pd.Series, *, max_k: int = 8, seed: int = 0) -> ClusterCheck:
    """How well the rule segments separate customers in scaled log-RFM space, compared with k-means.

    Silhouette runs from -1 to 1 (higher: tighter, better separated groups). k-means with as many clusters as there
    are rule segments shows what the same number of data-driven groups achieves; the adjusted Rand index says how far
    the two groupings agree; the best k between 2 and ``max_k`` shows how many natural groups the data has, and its
    composition which rule segments fall together.
    """
    buyers = has_ordered(features)
    points = StandardScaler().fit_transform(np.log1p(features.loc[buyers, list(RFM_COLUMNS)].astype(float).clip(lower=0)))
    rule_labels = segments[buyers].to_numpy()
    n_rule = len(set(rule_labels))
    if n_rule < 2 or len(points) <= max_k:
        raise ValueError("too few buyers or segments to compare the rule segments with k-means")
    by_k = {k: KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(points) for k in range(2, max_k + 1)}
    silhouettes = {k: float(silhouette_score(points, labels)) for k, labels in by_k.items()}
    best_k = max(silhouettes, key=silhouettes.__getitem__)
    same_k = by_k[n_rule] if n_rule in by_k else KMeans(n_clusters=n_rule, n_init=10, random_state=seed).fit_predict(points)
    composition = pd.crosstab(rule_labels, by_k[best_k])
    return ClusterCheck(
        metrics={
            "rule_segments": float(n_rule),
            "silhouette_rules": float(silhouette_score(points, rule_labels)),
            "silhouette_kmeans_same_k": float(silhouette_score(points, same_k)),
            "adjusted_rand_rules_vs_kmeans": float(adjusted_rand_score(rule_labels, same_k)),
            "kmeans_best_k": float(best_k),
            "silhouette_kmeans_best_k": silhouettes[best_k],
        },
        best_k_composition={str(name): [int(n) for n in row] for name, row in composition.iterrows()},
    )
