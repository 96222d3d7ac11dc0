"""Agents as people: accounts with scrypt passwords, sign-in with a lockout, and who is online.

Failed sign-ins are counted per user name (as a keyed hash) inside the same sliding window as identity verification
(``CRM_LOCKOUT_WINDOW_SECONDS``); an unknown name and a wrong password fail alike and take as long.
"""

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.passwords import hash_password, password_problem, unusable_hash, verify_password
from app.core.security import issue_agent_token, keyed_hash
from app.models import Agent, AgentLoginFailure

ONLINE_SECONDS = 60  # an agent whose console sent a heartbeat this recently is online
USERNAME = re.compile(r"^[a-z0-9._-]{2,40}$")
MAX_DISPLAY_NAME = 80


class LoginFailed(Exception):
    def __init__(self, remaining_attempts: int) -> None:
        super().__init__("sign-in failed")
        self.remaining_attempts = remaining_attempts


class LoginLocked(Exception):
    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__("too many failed sign-ins")
        self.retry_after_seconds = retry_after_seconds


class AgentExists(Exception):
    """An agent with that user name is already there."""


@dataclass(frozen=True)
class SignedIn:
    agent: Agent
    token: str
    expires_at: datetime


def normalise_username(username: str) -> str:
    return username.strip().lower()


def find_agent(session: Session, username: str) -> Agent | None:
    return session.scalar(select(Agent).where(Agent.username == normalise_username(username)))


def _check_new_agent(username: str, display_name: str, password: str) -> None:
    if not USERNAME.match(username):
        raise ValueError("user names are 2-40 letters, digits, dots, dashes or underscores")
    if not 1 <= len(display_name.strip()) <= MAX_DISPLAY_NAME:
        raise ValueError(f"display names are 1-{MAX_DISPLAY_NAME} characters")
    problem = password_problem(password)
    if problem:
        raise ValueError(f"password refused: {problem}")


def create_agent(session: Session, *, username: str, display_name: str, password: str) -> Agent:
    """A new active agent; ``ValueError`` for a bad name or weak password, ``AgentExists`` for a taken user name."""
    username = normalise_username(username)
    _check_new_agent(username, display_name, password)
    if find_agent(session, username) is not None:
        raise AgentExists(username)
    agent = Agent(username=username, display_name=display_name.strip(),
                  password_hash=hash_password(password), is_active=True)
    session.add(agent)
    session.commit()
    return agent


def ensure_agent(session: Session, *, username: str, display_name: str, password: str) -> Agent:
    """Create the agent, or make an existing one active with this name and password (for the demo agents)."""
    agent = find_agent(session, username)
    if agent is None:
        return create_agent(session, username=username, display_name=display_name, password=password)
    _check_new_agent(agent.username, display_name, password)
    if not verify_password(password, agent.password_hash):
        agent.password_hash = hash_password(password)
    agent.display_name, agent.is_active = display_name.strip(), True
    session.commit()
    return agent


def _failures(session: Session, settings: Settings, username_hash: str) -> tuple[int, datetime | None]:
    """Failed sign-ins of the user name inside the window, and when the oldest of them was."""
    since = datetime.now(timezone.utc) - timedelta(seconds=settings.lockout_window_seconds)
    count, oldest = session.execute(
        select(func.count(), func.min(AgentLoginFailure.created_at)).where(
            AgentLoginFailure.username_hash == username_hash, AgentLoginFailure.created_at >= since)
    ).one()
    return count, oldest


def sign_in(session: Session, settings: Settings, *, username: str, password: str) -> SignedIn:
    secret = settings.token_secret.get_secret_value()
    username_hash = keyed_hash(secret, normalise_username(username))
    failures, oldest = _failures(session, settings, username_hash)
    remaining = settings.max_failed_logins_per_agent - failures
    if remaining <= 0:
        assert oldest is not None
        unlock_at = oldest + timedelta(seconds=settings.lockout_window_seconds)
        raise LoginLocked(max(1, int((unlock_at - datetime.now(timezone.utc)).total_seconds())))
    agent = find_agent(session, username)
    matches = verify_password(password, agent.password_hash if agent else unusable_hash())
    if agent is None or not agent.is_active or not matches:
        session.add(AgentLoginFailure(username_hash=username_hash))
        session.commit()
        if remaining - 1 <= 0:
            raise LoginLocked(settings.lockout_window_seconds)
        raise LoginFailed(remaining - 1)
    agent.last_seen_at = datetime.now(timezone.utc)
    session.commit()
    token, expires_at = issue_agent_token(secret, agent.id, settings.agent_token_ttl_seconds)
    return SignedIn(agent=agent, token=token, expires_at=expires_at)


def mark_seen(session: Session, agent: Agent) -> None:
    agent.last_seen_at = datetime.now(timezone.utc)
    session.commit()


def is_online(agent: Agent, now: datetime) -> bool:
    return agent.last_seen_at is not None and agent.last_seen_at >= now - timedelta(seconds=ONLINE_SECONDS)


def agents_online(session: Session, now: datetime) -> int:
    return session.scalar(select(func.count(Agent.id)).where(
        Agent.is_active.is_(True), Agent.last_seen_at >= now - timedelta(seconds=ONLINE_SECONDS))) or 0
