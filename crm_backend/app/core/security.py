"""Signed customer tokens, service keys and keyed hashes of identifiers and codes."""

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from enum import Enum

import jwt

TOKEN_ALGORITHM = "HS256"
TOKEN_TYPE = "customer"


class ServiceRole(str, Enum):
    """Who is calling the CRM: the bot's action server, or a human support agent."""

    actions = "actions"
    agent = "agent"


class InvalidTokenError(Exception):
    """The customer token is missing, expired, forged or of the wrong kind."""


@dataclass(frozen=True)
class CustomerClaims:
    customer_id: int
    conversation_id: str
    expires_at: datetime


def issue_customer_token(
    secret: str, customer_id: int, conversation_id: str, ttl_seconds: int
) -> tuple[str, datetime]:
    now = datetime.now(timezone.utc)
    expires_at = now + timedelta(seconds=ttl_seconds)
    payload = {
        "typ": TOKEN_TYPE,
        "sub": str(customer_id),
        "cid": conversation_id,
        "iat": now,
        "exp": expires_at,
        "jti": uuid.uuid4().hex,
    }
    return jwt.encode(payload, secret, algorithm=TOKEN_ALGORITHM), expires_at


def read_customer_token(secret: str, token: str) -> CustomerClaims:
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[TOKEN_ALGORITHM],
            options={"require": ["exp", "sub", "typ", "cid"]},
        )
    except jwt.ExpiredSignatureError as error:
        raise InvalidTokenError("the verification has expired") from error
    except jwt.PyJWTError as error:
        raise InvalidTokenError("the token is not valid") from error
    if payload["typ"] != TOKEN_TYPE or not str(payload["sub"]).isdigit():
        raise InvalidTokenError("the token is not valid")
    return CustomerClaims(
        customer_id=int(payload["sub"]),
        conversation_id=str(payload["cid"]),
        expires_at=datetime.fromtimestamp(payload["exp"], timezone.utc),
    )


def role_for_key(presented_key: str, keys: dict[ServiceRole, str]) -> ServiceRole | None:
    """The role whose key matches, compared in constant time."""
    for role, key in keys.items():
        if hmac.compare_digest(presented_key.encode(), key.encode()):
            return role
    return None


def keyed_hash(secret: str, value: str) -> str:
    """HMAC-SHA256 of a normalised value, so identifiers and codes are never stored in clear."""
    return hmac.new(secret.encode(), value.strip().lower().encode(), hashlib.sha256).hexdigest()


def new_one_time_code() -> str:
    return f"{secrets.randbelow(1_000_000):06d}"
