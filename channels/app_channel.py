"""Authenticated REST channel for the shop's mobile and web apps.

The app's backend signs its user into a short-lived JWT (HS256, shared secret ``APP_CHANNEL_SECRET``)
with the user's id in ``sub``; the app sends it as ``Authorization: Bearer <token>`` with each message.
The conversation is bound to the signed user (``app-<sub>``): a caller can never choose another
user's conversation, and unsigned, forged or expired requests get 401. Configured in credentials.yml as
``channels.app_channel.AppInput: {jwt_secret: "${APP_CHANNEL_SECRET}"}``.

While a person from the support team has the conversation (docs/handoff.md) the bot is paused: a message gets an
empty reply list, and the app reads the person's answers from ``GET /webhooks/app/handoff?after=<message id>``:
the user's latest ticket (``id``, ``status``, ``agent``) and its agent and system messages after that id, read from
the CRM with the action server's key (``CRM_URL``, ``CRM_ACTIONS_API_KEY``). Once the ticket is ``resolved`` the
answer also carries ``handback``: the bot's messages when it took the conversation back (who helped, their note, and
the 1-5 rating question with its buttons), since apps have no open connection for the bot to send them to.
"""

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import jwt
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from rasa.shared.core.events import ActionExecuted, BotUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from actions.crm_client import CrmClient, CrmRefused, CrmUnavailable
from channels.api_guard import install_api_guard
from channels.messages import client_message, message_problem

logger = logging.getLogger(__name__)

NO_ANSWER = ("Sorry, I can't do that right now because part of our system isn't answering. Please try again in a few "
             "minutes, or email our support team and a colleague will help.")
HANDOFF_UNREADABLE = "The support team's messages can't be read right now. Please try again shortly."
MIN_SECRET_LENGTH = 32
USER_ID = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
CURSOR = re.compile(r"^\d{1,18}$")
TICKET_MESSAGE_FIELDS = ("id", "sender", "author", "text", "created_at")
HANDBACK_ACTION = "action_handback"


async def conversation(app: Sanic, sender_id: str) -> DialogueStateTracker | None:
    return await app.ctx.agent.tracker_store.retrieve(sender_id)


def handback_messages(tracker: DialogueStateTracker | None) -> list[dict[str, Any]]:
    """The bot's messages of its latest handback."""
    messages: list[dict[str, Any]] = []
    handing_back = False
    for event in tracker.events if tracker else []:
        if isinstance(event, ActionExecuted):
            handing_back = event.action_name == HANDBACK_ACTION
            if handing_back:
                messages = []
        elif isinstance(event, BotUttered) and handing_back:
            messages.append(client_message(event.message()))
    return messages


class AuthenticationError(Exception):
    pass


def error(status: int, code: str, message: str) -> HTTPResponse:
    return response.json({"error": {"code": code, "message": message}}, status=status)


def signed_user(secret: str, authorization: str) -> str:
    """The user id of a valid bearer token; raises AuthenticationError for anything else."""
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise AuthenticationError("a signed bearer token is required")
    try:
        claims = jwt.decode(token, secret, algorithms=["HS256"], options={"require": ["sub", "exp"]})
    except jwt.ExpiredSignatureError as expired:
        raise AuthenticationError("the token has expired") from expired
    except jwt.PyJWTError as invalid:
        raise AuthenticationError("the token is not valid") from invalid
    user_id = str(claims["sub"])
    if not USER_ID.fullmatch(user_id):
        raise AuthenticationError("the token's subject is not a valid user id")
    return user_id


class AppInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "app"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> "AppInput":
        secret = str((credentials or {}).get("jwt_secret") or "")
        if len(secret) < MIN_SECRET_LENGTH or secret.startswith("${"):
            raise ValueError(f"the app channel needs jwt_secret (APP_CHANNEL_SECRET) of at least {MIN_SECRET_LENGTH} characters")
        return cls(secret)

    def __init__(self, jwt_secret: str) -> None:
        self.jwt_secret = jwt_secret

    def signed_user(self, request: Request) -> str | HTTPResponse:
        """The request's signed user id, or the 401 answer."""
        try:
            return signed_user(self.jwt_secret, request.headers.get("Authorization", ""))
        except AuthenticationError as refused:
            return error(401, "unauthenticated", str(refused))

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        app_webhook = Blueprint("app_webhook", __name__)

        @app_webhook.listener("before_server_start")
        async def guard(app: Sanic, _loop: Any) -> None:
            install_api_guard(app)

        @app_webhook.route("/", methods=["GET"])
        async def health(_request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @app_webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            user_id = self.signed_user(request)
            if isinstance(user_id, HTTPResponse):
                return user_id
            try:
                body = request.json
            except Exception:  # sanic raises its own error type for bodies that are not JSON
                body = None
            text = body.get("message") if isinstance(body, dict) else None
            if problem := message_problem(text):
                code, message = problem
                return error(413 if code == "message_too_long" else 422, code, message)
            sender_id = f"app-{user_id}"
            collector = CollectingOutputChannel()
            try:
                await on_new_message(UserMessage(text, collector, sender_id, input_channel=self.name()))
            except Exception:
                logger.exception("the assistant failed on a message of an app user")  # no message text: personal data
                return error(503, "assistant_unavailable", "The assistant could not answer. Please try again shortly.")
            # every turn answers, so silence means an action failed (action server down), unless a person has it
            if not collector.messages:
                tracker = await conversation(request.app, sender_id)
                if not (tracker and tracker.is_paused()):
                    collector.messages.append({"recipient_id": sender_id, "text": NO_ANSWER})
            return response.json(collector.messages)

        @app_webhook.route("/handoff", methods=["GET"])
        async def handoff_messages(request: Request) -> HTTPResponse:
            user_id = self.signed_user(request)
            if isinstance(user_id, HTTPResponse):
                return user_id
            after = request.args.get("after", "0")
            if not CURSOR.fullmatch(after):
                return error(422, "invalid_cursor", "after must be the id of the last message seen (a whole number)")
            try:
                handoff = await CrmClient().conversation_handoff(conversation_id=f"app-{user_id}", after=int(after))
            except CrmRefused as refusal:
                if refusal.status == 404:
                    return error(404, "no_handoff", "This conversation has not been handed to a person.")
                logger.warning("the CRM refused to read a conversation's handoff (%s)", refusal.code)
                return error(503, "handoff_unavailable", HANDOFF_UNREADABLE)
            except CrmUnavailable:
                return error(503, "handoff_unavailable", HANDOFF_UNREADABLE)
            ticket = handoff["ticket"]
            answer = {"ticket": {field: ticket[field] for field in ("id", "status", "agent")},
                      "messages": [{field: message[field] for field in TICKET_MESSAGE_FIELDS} for message in handoff["messages"]]}
            if ticket["status"] == "resolved":
                answer["handback"] = handback_messages(await conversation(request.app, f"app-{user_id}"))
            return response.json(answer)

        return app_webhook
