"""Signed customer and agent tokens, the service key check and keyed hashes of identifiers and codes."""

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum
from typing import Any

import jwt

TOKEN_ALGORITHM = "HS256"
TOKEN_TYPE = "customer"
AGENT_TOKEN_TYPE = "agent"
AGENT_AUDIENCE = "crm-agent-console"  # customer tokens carry no audience, so neither kind passes for the other


class ServiceRole(str, Enum):
    """Who is calling the CRM: the bot's action server, or a signed-in human support agent."""

    actions = "actions"
    agent = "agent"


class InvalidTokenError(Exception):
    """The token is missing, expired, forged or of the wrong kind."""


@dataclass(frozen=True)
class CustomerClaims:
    customer_id: int
    conversation_id: str
    expires_at: datetime


@dataclass(frozen=True)
class AgentClaims:
    agent_id: int
    expires_at: datetime


def _issue(secret: str, claims: dict[str, str], ttl_seconds: int) -> tuple[str, datetime]:
    now = datetime.now(timezone.utc)
    expires_at = now + timedelta(seconds=ttl_seconds)
    payload = {**claims, "iat": now, "exp": expires_at, "jti": uuid.uuid4().hex}
    return jwt.encode(payload, secret, algorithm=TOKEN_ALGORITHM), expires_at


def _read(secret: str, token: str, token_type: str, required: list[str], audience: str | None = None) -> dict[str, Any]:
    """The verified payload of a token of ``token_type`` whose subject is a numeric id."""
    try:
        payload = jwt.decode(token, secret, algorithms=[TOKEN_ALGORITHM], audience=audience,
                             options={"require": ["exp", "sub", "typ", *required]})
    except jwt.ExpiredSignatureError as error:
        raise InvalidTokenError("the token has expired") from error
    except jwt.PyJWTError as error:
        raise InvalidTokenError("the token is not valid") from error
    if payload["typ"] != token_type or not str(payload["sub"]).isdigit():
        raise InvalidTokenError("the token is not valid")
    return payload


def issue_customer_token(
    secret: str, customer_id: int, conversation_id: str, ttl_seconds: int
) -> tuple[str, datetime]:
    return _issue(secret, {"typ": TOKEN_TYPE, "sub": str(customer_id), "cid": conversation_id}, ttl_seconds)


def read_customer_token(secret: str, token: str) -> CustomerClaims:
    payload = _read(secret, token, TOKEN_TYPE, ["cid"])
    return CustomerClaims(
        customer_id=int(payload["sub"]),
        conversation_id=str(payload["cid"]),
        expires_at=datetime.fromtimestamp(payload["exp"], timezone.utc),
    )


def issue_agent_token(secret: str, agent_id: int, ttl_seconds: int) -> tuple[str, datetime]:
    return _issue(secret, {"typ": AGENT_TOKEN_TYPE, "sub": str(agent_id), "aud": AGENT_AUDIENCE}, ttl_seconds)


def read_agent_token(secret: str, token: str) -> AgentClaims:
    payload = _read(secret, token, AGENT_TOKEN_TYPE, ["aud"], audience=AGENT_AUDIENCE)
    return AgentClaims(agent_id=int(payload["sub"]), expires_at=datetime.fromtimestamp(payload["exp"], timezone.utc))


def key_matches(presented_key: str, key: str) -> bool:
    """Whether a presented service key is the expected one, compared in constant time."""
    return hmac.compare_digest(presented_key.encode(), key.encode())


def keyed_hash(secret: str, value: str) -> str:
    """HMAC-SHA256 of a normalised value, so identifiers and codes are never stored in clear."""
    return hmac.new(secret.encode(), value.strip().lower().encode(), hashlib.sha256).hexdigest()


def new_one_time_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"
