"""Offline benchmark of the recommender on Amazon Games (287,107 interactions, 31,013 users, 23,715 items).

Each user's last item is held out (with ``--split validation``: the item before it, the rest of the history being
what the model sees); HR@10 and NDCG@10 are reported against 100 sampled negatives (uniform over items the user never
took, fixed seed) and over the full catalogue less the user's training items. The model is the CRM's own
``app.ml.recommend.SequentialRecommender`` with the configuration below; popularity and plain ``implicit`` ALS run
on the same split. Prints a table and writes ``benchmarks/results/recs.json``.

Run: ``make bench-recs``, or ``crm_backend/.venv/bin/python benchmarks/bench_recs.py --help``.
"""

import argparse
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "crm_backend"))

from app.ml.recommend import History, RecommenderConfig, SequentialRecommender  # noqa: E402
from app.ml.recs_eval import HoldOut, hold_out_last_step, ranking_metrics, sample_negatives  # noqa: E402

DATASET = REPO.parent / "shared/datasets/amazon_games/Video.txt"
RESULTS = REPO / "benchmarks/results/recs.json"
# Tuned on the validation split (the second-to-last item of each user), never on the test items.
AMAZON_GAMES = RecommenderConfig(factors=32, regularization=0.05, alpha=120.0, iterations=15, taste_decay=0.6,
                                 window=3, window_decay=0.5, transition_weight=6.0, transition_decay=0.5)
ANCHORS = {"popularity": (0.495, 0.293, 0.022), "item-kNN": (0.581, 0.391, 0.052), "ALS": (0.663, 0.489, 0.078),
           "SASRec": (0.741, 0.536, None)}
TARGET = {"sampled_hr10": 0.70, "full_hr10": 0.085, "train_seconds": 600}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=("test", "validation"), default="test")
    parser.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE",
                        help="override a RecommenderConfig field, e.g. --set factors=32 alpha=40 (for tuning)")
    parser.add_argument("--only-ours", action="store_true", help="skip the baselines (for tuning)")
    return parser.parse_args()


def load_histories(path: Path) -> tuple[list[History], int]:
    """One ``user item`` pair a line, in time order per user; ids start at 1."""
    pairs = np.loadtxt(path, dtype=np.int64)
    users, items = pairs[:, 0] - 1, pairs[:, 1] - 1
    order = np.argsort(users, kind="stable")
    bounds = np.searchsorted(users[order], np.arange(users.max() + 2))
    sequences = np.split(items[order], bounds[1:-1])
    return [History.of_sequence(sequence) for sequence in sequences], int(items.max()) + 1


def evaluation_split(histories: list[History], split: str) -> list[History]:
    """For validation, drop every user's last item, so the item before it is the one held out."""
    if split == "test":
        return histories
    return [History(history.items[:-1], history.steps[:-1]) for history in histories]


def popularity(holdout: HoldOut, n_items: int) -> Callable[[Sequence[History]], np.ndarray]:
    counts = np.bincount(np.concatenate([history.items for history in holdout.train]), minlength=n_items)
    return lambda batch: np.tile(counts.astype(np.float32), (len(batch), 1))


def plain_als(holdout: HoldOut, n_items: int) -> Callable[[Sequence[History]], np.ndarray]:
    """``implicit`` ALS with its user factors from training (64 factors, alpha 20 from the same tuning)."""
    from implicit.cpu.als import AlternatingLeastSquares
    from scipy.sparse import csr_matrix
    from threadpoolctl import threadpool_limits

    rows = np.repeat(np.arange(len(holdout.train)), [len(history.items) for history in holdout.train])
    matrix = csr_matrix((np.ones(len(rows), dtype=np.float32), (rows, np.concatenate([h.items for h in holdout.train]))),
                        shape=(len(holdout.train), n_items))
    with threadpool_limits(1, "blas"):
        model = AlternatingLeastSquares(factors=64, regularization=0.05, alpha=20.0, iterations=15, random_state=0)
        model.fit(matrix, show_progress=False)
    user_of = {id(history): user for user, history in enumerate(holdout.train)}  # batches hold these very objects
    return lambda batch: model.user_factors[[user_of[id(history)] for history in batch]] @ model.item_factors.T


def ours(holdout: HoldOut, n_items: int, config: RecommenderConfig) -> Callable[[Sequence[History]], np.ndarray]:
    model = SequentialRecommender(config).fit(holdout.train, n_items)
    return model.score_many


def run(name: str, build: Callable[[], Callable[[Sequence[History]], np.ndarray]], holdout: HoldOut,
        negatives: np.ndarray) -> dict[str, float]:
    started = time.perf_counter()
    score_batch = build()
    trained = time.perf_counter() - started
    metrics = ranking_metrics(score_batch, holdout, negatives)
    row = {"train_seconds": round(trained, 1), "eval_seconds": round(time.perf_counter() - started - trained, 1)}
    row |= {key: round(value, 4) for key, value in metrics.items()}
    print(f"{name:<22}{row['sampled_hr10']:>10.4f}{row['sampled_ndcg10']:>10.4f}{row['full_hr10']:>10.4f}"
          f"{row['full_ndcg10']:>10.4f}{row['train_seconds']:>10.1f}", flush=True)
    return row


def main() -> int:
    args = parse_args()
    if not DATASET.is_file():
        print(f"bench-recs needs the Amazon Games data set at {DATASET} (one 'user item' pair a line)", file=sys.stderr)
        return 2
    overrides = {name: type(getattr(AMAZON_GAMES, name))(value) for name, value in (o.split("=") for o in args.set)}
    config = replace(AMAZON_GAMES, **overrides)
    histories, n_items = load_histories(DATASET)
    holdout = hold_out_last_step(evaluation_split(histories, args.split))
    negatives = sample_negatives(histories, holdout.users, n_items)
    print(f"Amazon Games, {args.split} split: {len(holdout.users):,} users, {n_items:,} items; "
          f"{os.cpu_count()} CPUs ({platform.processor() or platform.machine()})")
    print(f"{'model':<22}{'s-HR@10':>10}{'s-NDCG':>10}{'f-HR@10':>10}{'f-NDCG':>10}{'train s':>10}")
    rows: dict[str, dict[str, float]] = {}
    if not args.only_ours:
        rows["popularity"] = run("popularity", lambda: popularity(holdout, n_items), holdout, negatives)
        rows["implicit ALS"] = run("implicit ALS", lambda: plain_als(holdout, n_items), holdout, negatives)
    rows["ours"] = run("ours (ALS + sequence)", lambda: ours(holdout, n_items, config), holdout, negatives)
    for name, (hr, ndcg, full_hr) in ANCHORS.items():
        full = f"{full_hr:>10.3f}" if full_hr is not None else f"{'-':>10}"
        print(f"{'anchor ' + name:<22}{hr:>10.3f}{ndcg:>10.3f}{full}{'-':>10}{'-':>10}")
    best = rows["ours"]
    met = (best["sampled_hr10"] >= TARGET["sampled_hr10"] and best["full_hr10"] >= TARGET["full_hr10"]
           and best["train_seconds"] < TARGET["train_seconds"])
    print(f"target: sampled HR@10 >= {TARGET['sampled_hr10']}, full HR@10 >= {TARGET['full_hr10']}, "
          f"training < {TARGET['train_seconds']} s: {'met' if met else 'NOT met'}")
    if args.split == "test" and not args.set:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps({
            "sampled_hr10": best["sampled_hr10"], "sampled_ndcg10": best["sampled_ndcg10"],
            "full_hr10": best["full_hr10"], "full_ndcg10": best["full_ndcg10"], "train_seconds": best["train_seconds"],
            "target_met": met, "models": rows, "config": asdict(config), "users": len(holdout.users), "items": n_items,
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        }, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
