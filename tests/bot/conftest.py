"""Real servers for the bot tests: the CRM (its own environment and a fresh SQLite file), the action server, Rasa.

The CRM knows Rasa's address before Rasa starts (its port is reserved first), so that agents' messages and handbacks
reach the bot through Rasa's HTTP API, signed with the shared ``RASA_JWT_SECRET`` of the test session.
"""

import os
import secrets
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import httpx
import jwt
import pytest
from aiohttp import web

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))
os.environ["RASA_TELEMETRY_ENABLED"] = "false"  # inherited by every Rasa process the tests start

from ops.processes import Service, rasa_command, start, stop  # noqa: E402

CRM_PYTHON = REPO / "crm_backend/.venv/bin/python"
MODEL = Path(os.environ.get("BOT_TEST_MODEL", REPO / "models/current.tar.gz"))  # another model while iterating
DEMO_CUSTOMERS = 600  # enough orders not yet shipped (about 10, by the time of day) for the tests that change one
DEMO_AGENTS = ("alice", "ben")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@asynccontextmanager
async def serving(app: web.Application) -> AsyncIterator[str]:
    """``app`` served on a free local port for the block (a real HTTP server standing in for another service): its URL."""
    runner = web.AppRunner(app)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@dataclass(frozen=True)
class Crm:
    url: str
    actions_key: str
    outbox: Path
    database_url: str
    agent_password: str
    env: dict[str, str]  # what the CRM process runs with, to start another one on the same database
    _agent_tokens: dict[str, str] = field(default_factory=dict, repr=False)

    def agent_token(self, username: str = DEMO_AGENTS[0]) -> str:
        """A demo agent's sign-in token (valid for hours, so one per test session)."""
        if username not in self._agent_tokens:
            response = httpx.post(f"{self.url}/api/v1/agents/login", json={"username": username, "password": self.agent_password})
            response.raise_for_status()
            self._agent_tokens[username] = response.json()["token"]
        return self._agent_tokens[username]

    def agent_headers(self, username: str = DEMO_AGENTS[0]) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.agent_token(username)}"}


@pytest.fixture(scope="session")
def rasa_port() -> int:
    """The port of the Rasa fixture, reserved before the CRM starts so the CRM can be told where the assistant is."""
    return free_port()


@pytest.fixture(scope="session")
def rasa_jwt_secret() -> str:
    """Signs the CRM's calls to Rasa's HTTP API (RASA_JWT_SECRET)."""
    return secrets.token_urlsafe(32)


def start_crm(crm: Crm, port: int, log: Path, extra_env: dict[str, str] | None = None) -> "subprocess.Popen[bytes]":
    return start(
        Service("crm", [str(CRM_PYTHON), "-m", "uvicorn", "app.main:create_app", "--factory", "--port", str(port)],
                f"http://127.0.0.1:{port}/api/v1/health", env=crm.env | (extra_env or {}), cwd=REPO / "crm_backend"),
        log,
    )


@pytest.fixture(scope="session")
def crm(tmp_path_factory: pytest.TempPathFactory, rasa_port: int, rasa_jwt_secret: str) -> Iterator[Crm]:
    """A real CRM process on a fresh, migrated and demo-seeded SQLite database, with trained models and demo agents."""
    workdir = tmp_path_factory.mktemp("crm")
    database_url = f"sqlite:///{workdir / 'crm.sqlite3'}"
    port = free_port()
    actions_key, agent_password = secrets.token_urlsafe(32), secrets.token_urlsafe(16)
    env = {
        "CRM_DATABASE_URL": database_url,
        "CRM_TOKEN_SECRET": secrets.token_urlsafe(32),
        "CRM_ACTIONS_API_KEY": actions_key,
        "CRM_OUTBOX_DIR": str(workdir / "outbox"),
        "CRM_MODELS_DIR": str(workdir / "models"),
        "CRM_DEMO_AGENT_PASSWORD": agent_password,
        "CRM_RASA_URL": f"http://127.0.0.1:{rasa_port}",
        "CRM_RASA_JWT_SECRET": rasa_jwt_secret,
        "CRM_CHAT_SERVER_URL": f"http://127.0.0.1:{rasa_port}",
    }
    crm = Crm(f"http://127.0.0.1:{port}", actions_key, workdir / "outbox", database_url, agent_password, env)
    subprocess.run([str(CRM_PYTHON), "-m", "app.cli", "init", "--customers", str(DEMO_CUSTOMERS)],
                   env={"PATH": "/usr/bin:/bin", **env}, check=True, capture_output=True, cwd=REPO / "crm_backend")
    process = start_crm(crm, port, workdir / "crm.log")
    yield crm
    stop(process)


@pytest.fixture
def crm_env(crm: Crm, monkeypatch: pytest.MonkeyPatch) -> Crm:
    """Point the action code running inside the test process at the real CRM."""
    from actions.config import get_action_settings

    monkeypatch.setenv("CRM_URL", crm.url)
    monkeypatch.setenv("CRM_ACTIONS_API_KEY", crm.actions_key)
    get_action_settings.cache_clear()
    yield crm
    get_action_settings.cache_clear()


@pytest.fixture
def crm_down(crm_env: Crm, monkeypatch: pytest.MonkeyPatch) -> None:
    """The actions' CRM address refuses connections."""
    from actions.config import get_action_settings

    monkeypatch.setenv("CRM_URL", f"http://127.0.0.1:{free_port()}")
    get_action_settings.cache_clear()


@pytest.fixture
def crm_hangs(crm_env: Crm, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    """A CRM address that accepts connections and never answers."""
    from actions.config import get_action_settings

    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        monkeypatch.setenv("CRM_URL", f"http://127.0.0.1:{listener.getsockname()[1]}")
        monkeypatch.setenv("CRM_TIMEOUT_SECONDS", "0.5")
        get_action_settings.cache_clear()
        yield


@dataclass(frozen=True)
class ActionServer:
    url: str
    secret: str


def start_action_server(crm_url: str, crm_key: str, workdir: Path) -> tuple[ActionServer, "subprocess.Popen[bytes]"]:
    port = free_port()
    server = ActionServer(f"http://127.0.0.1:{port}", secrets.token_urlsafe(32))
    process = start(
        Service("actions", [str(REPO / ".venv/bin/rasa"), "run", "actions", "--port", str(port), "--actions", "actions"],
                f"{server.url}/health", cwd=REPO,
                env={"PYTHONPATH": str(REPO), "SANIC_HOST": "127.0.0.1", "ACTION_SERVER_SECRET": server.secret,
                     "CRM_URL": crm_url, "CRM_ACTIONS_API_KEY": crm_key}),
        workdir / "actions.log",
    )
    return server, process


@pytest.fixture(scope="session")
def action_server(crm: Crm, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ActionServer]:
    server, process = start_action_server(crm.url, crm.actions_key, tmp_path_factory.mktemp("actions"))
    yield server
    stop(process)


@dataclass(frozen=True)
class Bot:
    url: str
    app_secret: str
    api_secret: str  # RASA_JWT_SECRET of Rasa's HTTP API

    def token(self, user_id: str, lifetime: timedelta = timedelta(minutes=10), secret: str | None = None) -> str:
        """What the app's backend does: sign its user into a short-lived JWT."""
        claims = {"sub": user_id, "exp": datetime.now(timezone.utc) + lifetime}
        return jwt.encode(claims, secret or self.app_secret, algorithm="HS256")

    def post(self, body: object, authorization: str | None) -> httpx.Response:
        headers = {"Authorization": authorization} if authorization else {}
        return httpx.post(f"{self.url}/webhooks/app/webhook", json=body, headers=headers, timeout=30)

    def say(self, user_id: str, message: str) -> list[dict]:
        response = self.post({"message": message}, f"Bearer {self.token(user_id)}")
        response.raise_for_status()
        return response.json()

    def texts(self, sender: str, message: str) -> str:
        return " ".join(reply.get("text", "") for reply in self.say(sender, message))


def start_bot(crm: Crm, action_url: str, action_secret: str, workdir: Path, port: int, api_secret: str,
              extra_env: dict[str, str] | None = None) -> tuple[Bot, "subprocess.Popen[bytes]"]:
    """The trained assistant, served by a real Rasa process calling the action server at ``action_url``, with its HTTP
    API on for the CRM (JWT signed with ``api_secret``) as ``make run`` starts it."""
    if not MODEL.exists():
        pytest.fail(f"no trained model at {MODEL}: run `make train` (make test does it)")
    app_secret = secrets.token_urlsafe(32)
    process = start(
        Service("rasa", rasa_command(REPO / ".venv/bin/python", MODEL, port, "endpoints.yml", cors=[crm.url]),
                f"http://127.0.0.1:{port}/", cwd=REPO, startup_timeout=300,
                env={"ACTION_SERVER_URL": action_url, "ACTION_SERVER_SECRET": action_secret, "RASA_JWT_SECRET": api_secret,
                     "CRM_URL": crm.url, "CRM_ACTIONS_API_KEY": crm.actions_key, "PYTHONPATH": str(REPO),
                     "APP_CHANNEL_SECRET": app_secret} | (extra_env or {})),
        workdir / "rasa.log",
    )
    return Bot(f"http://127.0.0.1:{port}", app_secret, api_secret), process


@pytest.fixture(scope="session")
def bot(crm: Crm, action_server: ActionServer, tmp_path_factory: pytest.TempPathFactory, rasa_port: int,
        rasa_jwt_secret: str) -> Iterator[Bot]:
    """The assistant with the real action server and CRM, at the address the CRM calls."""
    bot, process = start_bot(crm, f"{action_server.url}/webhook", action_server.secret, tmp_path_factory.mktemp("rasa"),
                             rasa_port, rasa_jwt_secret)
    yield bot
    stop(process)


@pytest.fixture(scope="session")
def bot_without_actions(crm: Crm, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bot]:
    """The assistant whose action server is down (nothing listens at its address)."""
    bot, process = start_bot(crm, f"http://127.0.0.1:{free_port()}/webhook", "x" * 32, tmp_path_factory.mktemp("rasa-alone"),
                             free_port(), secrets.token_urlsafe(32))
    yield bot
    stop(process)


@pytest.fixture(scope="session")
def short_sessions(crm: Crm, action_server: ActionServer, tmp_path_factory: pytest.TempPathFactory
                   ) -> Iterator[tuple[Bot, "subprocess.Popen[bytes]"]]:
    """The assistant with sessions continued after 3 customer messages (rasa_server/long_sessions.py)."""
    bot, process = start_bot(crm, f"{action_server.url}/webhook", action_server.secret,
                             tmp_path_factory.mktemp("rasa-short"), free_port(), secrets.token_urlsafe(32),
                             extra_env={"SESSION_MAX_TURNS": "3"})
    yield bot, process
    stop(process)


@dataclass(frozen=True)
class System:
    """Where everything of the running system is, for tests that use it as a person would (e.g. in a browser)."""

    crm_url: str
    rasa_url: str
    shop_url: str
    console_url: str
    agents: tuple[str, ...]
    agent_password: str


@pytest.fixture(scope="session")
def system(crm: Crm, bot: Bot) -> System:
    """The whole system: CRM (with the demo shop and the agent console), action server and Rasa."""
    return System(crm.url, bot.url, f"{crm.url}/shop/", f"{crm.url}/console/", DEMO_AGENTS, crm.agent_password)
