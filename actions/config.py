"""Settings of the action server, read once from the environment."""

import os
from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class ActionSettings:
    crm_url: str
    crm_api_key: str
    crm_timeout_seconds: float
    # one retention offer before closing an account, for customers likely to leave and worth keeping
    retention_offer_text: str
    retention_min_churn_probability: float
    retention_min_expected_value: float
    # a person is offered after this many negative messages in a row (once per conversation)
    negative_messages_before_offer: int
    # a person is offered after this many messages in a row that were not understood
    fallbacks_before_offer: int
    # a complaint from a verified customer in the "high" churn risk band is handed to a person at once
    handoff_on_high_churn_complaint: bool


def at_least_one(name: str, value: str) -> int:
    """A count of messages that makes sense only from 1 (a run of 0 messages would offer a person at every message)."""
    count = int(value)
    if count < 1:
        raise ValueError(f"{name} must be at least 1, not {count}")
    return count


@lru_cache
def get_action_settings() -> ActionSettings:
    env = os.environ.get
    return ActionSettings(
        crm_url=env("CRM_URL", "http://127.0.0.1:8000").rstrip("/"),
        crm_api_key=env("CRM_ACTIONS_API_KEY", ""),
        crm_timeout_seconds=float(env("CRM_TIMEOUT_SECONDS", "3")),
        retention_offer_text=env(
            "RETENTION_OFFER_TEXT", "Before you go: we'd like to offer you 20% off your next order as a thank-you."
        ),
        retention_min_churn_probability=float(env("RETENTION_MIN_CHURN_PROBABILITY", "0.5")),
        retention_min_expected_value=float(env("RETENTION_MIN_EXPECTED_VALUE", "50")),
        negative_messages_before_offer=at_least_one("NEGATIVE_MESSAGES_BEFORE_OFFER", env("NEGATIVE_MESSAGES_BEFORE_OFFER", "3")),
        fallbacks_before_offer=int(env("FALLBACKS_BEFORE_OFFER", "2")),
        handoff_on_high_churn_complaint=env("HANDOFF_ON_HIGH_CHURN_COMPLAINT", "true").strip().lower() in ("1", "true", "yes", "on"),
    )
