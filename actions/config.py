"""Settings of the action server, read once from the environment."""

import os
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class ActionSettings:
    crm_url: str
    crm_api_key: str
    crm_timeout_seconds: float


@lru_cache
def get_action_settings() -> ActionSettings:
    return ActionSettings(
        crm_url=os.environ.get("CRM_URL", "http://127.0.0.1:8000").rstrip("/"),
        crm_api_key=os.environ.get("CRM_ACTIONS_API_KEY", ""),
        crm_timeout_seconds=float(os.environ.get("CRM_TIMEOUT_SECONDS", "3")),
    )
