"""Offline evaluation of recommenders: hold out each user's last step, then rank what they took there.

Two protocols, both in the benchmark table:
* sampled: the held-out item against 100 items the user never took, drawn uniformly with a fixed seed (as in the
  SASRec paper); cheap but flattering;
* full: the held-out item against the whole catalogue less the user's training items.
Ties count against the model (an item scoring the same as the target ranks above it), so a model that gives many
items a zero score is not rewarded for it.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from app.ml.recommend import History

ScoreBatch = Callable[[Sequence[History]], np.ndarray]


@dataclass(frozen=True)
class HoldOut:
    train: list[History]  # every user's history without its last step
    users: np.ndarray  # users that had at least two steps, so have both a history and a target
    targets: list[np.ndarray]  # items of each evaluated user's last step


def hold_out_last_step(histories: Sequence[History]) -> HoldOut:
    train, users, targets = [], [], []
    for user, history in enumerate(histories):
        last = history.steps == history.steps[-1] if len(history.steps) else np.zeros(0, dtype=bool)
        kept = History(history.items[~last], history.steps[~last])
        train.append(kept)
        if len(kept.items) and last.any():
            users.append(user)
            targets.append(history.items[last])
    return HoldOut(train, np.asarray(users, dtype=np.int64), targets)


def sample_negatives(histories: Sequence[History], users: np.ndarray, n_items: int, count: int = 100,
                     seed: int = 42) -> np.ndarray:
    """``count`` distinct items per user, uniformly among the items the user never took (in any split)."""
    rng = np.random.default_rng(seed)
    negatives = np.empty((len(users), count), dtype=np.int64)
    for row, user in enumerate(users):
        seen = set(histories[user].items.tolist())
        drawn: list[int] = []
        while len(drawn) < count:
            for item in rng.integers(n_items, size=2 * count).tolist():
                if item not in seen:
                    seen.add(item)
                    drawn.append(item)
                    if len(drawn) == count:
                        break
        negatives[row] = drawn
    return negatives


def ranking_metrics(score_batch: ScoreBatch, holdout: HoldOut, negatives: np.ndarray | None = None, k: int = 10,
                    batch: int = 1024) -> dict[str, float]:
    """HR@k and NDCG@k of the first held-out item: over the full catalogue and, given negatives, over those."""
    full_ranks, sampled_ranks = [], []
    for start in range(0, len(holdout.users), batch):
        users = holdout.users[start:start + batch]
        scores = score_batch([holdout.train[user] for user in users]).astype(np.float64)
        rows = np.arange(len(users))
        target_items = np.array([holdout.targets[start + row][0] for row in rows])
        target_scores = scores[rows, target_items]
        if negatives is not None:
            sampled = scores[rows[:, None], negatives[start:start + batch]]
            sampled_ranks.append((sampled >= target_scores[:, None]).sum(axis=1))
        for row, user in enumerate(users):
            scores[row, holdout.train[user].items] = -np.inf
        full_ranks.append((scores >= target_scores[:, None]).sum(axis=1) - 1)
    metrics = _hr_ndcg(np.concatenate(full_ranks), k, "full")
    if negatives is not None:
        metrics |= _hr_ndcg(np.concatenate(sampled_ranks), k, "sampled")
    return metrics


def hit_rate(recommended: Sequence[Sequence[int]], targets: Sequence[np.ndarray]) -> float:
    """Share of users for whom at least one held-out item is among their recommendations."""
    if not targets:
        return 0.0
    hits = [bool(set(map(int, items)) & set(target.tolist())) for items, target in zip(recommended, targets)]
    return float(np.mean(hits))


def _hr_ndcg(ranks: np.ndarray, k: int, prefix: str) -> dict[str, float]:
    hit = ranks < k
    gain = np.where(hit, 1.0 / np.log2(ranks + 2.0), 0.0)
    return {f"{prefix}_hr{k}": float(hit.mean()), f"{prefix}_ndcg{k}": float(gain.mean())}
