"""The browser side served by the CRM (``CRM_WEB_DIR``, the repository's ``web/`` by default).

``/console/`` is the agent console, with a strict content security policy (its own scripts and styles only, calls to
this origin only); ``/web/`` serves every file under the folder (the chat widget, the demo shop's assets); ``/shop/``
is the demo shop page with the chat server's address (``CRM_CHAT_SERVER_URL``) filled in.
"""

import html
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from app.api.errors import ApiError
from app.core.config import Settings

CHAT_SERVER_PLACEHOLDER = "__CHAT_SERVER_URL__"
CONSOLE_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                               "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class HardenedStaticFiles(StaticFiles):
    """Static files with extra response headers."""

    def __init__(self, *, directory: Path, headers: dict[str, str]) -> None:
        super().__init__(directory=directory, html=True)
        self.extra_headers = headers

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(self.extra_headers)
        return response


def shop_page(web_dir: Path, chat_server_url: str) -> str | None:
    """The demo shop's page with the chat server's address as an HTML-attribute-safe value; ``None`` if missing."""
    page = web_dir / "shop" / "index.html"
    if not page.is_file():
        return None
    return page.read_text(encoding="utf-8").replace(CHAT_SERVER_PLACEHOLDER, html.escape(chat_server_url, quote=True))


shop_router = APIRouter(include_in_schema=False)


@shop_router.get("/shop/")
def demo_shop(request: Request) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    page = shop_page(settings.web_dir, str(settings.chat_server_url).rstrip("/"))
    if page is None:
        raise ApiError(404, "not_found", "The demo shop page is not there.")
    return HTMLResponse(page, headers={"X-Content-Type-Options": "nosniff"})


def mount_web(app: FastAPI, web_dir: Path) -> None:
    """Folders missing at start are not served (their paths answer 404)."""
    app.include_router(shop_router)
    if (web_dir / "console").is_dir():
        app.mount("/console", HardenedStaticFiles(directory=web_dir / "console", headers=CONSOLE_HEADERS), name="console")
    if web_dir.is_dir():
        app.mount("/web", HardenedStaticFiles(directory=web_dir, headers={"X-Content-Type-Options": "nosniff"}), name="web")

