"""Item-to-item relations that need no model: bought together in one basket (lift), similar descriptions (TF-IDF).

Both are kept as fixed-length neighbour lists (``Neighbours``), computed at training time so that serving one is a
row lookup.
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import TfidfVectorizer

from app.ml.recommend import top_k_rows


@dataclass
class Neighbours:
    """Row ``i`` holds item ``i``'s neighbours, best first; unused slots have item -1."""

    items: np.ndarray  # n_items x k, int32
    scores: np.ndarray  # n_items x k, float32

    def of(self, item: int, k: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        items, scores = self.items[item, :k], self.scores[item, :k]
        keep = items >= 0
        return items[keep].astype(np.int64), scores[keep]


def top_neighbours(similarity: sp.csr_matrix, k: int) -> Neighbours:
    """The ``k`` best entries of each row of a sparse similarity matrix (diagonal ignored)."""
    n_items = similarity.shape[0]
    items = np.full((n_items, k), -1, dtype=np.int32)
    scores = np.zeros((n_items, k), dtype=np.float32)
    similarity = similarity.tocsr()
    for row in range(n_items):
        start, end = similarity.indptr[row], similarity.indptr[row + 1]
        columns, values = similarity.indices[start:end], similarity.data[start:end]
        keep = (columns != row) & (values > 0)
        columns, values = columns[keep], values[keep]
        best = np.argsort(-values, kind="stable")[:k]
        items[row, :len(best)] = columns[best]
        scores[row, :len(best)] = values[best]
    return Neighbours(items, scores)


@dataclass
class BasketStats:
    """Same-basket co-occurrence: ``pair_counts[i, j]`` baskets held both, ``counts[i]`` baskets held ``i``."""

    pair_counts: sp.csr_matrix
    counts: np.ndarray
    baskets: int


def basket_stats(basket_ids: np.ndarray, items: np.ndarray, n_items: int) -> BasketStats:
    """From parallel arrays (basket of each line, item of each line); an item twice in a basket counts once."""
    _, basket_rows = np.unique(basket_ids, return_inverse=True)
    n_baskets = int(basket_rows.max()) + 1 if len(basket_rows) else 0
    incidence = sp.csr_matrix((np.ones(len(items), dtype=np.float32), (basket_rows, items)), shape=(n_baskets, n_items))
    incidence.data[:] = 1.0
    incidence.sum_duplicates()
    incidence.data[:] = 1.0
    pair_counts = (incidence.T @ incidence).tocsr()
    pair_counts.setdiag(0)
    pair_counts.eliminate_zeros()
    return BasketStats(pair_counts, np.asarray(incidence.sum(axis=0)).ravel(), n_baskets)


def bought_together(stats: BasketStats, k: int, min_baskets: int = 3) -> tuple[Neighbours, np.ndarray]:
    """Per item, the items most over-represented in its baskets, and in how many baskets each pair was seen.

    The score is lift = P(i and j) / (P(i) P(j)), shrunk towards 1 for pairs seen in few baskets, so that one lucky
    pair of rare items does not top the list; pairs in fewer than ``min_baskets`` baskets, or seen no more often
    than chance, are left out.
    """
    pairs = stats.pair_counts.tocoo()
    keep = pairs.data >= min_baskets
    rows, columns, together = pairs.row[keep], pairs.col[keep], pairs.data[keep]
    lift = together * stats.baskets / (stats.counts[rows] * stats.counts[columns])
    shrunk = 1.0 + (lift - 1.0) * together / (together + min_baskets)
    over = shrunk > 1.0
    score = sp.csr_matrix((shrunk[over], (rows[over], columns[over])), shape=stats.pair_counts.shape)
    neighbours = top_neighbours(score, k)
    rows = np.repeat(np.arange(neighbours.items.shape[0]), neighbours.items.shape[1])
    columns = np.maximum(neighbours.items.ravel(), 0)
    baskets = np.asarray(stats.pair_counts[rows, columns]).reshape(neighbours.items.shape)
    return neighbours, np.where(neighbours.items >= 0, baskets, 0).astype(np.int32)


@dataclass
class ContentIndex:
    """TF-IDF of product texts; ``vectors`` rows are L2-normalised, so a dot product is a cosine."""

    vectorizer: TfidfVectorizer
    vectors: sp.csr_matrix

    @classmethod
    def fit(cls, texts: list[str]) -> "ContentIndex":
        vectorizer = TfidfVectorizer(stop_words="english", sublinear_tf=True, ngram_range=(1, 2), min_df=1)
        return cls(vectorizer, vectorizer.fit_transform(texts).tocsr().astype(np.float32))

    def neighbours(self, k: int, chunk: int = 1024) -> Neighbours:
        """Every item's nearest items by text (itself excluded), in blocks so memory stays small."""
        n_items = self.vectors.shape[0]
        k = min(k, max(n_items - 1, 0))
        items = np.full((n_items, k), -1, dtype=np.int32)
        scores = np.zeros((n_items, k), dtype=np.float32)
        for start in range(0, n_items if k else 0, chunk):
            block = (self.vectors[start:start + chunk] @ self.vectors.T).toarray()
            block[np.arange(len(block)), np.arange(start, start + len(block))] = -1.0
            best, values = top_k_rows(block, k)
            items[start:start + chunk] = np.where(values > 0, best, -1)
            scores[start:start + chunk] = np.maximum(values, 0.0)
        return Neighbours(items, scores)

    def nearest(self, text: str, k: int) -> tuple[np.ndarray, np.ndarray]:
        """Items whose text is nearest to a text the index has not seen (a product newer than the model)."""
        scores = (self.vectors @ self.vectorizer.transform([text]).T).toarray().ravel()
        best = np.argsort(-scores, kind="stable")[:k]
        best = best[scores[best] > 0]
        return best, scores[best]
