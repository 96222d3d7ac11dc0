"""A conversation's handoff as the assistant sees it: what to deliver to the customer, and how the ticket stands."""

from typing import Annotated

from fastapi import APIRouter, Path, Query

from app.api.deps import ActionsOnly, SessionDep
from app.api.errors import ApiError
from app.crud import support as support_crud
from app.models import MessageSender
from app.schemas.common import ConversationId
from app.schemas.support import ConversationHandoff, HandoffState, TicketMessagePublic

router = APIRouter(prefix="/conversations/{conversation_id}", tags=["handoffs"])

FOR_THE_CUSTOMER = (MessageSender.system, MessageSender.agent)


@router.get("/handoff", responses={404: {}})
def conversation_handoff(
    conversation_id: Annotated[ConversationId, Path()], session: SessionDep, _caller: ActionsOnly,
    after: Annotated[int, Query(ge=0, description="the id of the last message already delivered")] = 0,
) -> ConversationHandoff:
    """The conversation's latest ticket and the agent and system messages after the cursor, so that delivering them
    in order and remembering the last id shows each message to the customer exactly once."""
    ticket = support_crud.latest_ticket_for_conversation(session, conversation_id=conversation_id)
    if ticket is None:
        raise ApiError(404, "no_handoff", "This conversation has not been handed to a person.")
    messages = support_crud.messages_after(ticket, after=after, senders=FOR_THE_CUSTOMER)
    return ConversationHandoff(
        ticket=HandoffState.model_validate(ticket, from_attributes=True),
        messages=[TicketMessagePublic.model_validate(m, from_attributes=True) for m in messages],
    )
