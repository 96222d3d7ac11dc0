"""What every channel accepts from a customer before it reaches the bot, and how a bot message is shown to clients."""

import time
from typing import Any

MAX_MESSAGE_CHARS = 5000


def message_problem(text: object) -> tuple[str, str] | None:
    """Why a customer message is refused, as (code, message); None when it is fine."""
    if not isinstance(text, str) or not text.strip():
        return "invalid_message", "a message needs some text"
    if len(text) > MAX_MESSAGE_CHARS:
        return "message_too_long", f"messages are limited to {MAX_MESSAGE_CHARS} characters"
    return None


def client_message(message: dict[str, Any]) -> dict[str, Any]:
    """A bot message as widgets and apps get it: text, buttons and custom data when there are any, and a timestamp."""
    shown: dict[str, Any] = {"text": message.get("text") or ""}
    buttons = message.get("buttons") or message.get("quick_replies")
    if buttons:
        shown["buttons"] = [{"title": button["title"], "payload": button["payload"]} for button in buttons]
    if message.get("custom"):
        shown["custom"] = message["custom"]
    shown["timestamp"] = message.get("timestamp") or time.time()
    return shown
