"""Builds the FastAPI application: settings, database, routers, web pages, error handling, body-size limit."""

from fastapi import APIRouter, FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from app.api.errors import error_response, install_error_handlers
from app.api.routes import (
    agents,
    churn,
    conversations,
    customers,
    handoffs,
    health,
    identity,
    interactions,
    orders,
    recommendations,
    segments,
    support,
)
from app.api.web import mount_web
from app.core.config import Settings, get_settings
from app.core.db import make_engine, make_session_factory

API_PREFIX = "/api/v1"
MAX_BODY_BYTES = 64 * 1024


class BodySizeLimit:
    """Refuse request bodies over a limit with 413, before they are read into memory."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._too_large(scope, receive, send)
            return
        received = 0

        async def limited_receive():  # type: ignore[no-untyped-def]
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise _BodyTooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _BodyTooLarge:
            await self._too_large(scope, receive, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(413, "payload_too_large", f"Request bodies are limited to {self.max_bytes} bytes.")
        await response(scope, receive, send)


class _BodyTooLarge(Exception):
    pass


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings or get_settings()
    app = FastAPI(
        title="Shop CRM",
        version="1.0.0",
        description="Customers, orders, identity verification and support tickets for the shop assistant.",
        openapi_url=f"{API_PREFIX}/openapi.json",
        docs_url=f"{API_PREFIX}/docs",
        redoc_url=None,
    )
    engine = make_engine(settings.database_url)
    app.state.settings = settings
    app.state.engine = engine
    app.state.session_factory = make_session_factory(engine)
    install_error_handlers(app)

    api = APIRouter(prefix=API_PREFIX)
    for module in (health, agents, identity, customers, orders, interactions, handoffs, conversations, support, segments,
                   churn, recommendations):
        api.include_router(module.router)
    app.include_router(api)
    mount_web(app, settings.web_dir)
    app.add_middleware(BodySizeLimit, max_bytes=MAX_BODY_BYTES)
    return app
