"""The browser side the CRM serves: the agent console, the web folder, and the demo shop page with its chat address."""

import re
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from app.core.config import REPO_ROOT, Settings
from app.main import create_app

CONSOLE_CONTROLS = ("login-username", "login-password", "login-button", "login-error", "logout-button", "queue-list",
                    "mine-list", "claim-button", "reply-box", "send-button", "canned-picker", "resolve-note",
                    "resolve-button", "message-thread", "ticket-context", "churn-reasons", "transcript", "availability")


def _client(sqlite_url: str, web_dir: Path, **extra: str) -> Iterator[TestClient]:
    settings = Settings(database_url=sqlite_url, token_secret=secrets.token_urlsafe(32),
                        actions_api_key=secrets.token_urlsafe(32), web_dir=web_dir, **extra)
    app = create_app(settings)
    with TestClient(app) as client:
        yield client
    app.state.engine.dispose()


@pytest.fixture
def repo_web(sqlite_url: str) -> Iterator[TestClient]:
    """The repository's own web folder (the default)."""
    yield from _client(sqlite_url, REPO_ROOT / "web")


def test_the_console_is_served_with_a_strict_policy(repo_web: TestClient) -> None:
    page = repo_web.get("/console/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "connect-src 'self'" in policy and "frame-ancestors 'none'" in policy
    for control in CONSOLE_CONTROLS:
        assert f'id="{control}"' in page.text and f'data-testid="{control}"' in page.text, control
    for label_for in ("login-username", "login-password", "reply-box", "canned-picker", "resolve-note"):
        assert f'<label for="{label_for}"' in page.text, label_for
    thread = re.search(r'<ol id="message-thread"[^>]*>', page.text)
    assert thread and 'aria-live="polite"' in thread.group(0)  # new messages are announced
    assert repo_web.get("/console").status_code == 200  # redirected to the folder
    script = repo_web.get("/console/console.js")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert repo_web.get("/console/console.css").status_code == 200


def test_the_console_never_parses_data_as_html() -> None:
    script = (REPO_ROOT / "web" / "console" / "console.js").read_text()
    assert not re.search(r"innerHTML|outerHTML|insertAdjacentHTML|document\.write|eval\(", script)


def test_the_web_folder_is_served_under_web(repo_web: TestClient) -> None:
    assert repo_web.get("/web/console/index.html").status_code == 200
    assert repo_web.get("/web/no-such-file.js").status_code == 404


def test_the_shop_page_gets_the_chat_server_address_escaped(sqlite_url: str, tmp_path: Path) -> None:
    (tmp_path / "shop").mkdir()
    (tmp_path / "shop" / "index.html").write_text(
        '<!doctype html><script src="/web/widget/widget.js" data-server="__CHAT_SERVER_URL__"></script>')
    for client in _client(sqlite_url, tmp_path, chat_server_url='https://chat.example.com:8443/rasa?a=1&b="2"'):
        page = client.get("/shop/")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert 'data-server="https://chat.example.com:8443/rasa?a=1&amp;b=%222%22"' in page.text
        assert "__CHAT_SERVER_URL__" not in page.text
        assert client.get("/shop").status_code == 200


def test_the_shop_page_defaults_to_the_local_chat_server(repo_web: TestClient) -> None:
    page = repo_web.get("/shop/")
    assert page.status_code == 200 and "__CHAT_SERVER_URL__" not in page.text
    assert '"http://127.0.0.1:5005"' in page.text


def test_no_shop_page_is_a_404(sqlite_url: str, tmp_path: Path) -> None:
    for client in _client(sqlite_url, tmp_path / "empty"):
        missing = client.get("/shop/")
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
        assert client.get("/console/").status_code == 404
