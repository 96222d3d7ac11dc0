"""What the NLU benchmarks share: the shared data sets, config.yml's NLU pipeline, training and parsing through Rasa.

The benchmarks train the SAME pipeline as ``config.yml`` (its ``pipeline`` section, with the FallbackClassifier
taken out so that the raw intent ranking can be scored; the benchmarks apply the fallback rule themselves) on a
public data set, in a fresh temporary directory with Rasa's training cache off, then parse every test message
through a loaded Rasa ``Agent``, as the server does. ``--config PATH`` benchmarks another config file instead, e.g.
a changed copy of config.yml before it is adopted.
"""

import argparse
import asyncio
import logging
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DATASETS = REPO.parent / "shared" / "datasets"
RESULTS = REPO / "benchmarks" / "results"
CONFIG = REPO / "config.yml"
FALLBACK = "FallbackClassifier"
OUT_OF_SCOPE = "out_of_scope"

os.environ.setdefault("RASA_TELEMETRY_ENABLED", "false")
os.environ["RASA_MAX_CACHE_SIZE"] = "0"  # time real training, never a cache hit
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(REPO))


def dataset(relative: str) -> Path:
    """A file under ``<repo>/../shared/datasets``; exits with a clear message when it is not there."""
    path = DATASETS / relative
    if not path.exists():
        sys.exit(f"data set missing: {path} (the benchmarks read the shared data sets beside the repository)")
    return path


def arguments(description: str) -> argparse.Namespace:
    """The benchmarks' command line: ``--config`` (default: the repository's config.yml)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--config", type=Path, default=CONFIG, help="Rasa config file whose NLU pipeline is measured")
    args = parser.parse_args()
    if not args.config.is_file():
        parser.error(f"no such config file: {args.config}")
    args.config = args.config.resolve()
    return args


def nlu_config(path: Path = CONFIG) -> tuple[dict[str, Any], dict[str, Any]]:
    """The config file without policies and without its FallbackClassifier, and that classifier's settings."""
    from rasa.shared.utils.io import read_yaml_file

    config = read_yaml_file(path)
    fallback = next((dict(c) for c in config["pipeline"] if c["name"] == FALLBACK), {"threshold": 0.0})
    pipeline = [c for c in config["pipeline"] if c["name"] != FALLBACK]
    return {"recipe": config.get("recipe", "default.v1"), "language": config["language"], "pipeline": pipeline,
            "policies": []}, fallback


def nlu_yaml(examples: Iterable[tuple[str, str]]) -> str:
    """Rasa NLU training data (YAML) for ``(text, intent)`` pairs; texts are written as JSON strings."""
    import json

    by_intent: dict[str, list[str]] = {}
    for text, intent in examples:
        by_intent.setdefault(intent, []).append(" ".join(text.split()))
    blocks = [f"- intent: {intent}\n  examples: |\n" + "".join(f"    - {json.dumps(t)[1:-1]}\n" for t in texts)
              for intent, texts in by_intent.items()]
    return 'version: "3.1"\nnlu:\n' + "".join(blocks)


@dataclass
class Parsed:
    """One parsed message: the intent ranking (name, confidence), best first, and how long the parse took."""

    ranking: list[tuple[str, float]]
    seconds: float

    @property
    def intent(self) -> str:
        return self.ranking[0][0]

    @property
    def confidence(self) -> float:
        return self.ranking[0][1]


@dataclass
class TrainedPipeline:
    train_seconds: float
    model_path: Path

    def parse(self, texts: list[str]) -> list[Parsed]:
        """Parses one message at a time through the loaded model, timing each parse."""
        from rasa.core.agent import Agent

        agent = Agent.load(str(self.model_path))

        async def run() -> list[Parsed]:
            parsed = []
            for text in texts:
                start = time.perf_counter()
                result = await agent.parse_message(text)
                seconds = time.perf_counter() - start
                parsed.append(Parsed([(r["name"], r["confidence"]) for r in result["intent_ranking"]], seconds))
            return parsed

        return asyncio.run(run())


def quiet_rasa() -> None:
    """Warnings only: Rasa's per-message debug logs would be timed with every parse."""
    from rasa.utils.common import configure_logging_and_warnings
    from rasa.utils.log_utils import configure_structlog

    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)


def train(examples: list[tuple[str, str]], workdir: Path, config_path: Path = CONFIG) -> TrainedPipeline:
    """Trains the config file's NLU pipeline on the examples; the pipeline runs from the repository directory."""
    import yaml
    from rasa.model_training import train_nlu

    quiet_rasa()

    config, _ = nlu_config(config_path)
    (workdir / "config.yml").write_text(yaml.safe_dump(config))
    (workdir / "nlu.yml").write_text(nlu_yaml(examples))
    os.environ["RASA_CACHE_DIRECTORY"] = str(workdir / "cache")
    os.chdir(REPO)
    start = time.perf_counter()
    model = train_nlu(str(workdir / "config.yml"), str(workdir / "nlu.yml"), str(workdir / "models"),
                      fixed_model_name="bench")
    seconds = time.perf_counter() - start
    if model is None:
        sys.exit("training failed")
    return TrainedPipeline(seconds, Path(model))


def fallback_intent(parsed: Parsed, threshold: float, ambiguity: float) -> str:
    """What config.yml's FallbackClassifier makes of a ranking: ``nlu_fallback`` below the threshold or when the
    two best are closer than the ambiguity threshold."""
    second = parsed.ranking[1][1] if len(parsed.ranking) > 1 else 0.0
    if parsed.confidence < threshold or parsed.confidence - second < ambiguity:
        return "nlu_fallback"
    return parsed.intent


def latency_ms(parsed: list[Parsed]) -> tuple[float, float]:
    """Median and 95th percentile of the parse times, in milliseconds."""
    times = sorted(p.seconds * 1000 for p in parsed)
    return statistics.median(times), times[int(0.95 * (len(times) - 1))]


def machine() -> str:
    return f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"


def load_average() -> list[float]:
    """The machine's 1, 5 and 15 minute load averages, to read the timings by: other jobs share the cores."""
    return [round(load, 2) for load in os.getloadavg()]


def config_name(path: Path) -> str:
    """The config file as the results name it: relative to the repository when it is inside it."""
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else str(path)


def table(header: tuple[str, ...], rows: list[tuple[Any, ...]]) -> str:
    """A Markdown table (the same text goes to the terminal and to docs/nlu.md)."""
    cells = [header] + [tuple(f"{c:.1f}" if isinstance(c, float) else str(c) for c in row) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def workdir() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="bench-nlu-")
