"""Real rasa-sdk trackers for action tests, built the way Rasa sends them to the action server."""

from typing import Any

from rasa.shared.core.domain import Domain
from rasa_sdk import Tracker

from conftest import REPO

DOMAIN = Domain.load(str(REPO / "domain.yml"))
DOMAIN_DICT = DOMAIN.as_dict()


def make_tracker(
    *,
    sender_id: str = "test-conversation",
    slots: dict[str, Any] | None = None,
    text: str = "",
    intent: str = "give_identity",
    slot_candidates: dict[str, Any] | None = None,
    active_loop: str | None = None,
    history: list[dict[str, Any]] | None = None,
    sentiment: dict[str, Any] | None = None,
    paused: bool = False,
    message_id: str | None = None,
) -> Tracker:
    """A tracker whose last user message is ``text`` (with Rasa's ``message_id`` if given); ``slot_candidates`` are the
    trailing SlotSet events a form validates."""
    all_slots = {name: slot.initial_value for name, slot in ((s.name, s) for s in DOMAIN.slots)} | (slots or {})
    latest_message = {"text": text, "intent": {"name": intent, "confidence": 1.0}, "entities": []}
    if sentiment:
        latest_message["sentiment"] = sentiment
    user = {"event": "user", "text": text, "parse_data": latest_message} | ({"message_id": message_id} if message_id else {})
    events = list(history or []) + [user]
    events += [{"event": "slot", "name": name, "value": value} for name, value in (slot_candidates or {}).items()]
    return Tracker.from_dict(
        {
            "sender_id": sender_id,
            "slots": all_slots | (slot_candidates or {}),
            "latest_message": latest_message,
            "events": events,
            "paused": paused,
            "followup_action": None,
            "active_loop": {"name": active_loop} if active_loop else {},
            "latest_action_name": "action_listen",
        }
    )
