"""Telling the assistant that an agent joined, wrote or handed the conversation back (docs/handoff.md).

The CRM calls Rasa's HTTP API: ``POST {CRM_RASA_URL}/conversations/{id}/execute?output_channel=latest`` with
``{"name": <action>}``, authorised by an HS256 JWT signed with ``CRM_RASA_JWT_SECRET`` whose payload is
``{"user": {"username": "crm", "role": "admin"}, "exp": now + 60 s}`` (Rasa's sanic-jwt requires ``exp``; its scope
check lets the admin role run actions in any conversation). The call is made after the database commit, in a
background task, with a short timeout: a failure is logged (action, ticket id and cause only; never message texts or
names) and never fails the agent's request. Without both settings nobody is told.
"""

import logging
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

import httpx
import jwt
from fastapi import BackgroundTasks

from app.core.config import Settings

logger = logging.getLogger(__name__)

DELIVER_MESSAGES = "action_deliver_agent_messages"
HAND_BACK = "action_handback"
TOKEN_LIFETIME = timedelta(seconds=60)
TIMEOUT_SECONDS = 5.0


def assistant_token(secret: str) -> str:
    payload = {"user": {"username": "crm", "role": "admin"}, "exp": datetime.now(timezone.utc) + TOKEN_LIFETIME}
    return jwt.encode(payload, secret, algorithm="HS256")


async def execute_action(rasa_url: str, secret: str, *, conversation_id: str, action: str, ticket_id: int) -> None:
    # Rasa (Sanic) does not unquote path parameters: keep ":" and "@", legal in a path segment, as they are.
    url = f"{rasa_url.rstrip('/')}/conversations/{quote(conversation_id, safe=':@')}/execute"
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
            response = await client.post(url, params={"output_channel": "latest"}, json={"name": action},
                                         headers={"Authorization": f"Bearer {assistant_token(secret)}"})
    except httpx.HTTPError as error:
        logger.warning("could not ask the assistant to run %s for ticket %s: %s", action, ticket_id, type(error).__name__)
        return
    if response.is_error:
        logger.warning("the assistant answered %s when asked to run %s for ticket %s",
                       response.status_code, action, ticket_id)


def notify_assistant(tasks: BackgroundTasks, settings: Settings, *, conversation_id: str, action: str,
                     ticket_id: int) -> None:
    """Queue the call to run once the response is sent (so after the route's commit); no-op when not configured."""
    if settings.rasa_url is None or settings.rasa_jwt_secret is None:
        return
    tasks.add_task(execute_action, str(settings.rasa_url), settings.rasa_jwt_secret.get_secret_value(),
                   conversation_id=conversation_id, action=action, ticket_id=ticket_id)
