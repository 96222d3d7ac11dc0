"""Whether people can answer now, and the agents' canned replies."""

from fastapi import APIRouter

from app.api.deps import AgentOnly, ServiceCaller, SessionDep, SettingsDep
from app.crud import support as support_crud
from app.schemas.support import Availability, CannedReplyPublic
from app.services.availability import current_availability

router = APIRouter(tags=["support"])


@router.get("/support/availability")
def support_availability(session: SessionDep, settings: SettingsDep, _caller: ServiceCaller) -> Availability:
    """Within support hours (``CRM_SUPPORT_HOURS``), how many agents are online (heartbeat in the last minute), the
    hours as text, and when the next support window opens if it is closed now."""
    return current_availability(session, settings)


@router.get("/canned-replies")
def list_canned_replies(session: SessionDep, _agent: AgentOnly) -> list[CannedReplyPublic]:
    return [CannedReplyPublic.model_validate(reply, from_attributes=True) for reply in support_crud.canned_replies(session)]
