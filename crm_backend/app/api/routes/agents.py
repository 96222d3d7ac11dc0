"""Agents sign in to the console, see who they are signed in as, and tell the CRM they are online."""

from datetime import datetime, timezone

from fastapi import APIRouter

from app.api.deps import AgentOnly, SessionDep, SettingsDep
from app.api.errors import ApiError
from app.models import Agent
from app.schemas.agent import AgentLogin, AgentPublic, AgentToken
from app.services.agents import LoginFailed, LoginLocked, is_online, mark_seen, sign_in

router = APIRouter(prefix="/agents", tags=["agents"])


def _public(agent: Agent) -> AgentPublic:
    return AgentPublic(id=agent.id, username=agent.username, display_name=agent.display_name,
                       last_seen_at=agent.last_seen_at, online=is_online(agent, datetime.now(timezone.utc)))


@router.post("/login", responses={401: {}, 429: {}})
def login(body: AgentLogin, session: SessionDep, settings: SettingsDep) -> AgentToken:
    """Exchange a user name and password for an agent token (``CRM_AGENT_TOKEN_TTL_SECONDS``, 8 hours by default).
    Failed attempts are limited per user name; an unknown name and a wrong password fail alike."""
    try:
        signed_in = sign_in(session, settings, username=body.username, password=body.password)
    except LoginLocked as error:
        raise ApiError(429, "login_locked", "Too many failed sign-ins. Please wait before trying again.",
                       headers={"Retry-After": str(error.retry_after_seconds)},
                       retry_after_seconds=error.retry_after_seconds) from error
    except LoginFailed as error:
        raise ApiError(401, "login_failed", "Wrong user name or password.",
                       remaining_attempts=error.remaining_attempts) from error
    return AgentToken(token=signed_in.token, expires_at=signed_in.expires_at, agent=_public(signed_in.agent))


@router.get("/me")
def me(agent: AgentOnly) -> AgentPublic:
    return _public(agent)


@router.post("/me/heartbeat")
def heartbeat(agent: AgentOnly, session: SessionDep) -> AgentPublic:
    """The console calls this every 20 seconds; an agent seen in the last minute counts as online."""
    mark_seen(session, agent)
    return _public(agent)
