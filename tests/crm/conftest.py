"""Fixtures for the CRM tests: real databases (a SQLite file, and PostgreSQL when reachable) migrated by Alembic."""

import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.db import make_engine, make_session_factory

CRM_DIR = Path(__file__).resolve().parents[2] / "crm_backend"
POSTGRES_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def migrate(database_url: str) -> None:
    config = Config(str(CRM_DIR / "alembic.ini"), attributes={"configure_logging": False})
    config.set_main_option("sqlalchemy.url", database_url)
    command.upgrade(config, "head")


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
        agent_api_key=secrets.token_urlsafe(32),
        outbox_dir=tmp_path / "outbox",
        models_dir=tmp_path / "models",
    )
