"""The shop's recommender: the sequential model plus baskets, descriptions, categories and restocking, with reasons.

Everything here works on the training snapshot held in memory; the caller filters the ranked candidates by live stock
(``app.ml.recs_data.first_in_stock``) and takes the first ``k`` that are available. Every reason is checked against the
training data before it is given: "bought together" needs baskets that held both, "customers who bought X also bought
Y" needs customers who did, "popular in <category>" needs the customer to buy from that category.
"""

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.sparse as sp

from app.ml.item_relations import ContentIndex, Neighbours, basket_stats, bought_together
from app.ml.recommend import Contribution, History, RecommenderConfig, SequentialRecommender, top_k

NEIGHBOURS = 50  # length of every precomputed neighbour list
# Tuned on held-out last orders of a 1,500-customer demo shop (docs/recommendations.md).
SHOP_CONFIG = RecommenderConfig(factors=32, regularization=0.05, alpha=20.0, iterations=15, taste_decay=0.8,
                                window=2, window_decay=0.5, transition_weight=6.0, transition_decay=0.5,
                                neighbours=NEIGHBOURS)
POPULARITY_HALF_LIFE_DAYS = 90.0
RESTOCK_DUE_SHARE = 0.5  # a consumable is due once this share of its usual rebuy gap has passed
DEFAULT_RESTOCK_DAYS = 60.0
CATEGORY_POPULAR_RANK = 30  # "popular in <category>" only for the category's top sellers
MIN_BUYERS_FOR_COLLABORATIVE = 3


@dataclass(frozen=True)
class Reason:
    code: str  # restock | bought_together | also_bought | bought_next | popular_in_category | popular | similar_*
    text: str
    source_product_id: int | None = None


@dataclass(frozen=True)
class Candidate:
    product_id: int
    score: float
    reason: Reason


@dataclass(frozen=True)
class PurchaseHistory:
    """A customer's order lines, any order: product, order, day placed (days since the epoch), kept or returned."""

    product_ids: np.ndarray
    order_ids: np.ndarray
    days: np.ndarray
    kept: np.ndarray

    @classmethod
    def from_frame(cls, lines: pd.DataFrame) -> "PurchaseHistory":
        return cls(lines["product_id"].to_numpy(np.int64), lines["order_id"].to_numpy(np.int64),
                   lines["day"].to_numpy(np.float64), ~lines["returned"].to_numpy(bool))


@dataclass
class ShopRecommender:
    product_ids: np.ndarray  # sorted; a product's index in every array below is its position here
    names: list[str]
    categories: list[str]
    consumable: np.ndarray
    model: SequentialRecommender
    together: Neighbours
    together_baskets: np.ndarray  # baskets behind each ``together`` entry
    buyers: sp.csr_matrix  # product x customer, for checking "customers who bought X also bought Y"
    content: ContentIndex
    content_neighbours: Neighbours
    popularity: np.ndarray  # recency-weighted buyers
    restock_days: np.ndarray  # usual gap between two purchases of a consumable
    popular_order: np.ndarray = field(init=False)
    popular_by_category: dict[str, np.ndarray] = field(init=False)
    category_rank: np.ndarray = field(init=False)  # a product's place among its category's sellers, 0 = best

    def __post_init__(self) -> None:
        self.popular_order = np.argsort(-self.popularity, kind="stable")
        categories = np.asarray(self.categories, dtype=object)[self.popular_order]
        self.popular_by_category = {name: self.popular_order[categories == name]
                                    for name in sorted(set(self.categories))}
        self.category_rank = np.zeros(len(self.product_ids), dtype=np.int64)
        for ranked in self.popular_by_category.values():
            self.category_rank[ranked] = np.arange(len(ranked))

    # --- lookups ----------------------------------------------------------------------------------

    def index_of(self, product_id: int) -> int | None:
        position = int(np.searchsorted(self.product_ids, product_id))
        found = position < len(self.product_ids) and self.product_ids[position] == product_id
        return position if found else None

    def _indices(self, product_ids: np.ndarray) -> np.ndarray:
        """Index of each product, -1 for products newer than the model."""
        positions = np.minimum(np.searchsorted(self.product_ids, product_ids), len(self.product_ids) - 1)
        return np.where(self.product_ids[positions] == product_ids, positions, -1)

    # --- for a customer ---------------------------------------------------------------------------

    def for_customer(self, history: PurchaseHistory, today: float, k: int, limit: int) -> list[Candidate]:
        """Up to ``limit`` candidates for a list of ``k``, best first: due restocks (at most half of ``k``), then
        model picks with a checked reason, then top sellers of the customer's categories, then of the shop. Nothing
        bought before comes back, except a consumable that is due."""
        indices = self._indices(history.product_ids)
        known = indices >= 0
        items, orders, days, kept = indices[known], history.order_ids[known], history.days[known], history.kept[known]
        own_categories = {self.categories[i] for i in items}
        restock = self._due_restocks(items, days, kept, today)[:(k + 1) // 2]
        candidates = [Candidate(int(self.product_ids[i]), float(score), reason) for i, score, reason in restock]
        taken = set(items.tolist())
        if kept.any():
            order = np.lexsort((orders[kept], days[kept]))
            sequence = History(items[kept][order], _steps_in_time_order(orders[kept][order]))
            candidates += self._model_picks(sequence, taken, own_categories, limit)
        taken |= {self.index_of(c.product_id) for c in candidates}
        for category in sorted(own_categories):
            candidates += self._popular_picks(self.popular_by_category[category], taken, limit,
                                              self._category_reason(category))
        candidates += self._popular_picks(self.popular_order, taken, limit,
                                          Reason("popular", "Popular with our customers right now."))
        return candidates[:limit]

    def _due_restocks(self, items: np.ndarray, days: np.ndarray, kept: np.ndarray,
                      today: float) -> list[tuple[int, float, Reason]]:
        due = []
        for item in np.unique(items[kept & self.consumable[items]]):
            last = days[(items == item) & kept].max()
            waited = today - last
            if waited >= RESTOCK_DUE_SHARE * self.restock_days[item]:
                text = f"Time to restock: you last bought it {int(waited)} days ago."
                due.append((int(item), float(waited / self.restock_days[item]), Reason("restock", text)))
        return sorted(due, key=lambda entry: -entry[1])

    def _model_picks(self, sequence: History, taken: set[int], own_categories: set[str], limit: int) -> list[Candidate]:
        scores = self.model.score(sequence)
        scores[list(taken)] = -np.inf
        picks, pick_scores = top_k(scores, limit)
        explained = self.model.explain(sequence, picks)
        partner_of: dict[int, int] = {}  # basket partner -> the most recent purchase it goes with
        for source in dict.fromkeys(sequence.items[::-1].tolist()):
            for partner in self.together.of(source)[0].tolist():
                partner_of.setdefault(partner, source)
        picked = []
        for item, score, contribution in zip(picks.tolist(), pick_scores.tolist(), explained):
            reason = self._customer_reason(item, partner_of, contribution, own_categories)
            if reason is not None:
                picked.append(Candidate(int(self.product_ids[item]), score, reason))
        return picked

    def _customer_reason(self, item: int, partner_of: dict[int, int], contribution: Contribution | None,
                         own_categories: set[str]) -> Reason | None:
        """The model's own explanation when the data backs it, else a basket partner of a recent purchase, else
        the category; None when no reason holds."""
        if contribution is not None:
            source = contribution.source
            if item in self.together.of(source)[0]:
                return self._together_reason(source)
            # a "next" contribution is a transition someone made, so a co-buyer exists; a taste one must be checked
            if contribution.kind == "next" or self.co_buyers(source, item) > 0:
                code, then = (("bought_next", "often came back for") if contribution.kind == "next"
                              else ("also_bought", "also bought"))
                return Reason(code, f"Customers who bought {self.names[source]} {then} this.",
                              int(self.product_ids[source]))
        if item in partner_of:
            return self._together_reason(partner_of[item])
        category = self.categories[item]
        if category in own_categories and self.category_rank[item] < CATEGORY_POPULAR_RANK:
            return self._category_reason(category)
        return None  # no reason we can stand behind: leave it out

    def _together_reason(self, source: int) -> Reason:
        return Reason("bought_together", f"Often bought together with {self.names[source]}.",
                      int(self.product_ids[source]))

    @staticmethod
    def _category_reason(category: str) -> Reason:
        return Reason("popular_in_category", f"Popular in {category}, which you buy from.")

    def _popular_picks(self, ranked: np.ndarray, taken: set[int], limit: int, reason: Reason) -> list[Candidate]:
        picks = []
        for item in ranked[:limit + len(taken)].tolist():
            if item not in taken:
                taken.add(item)
                picks.append(Candidate(int(self.product_ids[item]), float(self.popularity[item]), reason))
                if len(picks) == limit:
                    break
        return picks

    def co_buyers(self, first: int, second: int) -> int:
        """How many customers bought both products (in the training data)."""
        a = self.buyers.indices[self.buyers.indptr[first]:self.buyers.indptr[first + 1]]
        b = self.buyers.indices[self.buyers.indptr[second]:self.buyers.indptr[second + 1]]
        small, large = (a, b) if len(a) <= len(b) else (b, a)
        positions = np.minimum(np.searchsorted(large, small), max(len(large) - 1, 0))
        return int((large[positions] == small).sum()) if len(large) else 0

    # --- for a product ----------------------------------------------------------------------------

    def bought_together_with(self, item: int, limit: int) -> list[Candidate]:
        """Products found in the same baskets more often than chance; for a product without baskets of its own,
        those of the product most like it by description."""
        partners, lifts = self.together.of(item, limit)
        if len(partners):
            return [Candidate(int(self.product_ids[p]), float(lift),
                              Reason("bought_together", f"In {int(n)} orders together with {self.names[item]}.",
                                     int(self.product_ids[item])))
                    for p, lift, n in zip(partners, lifts, self.together_baskets[item, :len(partners)])]
        for twin in self.content_neighbours.of(item)[0].tolist():
            if len(self.together.of(twin)[0]):
                return self._borrowed_together(twin, limit, exclude=item)
        return []

    def bought_together_with_text(self, text: str, limit: int) -> list[Candidate]:
        """For a product newer than the model: the baskets of the known product nearest to its description."""
        for twin in self.content.nearest(text, NEIGHBOURS)[0].tolist():
            if len(self.together.of(twin)[0]):
                return self._borrowed_together(twin, limit, exclude=None)
        return []

    def _borrowed_together(self, twin: int, limit: int, exclude: int | None) -> list[Candidate]:
        partners, lifts = self.together.of(twin, limit)
        reason = Reason("bought_together_similar", f"Often bought with the similar {self.names[twin]}.",
                        int(self.product_ids[twin]))
        return [Candidate(int(self.product_ids[p]), float(lift), reason)
                for p, lift in zip(partners.tolist(), lifts.tolist()) if p != exclude]

    def similar_to(self, item: int, limit: int) -> list[Candidate]:
        """Half "bought by the same customers" (cosine of taste factors), half "described alike" (TF-IDF cosine);
        the text side alone for products with too few buyers to say."""
        collaborative: dict[int, float] = {}
        if self.buyers.indptr[item + 1] - self.buyers.indptr[item] >= MIN_BUYERS_FOR_COLLABORATIVE:
            collaborative = dict(zip(*map(np.ndarray.tolist, self.model.similar_items(item, NEIGHBOURS))))
        content = dict(zip(*map(np.ndarray.tolist, self.content_neighbours.of(item))))
        return self._blend_similar(collaborative, content, limit, exclude=item)

    def similar_to_text(self, text: str, limit: int) -> list[Candidate]:
        """For a product newer than the model: by description only."""
        content = dict(zip(*map(np.ndarray.tolist, self.content.nearest(text, NEIGHBOURS))))
        return self._blend_similar({}, content, limit, exclude=None)

    def _blend_similar(self, collaborative: dict[int, float], content: dict[int, float], limit: int,
                       exclude: int | None) -> list[Candidate]:
        weight = 0.5 if collaborative else 0.0
        blended = {item: weight * collaborative.get(item, 0.0) + (1 - weight) * content.get(item, 0.0)
                   for item in collaborative.keys() | content.keys() if item != exclude}
        ranked = sorted(blended.items(), key=lambda entry: (-entry[1], entry[0]))[:limit]
        similar_buyers = Reason("similar_buyers", "Bought by the same customers.")
        similar_text = Reason("similar_description", "Described much alike.")
        by_buyers = {item for item in blended if weight * collaborative.get(item, 0.0) > blended[item] / 2}
        return [Candidate(int(self.product_ids[item]), float(score), similar_buyers if item in by_buyers else similar_text)
                for item, score in ranked]

    def popular(self, category: str | None, limit: int) -> list[Candidate]:
        ranked = self.popular_order if category is None else self.popular_by_category.get(category, np.zeros(0, int))
        reason = Reason("popular", "Popular with our customers right now.") if category is None else \
            Reason("popular_in_category", f"Popular in {category} right now.")
        return self._popular_picks(ranked, set(), limit, reason)


def product_text(name: str, category: str, description: str | None) -> str:
    """What the content index reads of a product: the name counts twice, it says most about what the thing is."""
    return f"{name}. {name}. {category}. {description or ''}"


def _steps_in_time_order(order_ids: np.ndarray) -> np.ndarray:
    """Step number of each line: its order's position in the (already time-sorted) sequence of orders."""
    _, first_seen = np.unique(order_ids, return_index=True)
    rank_of = {order: rank for rank, order in enumerate(order_ids[np.sort(first_seen)].tolist())}
    return np.array([rank_of[order] for order in order_ids.tolist()], dtype=np.int64)


# --- training -------------------------------------------------------------------------------------


def fit_shop_recommender(lines: pd.DataFrame, products: pd.DataFrame,
                         config: RecommenderConfig = SHOP_CONFIG) -> ShopRecommender:
    """``lines``: customer_id, order_id, day, product_id, returned (cancelled orders left out);
    ``products``: id, name, category, description, is_consumable."""
    products = products.sort_values("id").reset_index(drop=True)
    product_ids = products["id"].to_numpy(np.int64)
    n_items = len(product_ids)
    lines = lines.assign(item=np.searchsorted(product_ids, lines["product_id"].to_numpy(np.int64)))
    lines = lines[np.isin(lines["product_id"].to_numpy(), product_ids)]
    kept = lines[~lines["returned"]].sort_values(["customer_id", "day", "order_id"], kind="stable")
    histories, customer_rows = _histories(kept)
    model = SequentialRecommender(config).fit(histories, n_items)
    stats = basket_stats(kept["order_id"].to_numpy(), kept["item"].to_numpy(), n_items)
    together, together_baskets = bought_together(stats, NEIGHBOURS)
    buyers = sp.csr_matrix((np.ones(len(kept), dtype=np.float32), (kept["item"].to_numpy(), customer_rows)),
                           shape=(n_items, len(histories)))
    buyers.sum_duplicates()  # also sorts each product's customers, which ``co_buyers`` relies on
    texts = [product_text(*row) for row in products[["name", "category", "description"]].itertuples(index=False)]
    content = ContentIndex.fit(texts)
    last_day = float(lines["day"].max()) if len(lines) else 0.0
    return ShopRecommender(
        product_ids=product_ids, names=products["name"].tolist(), categories=products["category"].tolist(),
        consumable=products["is_consumable"].to_numpy(bool), model=model, together=together,
        together_baskets=together_baskets, buyers=buyers, content=content,
        content_neighbours=content.neighbours(NEIGHBOURS),
        popularity=_recent_popularity(kept, n_items, last_day), restock_days=_restock_days(kept, products),
    )


def _histories(kept: pd.DataFrame) -> tuple[list[History], np.ndarray]:
    """One history per customer (steps = orders in time order) and each line's customer row."""
    customer_rows = pd.factorize(kept["customer_id"])[0]
    bounds = np.flatnonzero(np.diff(customer_rows)) + 1
    items = np.split(kept["item"].to_numpy(np.int64), bounds)
    orders = np.split(kept["order_id"].to_numpy(np.int64), bounds)
    return [History(i, _steps_in_time_order(o)) for i, o in zip(items, orders)], customer_rows


def _recent_popularity(kept: pd.DataFrame, n_items: int, last_day: float) -> np.ndarray:
    weights = 0.5 ** ((last_day - kept["day"].to_numpy()) / POPULARITY_HALF_LIFE_DAYS)
    return np.bincount(kept["item"].to_numpy(), weights=weights, minlength=n_items)


def _restock_days(kept: pd.DataFrame, products: pd.DataFrame) -> np.ndarray:
    """Median days between two purchases of the same consumable by the same customer; the median over all
    consumables for one too rarely rebought to say."""
    gaps = (kept.drop_duplicates(["customer_id", "order_id", "item"]).sort_values(["customer_id", "item", "day"])
            .groupby(["customer_id", "item"])["day"].diff().dropna())
    by_item = gaps.groupby(kept.loc[gaps.index, "item"]).agg(["median", "size"])
    by_item = by_item[by_item["size"] >= 3]
    fallback = float(gaps.median()) if len(gaps) else DEFAULT_RESTOCK_DAYS
    days = np.full(len(products), fallback)
    days[by_item.index.to_numpy()] = by_item["median"].to_numpy()
    return np.clip(days, 7.0, 365.0)
