"""Create the development secrets on first run (``var/secrets.env``, never committed).

Every service reads its secrets from the environment; this file only makes sure a fresh
machine has strong random values to export. Existing values are kept, missing ones added.
"""

import secrets
import sys
from pathlib import Path

SECRET_NAMES = (
    "CRM_TOKEN_SECRET",
    "CRM_ACTIONS_API_KEY",
    "ACTION_SERVER_SECRET",
    "APP_CHANNEL_SECRET",
    "CRM_DEMO_AGENT_PASSWORD",  # the demo agents' (alice, ben) console password, set by `crm init`
    "RASA_JWT_SECRET",  # signs the CRM's calls to Rasa's HTTP API (docs/handoff.md)
)


def read_env_file(path: Path) -> dict[str, str]:
    if not path.exists():
        return {}
    pairs = (line.split("=", 1) for line in path.read_text().splitlines() if "=" in line and not line.startswith("#"))
    return {key.strip(): value.strip() for key, value in pairs}


def ensure_secrets(path: Path) -> dict[str, str]:
    values = read_env_file(path)
    missing = [name for name in SECRET_NAMES if not values.get(name)]
    if missing:
        values |= {name: secrets.token_urlsafe(48) for name in missing}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("# Development secrets, generated on first run. Never commit.\n"
                        + "".join(f"{k}={v}\n" for k, v in values.items()))
        path.chmod(0o600)
    return values


if __name__ == "__main__":
    ensure_secrets(Path(sys.argv[1]))
