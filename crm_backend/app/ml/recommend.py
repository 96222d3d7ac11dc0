"""Sequential item recommender: long-term taste (ALS) plus "what people buy next" (step transitions).

A user's history is a sequence of steps (an order, or a single interaction), each holding one or more items. The score
of item ``j`` for a history ``h`` is

    s_j = u_h · y_j  +  w_T · Σ_k r^k · T[h_k, j]

* ``y_j`` are implicit-feedback ALS item factors; ``u_h`` is folded in from the history at request time by one
  regularised least-squares solve, with confidence ``1 + α·d^age`` so recent steps weigh more (``age`` = steps ago).
* ``T`` is a row-normalised transition matrix: how often ``j`` followed ``i`` within ``window`` steps, nearer steps
  counting more. It carries the order of purchases, which the ALS taste vector ignores.

Both terms are sums over history items, so every score splits exactly into what each past item contributed: that is
where the reasons ("customers who bought X also bought Y", "people buy Y next after X") come from. Works for any data
given as item indices; the shop layer (``app.ml.shop_recs``) and the Amazon benchmark both use it.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from threadpoolctl import threadpool_limits


@dataclass(frozen=True)
class History:
    """Items of one user, oldest first; ``steps`` is non-decreasing and items sharing a step were bought together."""

    items: np.ndarray
    steps: np.ndarray

    @classmethod
    def of_sequence(cls, items: Sequence[int]) -> "History":
        """One item per step, as in a stream of interactions."""
        return cls(np.asarray(items, dtype=np.int64), np.arange(len(items), dtype=np.int64))

    def ages(self) -> np.ndarray:
        """How many distinct steps ago each item was taken: 0 for the latest step."""
        ranks = np.unique(self.steps, return_inverse=True)[1]
        return ranks.max() - ranks if len(ranks) else ranks


@dataclass(frozen=True)
class RecommenderConfig:
    factors: int = 64
    regularization: float = 0.05
    alpha: float = 20.0  # confidence of an observed item in ALS
    iterations: int = 15
    taste_decay: float = 0.8  # confidence multiplier per step of age when folding in a user
    window: int = 3  # transitions counted up to this many steps ahead ...
    window_decay: float = 0.5  # ... each further step counting this much less
    transition_weight: float = 2.0
    transition_decay: float = 0.5  # weight of a past step's transitions per step of age
    neighbours: int = 50  # length of the precomputed similar-item lists
    seed: int = 0


@dataclass(frozen=True)
class Contribution:
    """Which past item did most for a recommendation, and through which part of the model."""

    source: int
    kind: str  # "next": bought after it; "taste": bought by the same customers


class SequentialRecommender:
    """fit / recommend / similar_items / explain, on item indices ``0 .. n_items - 1``."""

    def __init__(self, config: RecommenderConfig | None = None) -> None:
        self.config = config or RecommenderConfig()
        self.n_items = 0
        self.item_factors = np.zeros((0, self.config.factors), dtype=np.float32)
        self.gram = np.zeros((self.config.factors, self.config.factors))
        self.transitions = sp.csr_matrix((0, 0))
        self.neighbour_items = np.zeros((0, 0), dtype=np.int32)
        self.neighbour_scores = np.zeros((0, 0), dtype=np.float32)

    # --- training ---------------------------------------------------------------------------------

    def fit(self, histories: Sequence[History], n_items: int) -> "SequentialRecommender":
        self.n_items = n_items
        user_items = _user_item_matrix(histories, n_items)
        self.item_factors = self._fit_factors(user_items)
        self.gram = self.item_factors.T.astype(np.float64) @ self.item_factors
        self.transitions = _transition_matrix(histories, n_items, self.config.window, self.config.window_decay)
        self.neighbour_items, self.neighbour_scores = _cosine_neighbours(self.item_factors, self.config.neighbours)
        return self

    def _fit_factors(self, user_items: sp.csr_matrix) -> np.ndarray:
        from implicit.cpu.als import AlternatingLeastSquares

        config = self.config
        if user_items.nnz == 0:
            return np.zeros((self.n_items, config.factors), dtype=np.float32)
        with threadpool_limits(1, "blas"):  # implicit parallelises itself; nested BLAS threads only slow it down
            model = AlternatingLeastSquares(factors=config.factors, regularization=config.regularization,
                                            alpha=config.alpha, iterations=config.iterations,
                                            random_state=config.seed, calculate_training_loss=False)
            model.fit(user_items, show_progress=False)
        return np.ascontiguousarray(model.item_factors, dtype=np.float32)

    # --- scoring ----------------------------------------------------------------------------------

    def taste_vector(self, history: History) -> np.ndarray:
        """The ALS user vector for this history (zero when it is empty)."""
        return self._taste_system(history)[1]

    def _taste_system(self, history: History) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Unique items, their confidence weight, the solved user vector and the inverse system matrix."""
        config = self.config
        factors = self.item_factors.shape[1]
        if len(history.items) == 0:
            empty = np.zeros(0)
            return np.zeros(0, dtype=np.int64), np.zeros(factors), empty, np.zeros((factors, factors))
        weights = np.zeros(self.n_items)
        np.add.at(weights, history.items, config.taste_decay ** history.ages())
        items = np.flatnonzero(weights)
        confidence = config.alpha * weights[items]
        item_vectors = self.item_factors[items].astype(np.float64)
        system = self.gram + (item_vectors.T * confidence) @ item_vectors + config.regularization * np.eye(factors)
        inverse = np.linalg.inv(system)
        weight = 1.0 + confidence
        return items, inverse @ (item_vectors.T @ weight), weight, inverse

    def _recency_weights(self, history: History) -> np.ndarray:
        """How much each past item's transitions count, by age (zero for items not in the history)."""
        return np.bincount(history.items, self.config.transition_decay ** history.ages(), minlength=self.n_items)

    def _transition_scores(self, history: History) -> np.ndarray:
        """Σ_k r^k · T[h_k, :], by gathering the rows of the past items (no sparse product: this is the hot path)."""
        matrix = self.transitions
        starts, ends = matrix.indptr[history.items], matrix.indptr[history.items + 1]
        lengths = ends - starts
        positions = np.repeat(starts - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
        weights = np.repeat(self.config.transition_decay ** history.ages(), lengths)
        return np.bincount(matrix.indices[positions], matrix.data[positions] * weights, minlength=self.n_items)

    def score(self, history: History) -> np.ndarray:
        """A score for every item (higher is better); past items are not removed."""
        return self.score_many([history])[0]

    def score_many(self, histories: Sequence[History]) -> np.ndarray:
        """Scores of many histories at once: len(histories) x n_items."""
        config = self.config
        tastes = np.stack([self.taste_vector(history) for history in histories]).astype(np.float32)
        scores = tastes @ self.item_factors.T
        if config.transition_weight:
            for row, history in enumerate(histories):
                scores[row] += config.transition_weight * self._transition_scores(history).astype(np.float32)
        return scores

    def recommend(self, history: History, k: int, exclude: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The ``k`` best items and their scores, leaving out ``exclude`` (e.g. what was bought already)."""
        scores = self.score(history)
        if exclude is not None and len(exclude):
            scores[exclude] = -np.inf
        return top_k(scores, k)

    def explain(self, history: History, candidates: Sequence[int]) -> list[Contribution | None]:
        """For each candidate, the past item that contributed most to its score (None when nothing did)."""
        items, _, weight, inverse = self._taste_system(history)
        if len(items) == 0:
            return [None] * len(candidates)
        candidates = np.asarray(candidates, dtype=np.int64)
        past_vectors = self.item_factors[items].astype(np.float64)
        taste = weight[:, None] * (past_vectors @ inverse @ self.item_factors[candidates].T.astype(np.float64))
        recency = self._recency_weights(history)[items]
        following = self.transitions[items].toarray()[:, candidates]
        parts = np.vstack([self.config.transition_weight * recency[:, None] * following, taste])  # (2 * past) x cand
        best = parts.argmax(axis=0)
        return [Contribution(int(items[row % len(items)]), "next" if row < len(items) else "taste")
                if parts[row, column] > 0 else None for column, row in enumerate(best.tolist())]

    def similar_items(self, item: int, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Items bought by the same people (cosine of ALS factors), from the precomputed lists."""
        items, scores = self.neighbour_items[item, :k], self.neighbour_scores[item, :k]
        keep = scores > 0
        return items[keep].astype(np.int64), scores[keep]


def top_k(scores: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the ``k`` highest finite scores, best first."""
    k = min(k, int(np.isfinite(scores).sum()))
    if k <= 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=scores.dtype)
    best = np.argpartition(-scores, k - 1)[:k]
    best = best[np.argsort(-scores[best], kind="stable")]
    return best, scores[best]


def _user_item_matrix(histories: Sequence[History], n_items: int) -> sp.csr_matrix:
    rows = np.repeat(np.arange(len(histories)), [len(history.items) for history in histories])
    columns = np.concatenate([history.items for history in histories]) if histories else np.zeros(0, dtype=np.int64)
    matrix = sp.csr_matrix((np.ones(len(columns), dtype=np.float32), (rows, columns)), shape=(len(histories), n_items))
    matrix.data[:] = 1.0  # an item bought twice is still one preference
    return matrix


def _transition_matrix(histories: Sequence[History], n_items: int, window: int, decay: float) -> sp.csr_matrix:
    """T[i, j]: share of what followed ``i`` (within ``window`` steps, weighted ``decay**(gap - 1)``) that was ``j``."""
    sources, targets, weights = [], [], []
    for history in histories:
        ranks = np.unique(history.steps, return_inverse=True)[1]
        gaps = ranks[None, :] - ranks[:, None]
        before, after = np.nonzero((gaps >= 1) & (gaps <= window))
        sources.append(history.items[before])
        targets.append(history.items[after])
        weights.append(decay ** (gaps[before, after] - 1.0))
    if not sources:
        return sp.csr_matrix((n_items, n_items))
    counts = sp.csr_matrix((np.concatenate(weights), (np.concatenate(sources), np.concatenate(targets))),
                           shape=(n_items, n_items))
    counts.sum_duplicates()
    totals = np.asarray(counts.sum(axis=1)).ravel()
    return (sp.diags(1.0 / np.maximum(totals, 1e-12)) @ counts).tocsr().astype(np.float32)


def top_k_rows(block: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Column indices and values of the ``k`` largest entries of each row, best first."""
    k = min(k, block.shape[1])
    best = np.argpartition(-block, k - 1, axis=1)[:, :k]
    values = np.take_along_axis(block, best, axis=1)
    order = np.argsort(-values, axis=1, kind="stable")
    return np.take_along_axis(best, order, axis=1), np.take_along_axis(values, order, axis=1)


def _cosine_neighbours(factors: np.ndarray, k: int, chunk: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """For every item, its ``k`` nearest items by cosine of the factors (itself excluded)."""
    n_items = len(factors)
    k = min(k, max(n_items - 1, 0))
    unit = factors / np.maximum(np.linalg.norm(factors, axis=1, keepdims=True), 1e-12)
    items = np.zeros((n_items, k), dtype=np.int32)
    scores = np.zeros((n_items, k), dtype=np.float32)
    for start in range(0, n_items if k else 0, chunk):
        block = unit[start:start + chunk] @ unit.T
        block[np.arange(len(block)), np.arange(start, start + len(block))] = -np.inf
        items[start:start + chunk], scores[start:start + chunk] = top_k_rows(block, k)
    return items, scores
