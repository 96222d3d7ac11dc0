"""Dependencies that routes declare by type: ``def route(session: SessionDep, caller: ServiceCaller)``."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from app.api.errors import ApiError
from app.core.config import Settings
from app.core.security import (
    CustomerClaims,
    InvalidTokenError,
    ServiceRole,
    key_matches,
    read_agent_token,
    read_customer_token,
)
from app.models import Agent, Customer


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.session_factory() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]

_bearer = HTTPBearer(auto_error=False, description="The action server's service key, or an agent's sign-in token")


@dataclass(frozen=True)
class Caller:
    """The action server (service key), or a signed-in agent (agent token) with their account."""

    role: ServiceRole
    agent: Agent | None = None


def _unauthenticated(message: str) -> ApiError:
    return ApiError(401, "unauthenticated", message, headers={"WWW-Authenticate": "Bearer"})


def get_caller(
    settings: SettingsDep, session: SessionDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Caller:
    if credentials is None:
        raise _unauthenticated("A valid service key or agent sign-in is required.")
    presented = credentials.credentials
    if key_matches(presented, settings.actions_api_key.get_secret_value()):
        return Caller(ServiceRole.actions)
    try:
        claims = read_agent_token(settings.token_secret.get_secret_value(), presented)
    except InvalidTokenError as error:
        raise _unauthenticated("A valid service key or agent sign-in is required.") from error
    agent = session.get(Agent, claims.agent_id)
    if agent is None or not agent.is_active:
        raise _unauthenticated("This agent account is not active any more.")
    return Caller(ServiceRole.agent, agent)


ServiceCaller = Annotated[Caller, Depends(get_caller)]


def actions_only(caller: ServiceCaller) -> Caller:
    if caller.role is not ServiceRole.actions:
        raise ApiError(403, "forbidden", "Only the assistant's action server may call this endpoint.")
    return caller


def agent_only(caller: ServiceCaller) -> Agent:
    if caller.agent is None:
        raise ApiError(403, "forbidden", "Only a signed-in agent may call this endpoint.")
    return caller.agent


ActionsOnly = Annotated[Caller, Depends(actions_only)]
AgentOnly = Annotated[Agent, Depends(agent_only)]

CustomerTokenHeader = Annotated[
    str | None, Header(alias="X-Customer-Token", description="Token from identity verification")
]


def get_optional_claims(settings: SettingsDep, token: CustomerTokenHeader = None) -> CustomerClaims | None:
    """Claims of a customer token if one is sent; a bad token is an error, not anonymous."""
    if token is None:
        return None
    try:
        return read_customer_token(settings.token_secret.get_secret_value(), token)
    except InvalidTokenError as error:
        raise ApiError(401, "customer_verification_required", f"Please verify the customer again: {error}.") from error


OptionalClaims = Annotated[CustomerClaims | None, Depends(get_optional_claims)]


@dataclass(frozen=True)
class CustomerAccess:
    customer: Customer
    actor: str


def get_customer_access(customer_id: int, caller: ServiceCaller, claims: OptionalClaims, session: SessionDep) -> CustomerAccess:
    """Agents may open any customer; the bot only the customer whose verified token it holds."""
    if caller.agent is None:
        if claims is None:
            raise ApiError(401, "customer_verification_required", "The customer's identity must be verified first.")
        if claims.customer_id != customer_id:
            raise ApiError(403, "wrong_customer", "The verification token belongs to another customer.")
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise ApiError(404, "customer_not_found", "No customer with that id.")
    actor = f"agent:{caller.agent.username}" if caller.agent else f"customer:{customer_id}"
    return CustomerAccess(customer=customer, actor=actor)


CustomerAccessDep = Annotated[CustomerAccess, Depends(get_customer_access)]
