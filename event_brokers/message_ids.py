"""Rasa's message ids as the CRM takes them: the interaction log and the handoff transcript send each customer message's
id, so that the CRM logs a message once and never shows the agent one the transcript already has."""

import re
from typing import Any

# the CRM's ``MessageId`` (crm_backend/app/schemas/support.py); Rasa's channels make a UUID's 32 hex digits
CRM_MESSAGE_ID = re.compile(r"[A-Za-z0-9_.:-]{1,64}")


def crm_message_id(event: dict[str, Any]) -> str | None:
    """The user event's message id, or None when it has none the CRM would take (then the message goes without one:
    refused, it would be lost)."""
    message_id = event.get("message_id")
    return message_id if isinstance(message_id, str) and CRM_MESSAGE_ID.fullmatch(message_id) else None
