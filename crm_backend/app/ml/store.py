"""Versioned model files: each trained model is saved with skops beside a JSON card of its metrics.

Layout: ``<models_dir>/<name>/<version>/model.skops`` and ``card.json``; ``<models_dir>/<name>/CURRENT`` names the
version in use. skops refuses to load types it does not trust; we trust only our own code, scikit-learn, NumPy and
SciPy, so a tampered file cannot run arbitrary code.
"""

import json
import threading
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import skops.io

TRUSTED_PREFIXES = ("app.ml.", "sklearn.", "numpy.", "scipy.", "builtins.", "collections.")


class ModelUnavailable(Exception):
    """No trained model, or its file is missing, corrupt or not trusted."""


@dataclass(frozen=True)
class ModelCard:
    name: str
    version: str
    trained_at: str
    training_rows: int
    metrics: dict[str, float]
    details: dict[str, Any] = field(default_factory=dict)


def save_model(models_dir: Path, name: str, model: object, *, training_rows: int, metrics: dict[str, float],
               details: dict[str, Any] | None = None) -> ModelCard:
    """Write a new version and make it the current one (the pointer is replaced atomically)."""
    trained_at = datetime.now(timezone.utc)
    version = trained_at.strftime("%Y%m%dT%H%M%S%fZ")
    folder = models_dir / name / version
    folder.mkdir(parents=True, exist_ok=False)
    skops.io.dump(model, folder / "model.skops")
    card = ModelCard(name=name, version=version, trained_at=trained_at.isoformat(), training_rows=training_rows,
                     metrics=metrics, details=details or {})
    (folder / "card.json").write_text(json.dumps(asdict(card), indent=2) + "\n")
    pointer = models_dir / name / "CURRENT"
    staged = pointer.with_suffix(".tmp")
    staged.write_text(version)
    staged.replace(pointer)
    return card


def has_model(models_dir: Path, name: str) -> bool:
    """Whether a version of the model has been trained (its ``CURRENT`` pointer exists)."""
    return (models_dir / name / "CURRENT").is_file()


def load_model(models_dir: Path, name: str) -> tuple[Any, ModelCard]:
    """The current version of a model and its card; ``ModelUnavailable`` with a plain reason otherwise."""
    pointer = models_dir / name / "CURRENT"
    if not pointer.is_file():
        raise ModelUnavailable(f"no {name} model has been trained yet")
    folder = models_dir / name / pointer.read_text().strip()
    try:
        card = ModelCard(**json.loads((folder / "card.json").read_text()))
        path = folder / "model.skops"
        untrusted = skops.io.get_untrusted_types(file=path)
        refused = [type_name for type_name in untrusted if not type_name.startswith(TRUSTED_PREFIXES)]
        if refused:
            raise ModelUnavailable(f"the {name} model file holds types we do not trust: {', '.join(refused[:3])}")
        return skops.io.load(path, trusted=untrusted), card
    except ModelUnavailable:
        raise
    except Exception as error:  # missing, truncated or corrupt files all mean: this model cannot serve
        raise ModelUnavailable(f"the {name} model file cannot be read ({type(error).__name__})") from error


class CurrentModel:
    """The current version of one model, loaded once per process and reloaded when retraining moves ``CURRENT``."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._loaded: tuple[str, Any, ModelCard] | None = None
        self._loading = threading.Lock()  # concurrent first requests load the model once, not once each

    def _current_version(self, models_dir: Path) -> str | None:
        pointer = models_dir / self.name / "CURRENT"
        return pointer.read_text().strip() if pointer.is_file() else None

    def loaded(self, models_dir: Path) -> tuple[Any, ModelCard] | None:
        """The model in memory if it is still the current version, else None: never loads, never waits on a load, so
        an ``async`` caller can serve from memory and send only a (re)load (``get``) to a thread."""
        loaded = self._loaded
        if loaded is None or loaded[0] != self._current_version(models_dir):
            return None
        return loaded[1], loaded[2]

    def get(self, models_dir: Path) -> tuple[Any, ModelCard]:
        version = self._current_version(models_dir)
        with self._loading:
            if self._loaded is None or self._loaded[0] != version:
                model, card = load_model(models_dir, self.name)
                self._loaded = (card.version, model, card)
            return self._loaded[1], self._loaded[2]
