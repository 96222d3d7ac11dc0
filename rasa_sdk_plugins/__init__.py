"""Hooks that rasa-sdk loads into the action server (it imports this package by name).

rasa-sdk has no authentication of its own and its default error reply echoes the request
body (slots included). This plugin makes the server answer only callers that present the
shared secret (``ACTION_SERVER_SECRET``, sent by ``endpoints.yml``) and replaces the error
reply with one that carries no request data.
"""

import hmac
import logging
import os

import pluggy
from sanic import Sanic, response
from sanic.request import Request

hookimpl = pluggy.HookimplMarker("rasa_sdk")
logger = logging.getLogger(__name__)

SECRET_ENV = "ACTION_SERVER_SECRET"
OPEN_PATHS = frozenset({"/health"})


def _presented_secret(request: Request) -> str:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value if scheme.lower() == "bearer" else ""


class ActionServerGuard:
    @hookimpl
    def attach_sanic_app_extensions(self, app: Sanic) -> None:
        secret = os.environ.get(SECRET_ENV, "")
        if len(secret) < 32:
            raise RuntimeError(f"{SECRET_ENV} must be set to at least 32 random characters")

        @app.on_request
        async def require_shared_secret(request: Request):  # type: ignore[no-untyped-def]
            if request.path in OPEN_PATHS:
                return None
            if not hmac.compare_digest(_presented_secret(request).encode(), secret.encode()):
                return response.json({"error": "unauthorized"}, status=401)
            return None

        async def opaque_error(request: Request, exception: Exception):  # type: ignore[no-untyped-def]
            logger.error("action server error on %s", request.path, exc_info=exception)
            status = getattr(exception, "status_code", 500)
            return response.json({"error": "internal error" if status >= 500 else "bad request"}, status=status)

        app.error_handler.add(Exception, opaque_error)


def init_hooks(manager: pluggy.PluginManager) -> None:
    manager.register(ActionServerGuard())
