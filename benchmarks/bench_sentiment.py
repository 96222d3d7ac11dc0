"""Out-of-domain benchmark of the sentiment component on the Twitter US Airline Sentiment set (evaluation only).

Trains the shipped component (``nlu_components/sentiment.py``, configured as in ``config.yml``) on the shipped
examples only (``data/sentiment/examples.csv``), persists and loads it through Rasa's model storage, runs its
``process`` on every tweet and compares with the tweets' labels. Prints a table next to published anchors and
writes ``benchmarks/results/sentiment.json``.

Run: ``make bench-sentiment``, or ``.venv/bin/python benchmarks/bench_sentiment.py``.
"""

import csv
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TWEETS = REPO.parent / "shared/datasets/airline_sentiment/Tweets.csv"
RESULTS = REPO / "benchmarks/results/sentiment.json"
COMPONENT = "nlu_components.sentiment.SentimentAnalyzer"
# Published reference numbers (accuracy, macro-F1) on the same 14,640 tweets.
ANCHORS = {"VADER (lexicon, no training)": (0.49, 0.46), "TF-IDF + LR trained on the tweets themselves": (0.82, 0.76)}

sys.path.insert(0, str(REPO))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # importing Rasa imports TensorFlow


def read_tweets(path: Path) -> tuple[list[str], list[str]]:
    with path.open(newline="", encoding="utf-8") as file:
        rows = list(csv.DictReader(file))
    return [row["text"] for row in rows], [row["airline_sentiment"] for row in rows]


def shipped_config() -> dict:
    """The component's entry of the pipeline in ``config.yml``, without its name."""
    from rasa.shared.utils.io import read_yaml_file

    entries = [dict(entry) for entry in read_yaml_file(REPO / "config.yml")["pipeline"] if entry["name"] == COMPONENT]
    if not entries:
        sys.exit(f"{COMPONENT} is not in the pipeline of config.yml")
    entries[0].pop("name")
    return entries[0]


def train_and_predict(texts: list[str]) -> tuple[list[str], float, float]:
    """Labels from the shipped component after a persist/load round trip, the training and the prediction seconds."""
    from rasa.engine.graph import ExecutionContext, GraphSchema
    from rasa.engine.storage.local_model_storage import LocalModelStorage
    from rasa.engine.storage.resource import Resource
    from rasa.shared.nlu.training_data.message import Message
    from rasa.shared.nlu.training_data.training_data import TrainingData

    from nlu_components.sentiment import SENTIMENT, SentimentAnalyzer

    config = shipped_config()
    context = ExecutionContext(GraphSchema({}), "bench")
    with tempfile.TemporaryDirectory() as directory:
        storage, resource = LocalModelStorage(Path(directory)), Resource("sentiment")
        started = time.perf_counter()
        SentimentAnalyzer.create(config, storage, resource, context).train(TrainingData())
        trained = time.perf_counter()
        component = SentimentAnalyzer.load(config, storage, resource, context)
        messages = component.process([Message.build(text) for text in texts])
        predicted = time.perf_counter()
    return [message.get(SENTIMENT)["label"] for message in messages], trained - started, predicted - trained


def main() -> None:
    if not TWEETS.is_file():
        sys.exit(f"the airline tweets are not at {TWEETS}: put Twitter US Airline Sentiment's Tweets.csv there "
                 "(see ../shared/datasets/README.md); nothing was measured")
    os.chdir(REPO)  # the component's examples path is relative to the repository, as for `rasa train`
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

    from nlu_components.sentiment import read_examples, SentimentAnalyzer

    texts, truth = read_tweets(TWEETS)
    predicted, train_seconds, predict_seconds = train_and_predict(texts)
    examples = Path({**SentimentAnalyzer.get_default_config(), **shipped_config()}["examples"])
    results = {
        "accuracy": round(accuracy_score(truth, predicted), 4),
        "macro_f1": round(f1_score(truth, predicted, average="macro"), 4),
        "negative_recall": round(recall_score(truth, predicted, labels=["negative"], average="macro"), 4),
        "negative_precision": round(precision_score(truth, predicted, labels=["negative"], average="macro"), 4),
        "tweets": len(texts),
        "training_examples": len(read_examples(examples)[0]),
        "train_seconds": round(train_seconds, 2),
        "predict_seconds": round(predict_seconds, 2),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}",
    }
    print(f"\nairline tweets ({len(texts):,}), trained on our {results['training_examples']} shop examples only\n")
    print(f"| {'model':<46} | accuracy | macro-F1 | negative recall | negative precision |")
    print(f"|{'-' * 48}|----------|----------|-----------------|--------------------|")
    print(f"| {'ours (nlu_components/sentiment.py)':<46} | {results['accuracy']:>8.2f} | {results['macro_f1']:>8.2f} "
          f"| {results['negative_recall']:>15.2f} | {results['negative_precision']:>18.2f} |")
    for name, (accuracy, macro_f1) in ANCHORS.items():
        print(f"| {name:<46} | {accuracy:>8.2f} | {macro_f1:>8.2f} | {'-':>15} | {'-':>18} |")
    print(f"\ntraining {train_seconds:.1f} s, {len(texts) / predict_seconds:,.0f} messages/s; {results['machine']}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
