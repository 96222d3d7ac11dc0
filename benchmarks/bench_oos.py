"""Out-of-scope benchmark of config.yml's NLU pipeline and fallback on CLINC150 (150 intents + out-of-scope).

Our out-of-scope mechanism is the bot's: an ``out_of_scope`` intent trained on examples of what the shop does
not do (CLINC's ``oos_train``), plus the FallbackClassifier (``nlu_fallback`` below a confidence threshold or when
the two best intents are too close). The pipeline is trained on ``train`` + ``oos_train``; the threshold is tuned
on ``val`` + ``oos_val`` only, then applied to ``test`` + ``oos_test``. A message counts as out of scope when it
comes out as ``out_of_scope`` or ``nlu_fallback``. Prints a table and writes ``benchmarks/results/oos.json``.

Run: ``make bench-oos`` (the bot's environment; data in ``<repo>/../shared/datasets/clinc150``), or
``.venv/bin/python benchmarks/bench_oos.py --config other.yml`` for another config file.
"""

import json
from pathlib import Path

import nlu_harness as harness

ANCHORS = [("BERT (Larson et al., 2019)", 96.2, 52.3), ("Rasa (Larson et al., 2019)", 90.9, 31.2),
           ("TF-IDF + LR, tuned threshold", 92.1, 50.6)]
REJECTED = {harness.OUT_OF_SCOPE, "nlu_fallback"}
THRESHOLDS = [step / 100 for step in range(100)]
# In-scope accuracy points (on val) we accept to lose for catching out-of-scope messages: a customer whose real
# question is turned away costs more than an out-of-scope question answered with the closest intent.
IN_SCOPE_BUDGET = 0.5


def scores(in_scope: list[harness.Parsed], truth: list[str], oos: list[harness.Parsed], threshold: float,
           ambiguity: float) -> tuple[float, float]:
    """In-scope accuracy and out-of-scope recall, in %, with the fallback at ``threshold``."""
    correct = sum(harness.fallback_intent(p, threshold, ambiguity) == t for p, t in zip(in_scope, truth))
    caught = sum(harness.fallback_intent(p, threshold, ambiguity) in REJECTED for p in oos)
    return 100 * correct / len(in_scope), 100 * caught / len(oos)


def main() -> None:
    args = harness.arguments(__doc__.splitlines()[0])
    data = json.loads(harness.dataset("clinc150/data_full.json").read_text())
    train = [(text, intent) for text, intent in data["train"]]
    train += [(text, harness.OUT_OF_SCOPE) for text, _ in data["oos_train"]]
    _, fallback = harness.nlu_config(args.config)
    ambiguity = fallback.get("ambiguity_threshold", 0.1)
    with harness.workdir() as directory:
        pipeline = harness.train(train, Path(directory), args.config)
        parsed = {split: pipeline.parse([text for text, _ in data[split]])
                  for split in ("val", "oos_val", "test", "oos_test")}

    def evaluate(split: str, threshold: float) -> tuple[float, float]:
        return scores(parsed[split], [i for _, i in data[split]], parsed[f"oos_{split}"], threshold, ambiguity)

    # the threshold that catches most out-of-scope messages of val within the in-scope budget
    floor = evaluate("val", 0.0)[0] - IN_SCOPE_BUDGET
    tuned = max((t for t in THRESHOLDS if evaluate("val", t)[0] >= floor), key=lambda t: evaluate("val", t)[1])
    configured = evaluate("test", fallback["threshold"])
    classifier_only = scores(parsed["test"], [i for _, i in data["test"]], parsed["oos_test"], 0.0, 0.0)
    in_scope, recall = evaluate("test", tuned)
    p50, p95 = harness.latency_ms([p for split in parsed.values() for p in split])
    result = {"dataset": "clinc150 (full)", "config": harness.config_name(args.config), "train_examples": len(train),
              "tuned_threshold": tuned, "ambiguity_threshold": ambiguity, "in_scope_accuracy": round(in_scope, 2),
              "oos_recall": round(recall, 2), "config_threshold": fallback["threshold"],
              "config_in_scope_accuracy": round(configured[0], 2), "config_oos_recall": round(configured[1], 2),
              "train_seconds": round(pipeline.train_seconds, 1), "parse_p50_ms": round(p50, 2),
              "parse_p95_ms": round(p95, 2), "machine": harness.machine(), "load_average": harness.load_average()}
    rows = [*ANCHORS, ("ours, out_of_scope intent only (no fallback)", *classifier_only),
            (f"ours, threshold {fallback['threshold']} (the config's)", *configured),
            (f"ours, threshold {tuned} (tuned on val)", in_scope, recall)]
    print(f"CLINC150 full, {result['config']}, {len(train):,} train messages, test {len(data['test']):,} in scope + "
          f"{len(data['oos_test']):,} out of scope, {result['machine']}, trained in {result['train_seconds']} s, "
          f"parse p50 {result['parse_p50_ms']} ms / p95 {result['parse_p95_ms']} ms, "
          f"load average {result['load_average']}")
    print(harness.table(("model", "in-scope accuracy %", "out-of-scope recall %"), rows))
    harness.RESULTS.mkdir(parents=True, exist_ok=True)
    (harness.RESULTS / "oos.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
