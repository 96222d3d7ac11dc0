"""Whether a person can answer now: support hours (``CRM_SUPPORT_HOURS`` in ``CRM_SUPPORT_TIMEZONE``) and agents online."""

from datetime import datetime, timezone

from sqlalchemy.orm import Session

from app.core.config import Settings
from app.schemas.support import Availability
from app.services.agents import agents_online


def current_availability(session: Session, settings: Settings, now: datetime | None = None) -> Availability:
    now = now or datetime.now(timezone.utc)
    hours = settings.schedule()
    return Availability(
        within_hours=hours.is_open(now),
        agents_online=agents_online(session, now),
        hours=hours.describe(),
        next_opening=hours.next_opening(now),
    )
