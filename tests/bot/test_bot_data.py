"""Rasa's own checks of the training data and the end-to-end test stories."""

import re
import subprocess

from conftest import REPO
from trackers import DOMAIN

RASA = str(REPO / ".venv/bin/rasa")


def test_rasa_data_validate_is_clean() -> None:
    """Passes, and every response that no story uses is sent by a custom action or asks for a form's slot."""
    result = subprocess.run([RASA, "data", "validate"], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    output = result.stdout + result.stderr
    unused = set(re.findall(r"The utterance '(\w+)' is not used in any story or rule", output))
    action_code = "".join(path.read_text() for path in (REPO / "actions").glob("*.py"))
    asked = {f"utter_ask_{slot}" for form in DOMAIN.forms.values() for slot in form["required_slots"]}
    sent_by_rasa = {"utter_default"}  # action_default_fallback, when no policy is confident (RulePolicy core fallback)
    assert {name for name in unused - asked - sent_by_rasa if f'"{name}"' not in action_code} == set()
    # Rasa merges the retrieval intents of the NLU data into the domain, which must list them too (for the rules)
    retrieval_merge = "The following duplicated intents have been found across multiple domain files: faq"
    other_warnings = [line for line in output.splitlines()
                      if "UserWarning" in line and "is not used in any story" not in line and retrieval_merge not in line]
    assert other_warnings == []
