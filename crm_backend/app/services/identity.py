"""Identity verification: an email or order number plus a second factor, with lockouts.

Failures are counted per identifier (keyed hash) and per conversation inside a sliding
window; an unknown identifier and a wrong factor fail the same way, so the API never
tells an attacker which emails or order numbers exist.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from app.core.config import Settings
from app.core.security import issue_customer_token, keyed_hash, new_one_time_code
from app.crud.customers import find_customer_by_identifier
from app.models import Customer, OneTimeCode, VerificationAttempt


class VerificationFailed(Exception):
    def __init__(self, remaining_attempts: int) -> None:
        super().__init__("verification failed")
        self.remaining_attempts = remaining_attempts


class VerificationLocked(Exception):
    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__("too many failed attempts")
        self.retry_after_seconds = retry_after_seconds


@dataclass(frozen=True)
class Verified:
    customer: Customer
    token: str
    expires_at: datetime


def _normalise_postcode(postcode: str) -> str:
    return "".join(postcode.split()).upper()


def _window_start(settings: Settings) -> datetime:
    return datetime.now(timezone.utc) - timedelta(seconds=settings.lockout_window_seconds)


def _failures(session: Session, settings: Settings, identifier_hash: str, conversation_id: str) -> tuple[int, int, datetime | None]:
    since = _window_start(settings)
    by_identifier = session.execute(
        select(func.count(), func.min(VerificationAttempt.created_at)).where(
            VerificationAttempt.identifier_hash == identifier_hash, VerificationAttempt.created_at >= since
        )
    ).one()
    by_conversation = session.execute(
        select(func.count(), func.min(VerificationAttempt.created_at)).where(
            VerificationAttempt.conversation_id == conversation_id, VerificationAttempt.created_at >= since
        )
    ).one()
    oldest = min((t for t in (by_identifier[1], by_conversation[1]) if t is not None), default=None)
    return by_identifier[0], by_conversation[0], oldest


def _check_not_locked(session: Session, settings: Settings, identifier_hash: str, conversation_id: str) -> int:
    """Raise when locked; otherwise return how many failures are still allowed."""
    per_identifier, per_conversation, oldest = _failures(session, settings, identifier_hash, conversation_id)
    remaining = min(
        settings.max_failed_attempts_per_identifier - per_identifier,
        settings.max_failed_attempts_per_conversation - per_conversation,
    )
    if remaining <= 0:
        assert oldest is not None
        unlock_at = oldest + timedelta(seconds=settings.lockout_window_seconds)
        raise VerificationLocked(max(1, int((unlock_at - datetime.now(timezone.utc)).total_seconds())))
    return remaining


def _factor_matches(session: Session, settings: Settings, customer: Customer, postcode: str | None, code: str | None) -> bool:
    if postcode is not None:
        return customer.postcode is not None and _normalise_postcode(customer.postcode) == _normalise_postcode(postcode)
    assert code is not None
    now = datetime.now(timezone.utc)
    used = session.execute(
        update(OneTimeCode)
        .where(
            OneTimeCode.customer_id == customer.id,
            OneTimeCode.code_hash == keyed_hash(settings.token_secret.get_secret_value(), code),
            OneTimeCode.expires_at > now,
            OneTimeCode.used_at.is_(None),
        )
        .values(used_at=now)
    )
    return used.rowcount == 1


def verify_identity(
    session: Session, settings: Settings, *, conversation_id: str, identifier: str, postcode: str | None, code: str | None
) -> Verified:
    secret = settings.token_secret.get_secret_value()
    identifier_hash = keyed_hash(secret, identifier)
    remaining = _check_not_locked(session, settings, identifier_hash, conversation_id)
    customer = find_customer_by_identifier(session, identifier=identifier)
    if customer is None or customer.closed_at is not None or not _factor_matches(session, settings, customer, postcode, code):
        session.add(VerificationAttempt(identifier_hash=identifier_hash, conversation_id=conversation_id))
        session.commit()
        if remaining - 1 <= 0:
            raise VerificationLocked(settings.lockout_window_seconds)
        raise VerificationFailed(remaining - 1)
    session.commit()
    token, expires_at = issue_customer_token(secret, customer.id, conversation_id, settings.customer_token_ttl_seconds)
    return Verified(customer=customer, token=token, expires_at=expires_at)


def send_one_time_code(session: Session, settings: Settings, *, conversation_id: str, identifier: str) -> None:
    """Deliver a code to the customer's email (the demo's outbox folder); silent for unknown identifiers."""
    secret = settings.token_secret.get_secret_value()
    _check_not_locked(session, settings, keyed_hash(secret, identifier), conversation_id)
    customer = find_customer_by_identifier(session, identifier=identifier)
    if customer is None or customer.email is None or customer.closed_at is not None:
        return
    code = new_one_time_code()
    expires_at = datetime.now(timezone.utc) + timedelta(seconds=settings.one_time_code_ttl_seconds)
    session.add(
        OneTimeCode(
            customer_id=customer.id, conversation_id=conversation_id, code_hash=keyed_hash(secret, code), expires_at=expires_at
        )
    )
    session.commit()
    _deliver_to_outbox(settings.outbox_dir, customer.email, customer.name, code, settings.one_time_code_ttl_seconds)


def _deliver_to_outbox(outbox_dir: Path, email: str, name: str, code: str, ttl_seconds: int) -> None:
    outbox_dir.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%f")
    message = (
        f"To: {email}\nSubject: Your verification code\n\n"
        f"Hello {name.split()[0]},\n\nyour one-time code is {code}. It expires in {ttl_seconds // 60} minutes.\n"
        "If you did not ask for it, you can ignore this message.\n"
    )
    (outbox_dir / f"{stamp}-{email}.eml").write_text(message, encoding="utf-8")
