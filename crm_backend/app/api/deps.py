"""Dependencies that routes declare by type: ``def route(session: SessionDep, caller: ServiceCaller)``.

They are all ``async``: FastAPI runs each synchronous dependency in the thread pool, a hop per dependency per request.
Their database reads go through ``run_db`` (app/api/db_io.py), which keeps a network database's waits off the loop.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Path, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from app.api.db_io import run_db
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
from app.crud import customers as customers_crud
from app.crud import orders as orders_crud
from app.models import Agent, Customer, Order


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_session(request: Request) -> AsyncIterator[Session]:
    """A session per request; opening one does no I/O (it connects on first use), closing it ends its transaction."""
    session = request.app.state.session_factory()
    try:
        yield session
    finally:
        await run_db(session, session.close)


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


async def get_caller(
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
    agent = await run_db(session, session.get, Agent, claims.agent_id)
    if agent is None or not agent.is_active:
        raise _unauthenticated("This agent account is not active any more.")
    return Caller(ServiceRole.agent, agent)


ServiceCaller = Annotated[Caller, Depends(get_caller)]


async def actions_only(caller: ServiceCaller) -> Caller:
    if caller.role is not ServiceRole.actions:
        raise ApiError(403, "forbidden", "Only the assistant's action server may call this endpoint.")
    return caller


async def agent_only(caller: ServiceCaller) -> Agent:
    if caller.agent is None:
        raise ApiError(403, "forbidden", "Only a signed-in agent may call this endpoint.")
    return caller.agent


ActionsOnly = Annotated[Caller, Depends(actions_only)]
AgentOnly = Annotated[Agent, Depends(agent_only)]

CustomerTokenHeader = Annotated[
    str | None, Header(alias="X-Customer-Token", description="Token from identity verification")
]


async def get_optional_claims(settings: SettingsDep, token: CustomerTokenHeader = None) -> CustomerClaims | None:
    """Claims of a customer token if one is sent; a bad token is an error, not anonymous."""
    if token is None:
        return None
    try:
        return read_customer_token(settings.token_secret.get_secret_value(), token)
    except InvalidTokenError as error:
        raise ApiError(401, "customer_verification_required", f"Please verify the customer again: {error}.") from error


OptionalClaims = Annotated[CustomerClaims | None, Depends(get_optional_claims)]


@dataclass(frozen=True)
class CustomerGrant:
    """The caller may act on this customer, who may not exist: ``CustomerAccessDep`` and ``CustomerOrder`` load it."""

    customer_id: int
    actor: str


async def grant_customer(customer_id: int, caller: ServiceCaller, claims: OptionalClaims) -> CustomerGrant:
    """Agents may open any customer; the bot only the customer whose verified token it holds."""
    if caller.agent is None:
        if claims is None:
            raise ApiError(401, "customer_verification_required", "The customer's identity must be verified first.")
        if claims.customer_id != customer_id:
            raise ApiError(403, "wrong_customer", "The verification token belongs to another customer.")
    actor = f"agent:{caller.agent.username}" if caller.agent else f"customer:{customer_id}"
    return CustomerGrant(customer_id=customer_id, actor=actor)


CustomerGrantDep = Annotated[CustomerGrant, Depends(grant_customer)]


def _load_customer(session: Session, customer_id: int) -> Customer:
    customer = customers_crud.get_customer(session, customer_id=customer_id)
    if customer is None:
        raise ApiError(404, "customer_not_found", "No customer with that id.")
    return customer


@dataclass(frozen=True)
class CustomerAccess:
    customer: Customer
    actor: str


async def get_customer_access(grant: CustomerGrantDep, session: SessionDep) -> CustomerAccess:
    return CustomerAccess(customer=await run_db(session, _load_customer, session, grant.customer_id), actor=grant.actor)


CustomerAccessDep = Annotated[CustomerAccess, Depends(get_customer_access)]


def _load_customer_order(session: Session, customer_id: int, order_number: str) -> Order:
    """The order with its lines, in one query; only when it is missing is the customer looked up, to say which is."""
    order = orders_crud.get_order(session, customer_id=customer_id, order_number=order_number.strip().upper())
    if order is None:
        _load_customer(session, customer_id)
        raise ApiError(404, "order_not_found", "This customer has no order with that number.")
    return order


async def get_customer_order(
    grant: CustomerGrantDep, session: SessionDep, order_number: Annotated[str, Path(max_length=30)]
) -> Order:
    return await run_db(session, _load_customer_order, session, grant.customer_id, order_number)


CustomerOrder = Annotated[Order, Depends(get_customer_order)]
