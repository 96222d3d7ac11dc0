"""The test stories (tests/test_*.yml, the only YAML under tests/) pass against the trained model, with no prediction errors."""

import json
import subprocess
from pathlib import Path

from conftest import MODEL, REPO

RASA = str(REPO / ".venv/bin/rasa")
MIN_STORIES = 40


def test_every_test_story_is_predicted(tmp_path: Path) -> None:
    result = subprocess.run(
        [RASA, "test", "core", "--model", str(MODEL), "--stories", "tests", "--fail-on-prediction-errors",
         "--out", str(tmp_path), "--no-plot"],
        cwd=REPO, capture_output=True, text=True, timeout=600,
    )
    failed = (tmp_path / "failed_test_stories.yml").read_text() if (tmp_path / "failed_test_stories.yml").exists() else ""
    assert result.returncode == 0, failed[-4000:] or result.stderr[-4000:]
    report = json.loads((tmp_path / "story_report.json").read_text())
    assert report["conversation_accuracy"]["total"] >= MIN_STORIES
    assert report["conversation_accuracy"]["correct"] == report["conversation_accuracy"]["total"]
