"""Authenticated REST channel for the shop's mobile and web apps.

The app's backend signs its user into a short-lived JWT (HS256, shared secret ``APP_CHANNEL_SECRET``)
with the user's id in ``sub``; the app sends it as ``Authorization: Bearer <token>`` with each message.
The conversation is bound to the signed user (``app-<sub>``): a caller can never choose another
user's conversation, and unsigned, forged or expired requests get 401. Configured in credentials.yml as
``channels.app_channel.AppInput: {jwt_secret: "${APP_CHANNEL_SECRET}"}``.
"""

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any

import jwt
from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

logger = logging.getLogger(__name__)

MAX_MESSAGE_CHARS = 5000
NO_ANSWER = ("Sorry, I can't do that right now because part of our system isn't answering. Please try again in a few "
             "minutes, or email our support team and a colleague will help.")
MIN_SECRET_LENGTH = 32
USER_ID = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")


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

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        app_webhook = Blueprint("app_webhook", __name__)

        @app_webhook.route("/", methods=["GET"])
        async def health(_request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @app_webhook.route("/webhook", methods=["POST"])
        async def receive(request: Request) -> HTTPResponse:
            try:
                user_id = signed_user(self.jwt_secret, request.headers.get("Authorization", ""))
            except AuthenticationError as refused:
                return error(401, "unauthenticated", str(refused))
            try:
                body = request.json
            except Exception:  # sanic raises its own error type for bodies that are not JSON
                body = None
            text = body.get("message") if isinstance(body, dict) else None
            if not isinstance(text, str) or not text.strip():
                return error(422, "invalid_message", 'send {"message": "<text>"} with some text')
            if len(text) > MAX_MESSAGE_CHARS:
                return error(413, "message_too_long", f"messages are limited to {MAX_MESSAGE_CHARS} characters")
            collector = CollectingOutputChannel()
            try:
                await on_new_message(UserMessage(text, collector, f"app-{user_id}", input_channel=self.name()))
            except Exception:
                logger.exception("the assistant failed on a message of an app user")  # no message text: personal data
                return error(503, "assistant_unavailable", "The assistant could not answer. Please try again shortly.")
            if not collector.messages:  # every turn answers, so silence means an action failed (action server down)
                collector.messages.append({"recipient_id": f"app-{user_id}", "text": NO_ANSWER})
            return response.json(collector.messages)

        return app_webhook
