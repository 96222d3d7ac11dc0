"""Fixtures for the CRM tests: real databases (a SQLite file, and PostgreSQL when reachable) migrated by Alembic."""

import secrets
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
from alembic import command
from alembic.config import Config
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.db import make_engine, make_session_factory
from app.core.security import issue_agent_token, issue_customer_token
from app.main import create_app
from app.models import OrderStatus
from app.services.agents import create_agent, find_agent
from factories import add_customer, add_order, add_product

CRM_DIR = Path(__file__).resolve().parents[2] / "crm_backend"
T = TypeVar("T")
POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def alembic_config(database_url: str) -> Config:
    config = Config(str(CRM_DIR / "alembic.ini"), attributes={"configure_logging": False})
    config.set_main_option("sqlalchemy.url", database_url)
    return config


def migrate(database_url: str) -> None:
    command.upgrade(alembic_config(database_url), "head")


def at_once(calls: list[Callable[[], T]]) -> list[T]:
    """Run the calls each in its own thread, released together (to race them); their results in the order given."""
    start = threading.Barrier(len(calls))
    results: dict[int, T] = {}

    def run(index: int) -> None:
        start.wait()
        results[index] = calls[index]()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return [results[index] for index in range(len(calls))]


def _postgres_reachable() -> str | None:
    """None when PostgreSQL answers, else the reason to skip."""
    try:
        engine = create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
    except Exception as error:  # any driver or network failure means: no server here
        return f"PostgreSQL not reachable at 127.0.0.1:5432 ({type(error).__name__})"
    return None


@pytest.fixture(scope="session")
def postgres_skip_reason() -> str | None:
    return _postgres_reachable()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    url = f"sqlite:///{tmp_path / 'crm.sqlite3'}"
    migrate(url)
    return url


@pytest.fixture
def postgres_url(postgres_skip_reason: str | None) -> Iterator[str]:
    if postgres_skip_reason:
        pytest.skip(postgres_skip_reason)
    name = f"crm_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(POSTGRES_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    migrate(url)
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """The same test runs on a SQLite file and on a PostgreSQL database."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def db_session(sqlite_url: str) -> Iterator[Session]:
    """A session on a freshly migrated SQLite file (for tests that need one backend only)."""
    engine = make_engine(sqlite_url)
    with make_session_factory(engine)() as session:
        yield session
    engine.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        database_url=database_url,
        token_secret=secrets.token_urlsafe(32),
        actions_api_key=secrets.token_urlsafe(32),
        outbox_dir=tmp_path / "outbox",
        models_dir=tmp_path / "models",
    )


def agent_headers(app: FastAPI, username: str = "alice", display_name: str = "Alice") -> dict[str, str]:
    """Bearer headers of an agent of the app's database (created on first use), with the token signing in gives."""
    with app.state.session_factory() as session:
        agent = find_agent(session, username) or create_agent(
            session, username=username, display_name=display_name, password=secrets.token_urlsafe(16))
        settings: Settings = app.state.settings
        token = issue_agent_token(settings.token_secret.get_secret_value(), agent.id, settings.agent_token_ttl_seconds)[0]
    return {"Authorization": f"Bearer {token}"}


PASSWORD = "correct horse battery staple"


@dataclass
class Desk:
    """The real app with two agents who can sign in (alice "Alice", ben "Ben") and a customer with an order."""

    client: TestClient
    settings: Settings
    customer_id: int

    @property
    def actions(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.settings.actions_api_key.get_secret_value()}"}

    def as_customer(self, conversation_id: str) -> dict[str, str]:
        secret = self.settings.token_secret.get_secret_value()
        return self.actions | {"X-Customer-Token": issue_customer_token(secret, self.customer_id, conversation_id, 600)[0]}

    def login(self, username: str, password: str = PASSWORD):  # type: ignore[no-untyped-def]
        return self.client.post("/api/v1/agents/login", json={"username": username, "password": password})

    def bearer(self, username: str) -> dict[str, str]:
        response = self.login(username)
        assert response.status_code == 200, response.text
        return {"Authorization": f"Bearer {response.json()['token']}"}

    def session(self) -> Session:
        return self.client.app.state.session_factory()  # type: ignore[attr-defined,no-any-return]


@contextmanager
def open_desk(settings: Settings) -> Iterator[Desk]:
    app = create_app(settings)
    with app.state.session_factory() as session:
        create_agent(session, username="alice", display_name="Alice", password=PASSWORD)
        create_agent(session, username="Ben", display_name="Ben", password=PASSWORD)
        customer = add_customer(session, name="Cara Jones", email="cara@example.com", postcode="BS1 5TR")
        lamp = add_product(session, sku="LP-01", name="Desk lamp", price="25.00")
        add_order(session, customer=customer, number="SO-3000001", status=OrderStatus.delivered, days_ago=12, lines=[(lamp, 2)])
        customer_id = customer.id
    try:
        with TestClient(app) as client:
            yield Desk(client, settings, customer_id)
    finally:
        app.state.engine.dispose()


@pytest.fixture
def desk(settings: Settings) -> Iterator[Desk]:
    """On SQLite and on PostgreSQL."""
    with open_desk(settings) as desk:
        yield desk
