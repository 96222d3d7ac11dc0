"""What every channel accepts from a customer before it reaches the bot, and how a bot message is shown to clients."""

import time
from collections.abc import Iterable
from typing import Any

from rasa.shared.core.events import BotUttered, Event, UserUttered

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


def shown_text(text: str, buttons: list[dict[str, Any]]) -> str:
    """What the customer chose: a button's title for its payload, otherwise the text as typed."""
    return next((button["title"] for button in buttons if button.get("payload") == text), text)


def shown_messages(events: Iterable[Event], buttons: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The customer and bot messages among ``events`` as the widget shows them, oldest first: ``{"sender": "user" |
    "bot", "text", "buttons"?, "custom"?, "timestamp"}``. ``buttons`` are those on screen before the first event, so
    that a click on one of them is shown as its title."""
    messages: list[dict[str, Any]] = []
    for event in events:
        if isinstance(event, UserUttered) and event.text:
            messages.append({"sender": "user", "text": shown_text(event.text, buttons), "timestamp": event.timestamp})
        elif isinstance(event, BotUttered) and (event.text or event.data.get("custom")):
            messages.append({"sender": "bot"} | client_message({"text": event.text, **event.data, "timestamp": event.timestamp}))
            buttons = event.data.get("buttons") or []
    return messages
