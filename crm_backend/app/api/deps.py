"""Dependencies that routes declare by type: ``def route(session: SessionDep, caller: ServiceCaller)``."""

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from app.api.errors import ApiError
from app.core.config import Settings
from app.core.security import CustomerClaims, InvalidTokenError, ServiceRole, read_customer_token, role_for_key
from app.models import Customer


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_session(request: Request) -> Iterator[Session]:
    with request.app.state.session_factory() as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
SessionDep = Annotated[Session, Depends(get_session)]

_bearer = HTTPBearer(auto_error=False, description="Service key of the action server or of the agents")


def get_service_role(
    settings: SettingsDep, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> ServiceRole:
    keys = {
        ServiceRole.actions: settings.actions_api_key.get_secret_value(),
        ServiceRole.agent: settings.agent_api_key.get_secret_value(),
    }
    role = role_for_key(credentials.credentials, keys) if credentials else None
    if role is None:
        raise ApiError(401, "unauthenticated", "A valid service key is required.", headers={"WWW-Authenticate": "Bearer"})
    return role


ServiceCaller = Annotated[ServiceRole, Depends(get_service_role)]


def require_role(*allowed: ServiceRole):  # type: ignore[no-untyped-def]
    def _check(role: ServiceCaller) -> ServiceRole:
        if role not in allowed:
            raise ApiError(403, "forbidden", "This service may not call this endpoint.")
        return role

    return Depends(_check)


ActionsOnly = Annotated[ServiceRole, require_role(ServiceRole.actions)]
AgentOnly = Annotated[ServiceRole, require_role(ServiceRole.agent)]

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


def get_customer_access(customer_id: int, role: ServiceCaller, claims: OptionalClaims, session: SessionDep) -> CustomerAccess:
    """Agents may open any customer; the bot only the customer whose verified token it holds."""
    if role is ServiceRole.actions:
        if claims is None:
            raise ApiError(401, "customer_verification_required", "The customer's identity must be verified first.")
        if claims.customer_id != customer_id:
            raise ApiError(403, "wrong_customer", "The verification token belongs to another customer.")
    customer = session.get(Customer, customer_id)
    if customer is None:
        raise ApiError(404, "customer_not_found", "No customer with that id.")
    actor = f"customer:{customer_id}" if role is ServiceRole.actions else "agent"
    return CustomerAccess(customer=customer, actor=actor)


CustomerAccessDep = Annotated[CustomerAccess, Depends(get_customer_access)]
