"""Intent classification benchmark of config.yml's NLU pipeline on banking77 (77 intents, online banking).

Trains the pipeline on ``banking77/train.csv`` (10,003 texts), parses ``test.csv`` (3,080) one message at a time
through a loaded Rasa model, and reports accuracy, macro-F1, training time and parse latency next to published
anchors. Prints a table and writes ``benchmarks/results/nlu.json``.

Run: ``make bench-nlu`` (the bot's environment; data in ``<repo>/../shared/datasets/banking77``), or
``.venv/bin/python benchmarks/bench_nlu.py --config other.yml`` for another config file.
"""

import csv
import json
from pathlib import Path

from sklearn.metrics import accuracy_score, f1_score

import nlu_harness as harness

ANCHORS = [
    ("Rasa 3.6, CountVectors + LogisticRegressionClassifier", 88.5),
    ("TF-IDF (word 1-2 + char 2-5) + logistic regression", 91.3),
    ("fine-tuned BERT", 93.7),
]


def read(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return [(row["text"], row["category"]) for row in csv.DictReader(file)]


def main() -> None:
    args = harness.arguments(__doc__.splitlines()[0])
    train = read(harness.dataset("banking77/train.csv"))
    test = read(harness.dataset("banking77/test.csv"))
    with harness.workdir() as directory:
        pipeline = harness.train(train, Path(directory), args.config)
        parsed = pipeline.parse([text for text, _ in test])
    truth = [intent for _, intent in test]
    predicted = [p.intent for p in parsed]
    p50, p95 = harness.latency_ms(parsed)
    result = {
        "dataset": "banking77", "config": harness.config_name(args.config), "train_examples": len(train),
        "test_examples": len(test),
        "accuracy": round(100 * accuracy_score(truth, predicted), 2),
        "macro_f1": round(100 * f1_score(truth, predicted, average="macro"), 2),
        "train_seconds": round(pipeline.train_seconds, 1),
        "parse_p50_ms": round(p50, 2), "parse_p95_ms": round(p95, 2), "machine": harness.machine(),
        "load_average": harness.load_average(),
    }
    rows = [(name, accuracy, "", "", "", "") for name, accuracy in ANCHORS]
    rows.append(("ours: config.yml pipeline", result["accuracy"], result["macro_f1"], result["train_seconds"],
                 result["parse_p50_ms"], result["parse_p95_ms"]))
    print(f"banking77, {result['config']}, {len(train):,} train / {len(test):,} test messages, {result['machine']}, "
          f"load average {result['load_average']}")
    print(harness.table(("model", "accuracy %", "macro-F1 %", "train s", "parse p50 ms", "parse p95 ms"), rows))
    harness.RESULTS.mkdir(parents=True, exist_ok=True)
    (harness.RESULTS / "nlu.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
