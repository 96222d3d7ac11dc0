from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from app.api.deps import ActionsOnly, AgentOnly, OptionalClaims, ServiceCaller, SessionDep
from app.api.errors import ApiError
from app.core.security import ServiceRole
from app.crud import support as support_crud
from app.models import HandoffTicket, TicketStatus
from app.schemas.support import (
    HandoffClaim,
    HandoffCreate,
    HandoffPublic,
    HandoffQueue,
    HandoffResolve,
    TicketMessageCreate,
    TicketMessagePublic,
)
from app.services.handoff import ticket_priority

router = APIRouter(prefix="/handoffs", tags=["handoffs"])


def _public(ticket: HandoffTicket) -> HandoffPublic:
    return HandoffPublic.model_validate(ticket, from_attributes=True)


def get_ticket_or_404(ticket_id: int, session: SessionDep) -> HandoffTicket:
    ticket = support_crud.get_ticket(session, ticket_id=ticket_id)
    if ticket is None:
        raise ApiError(404, "ticket_not_found", "No handoff ticket with that id.")
    return ticket


TicketDep = Annotated[HandoffTicket, Depends(get_ticket_or_404)]


@router.post("", status_code=status.HTTP_201_CREATED)
def create_handoff(body: HandoffCreate, session: SessionDep, _caller: ActionsOnly, claims: OptionalClaims) -> HandoffPublic:
    """Queue the conversation for a human; a conversation has at most one open ticket."""
    customer_id = claims.customer_id if claims else None
    ticket = support_crud.create_ticket(session, data=body, customer_id=customer_id, priority=ticket_priority(body.reason))
    return _public(ticket)


@router.get("")
def handoff_queue(
    session: SessionDep,
    _caller: AgentOnly,
    status_filter: Annotated[TicketStatus | None, Query(alias="status")] = TicketStatus.waiting,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> HandoffQueue:
    """Tickets by priority, then by waiting time."""
    return HandoffQueue(tickets=[_public(t) for t in support_crud.ticket_queue(session, status=status_filter, limit=limit)])


@router.get("/{ticket_id}")
def read_handoff(ticket: TicketDep, _caller: AgentOnly) -> HandoffPublic:
    return _public(ticket)


@router.post("/{ticket_id}/claim")
def claim_handoff(body: HandoffClaim, ticket: TicketDep, session: SessionDep, _caller: AgentOnly) -> HandoffPublic:
    if not support_crud.claim_ticket(session, ticket_id=ticket.id, agent_name=body.agent_name):
        raise ApiError(409, "already_claimed", "Another agent has claimed this conversation, or it is closed.")
    session.refresh(ticket)
    return _public(ticket)


@router.post("/{ticket_id}/messages", status_code=status.HTTP_201_CREATED)
def post_handoff_message(
    body: TicketMessageCreate, ticket: TicketDep, session: SessionDep, caller: ServiceCaller
) -> TicketMessagePublic:
    """Agents post replies; the action server forwards the customer's messages."""
    if ticket.status is TicketStatus.resolved:
        raise ApiError(409, "ticket_resolved", "This conversation has been handed back to the assistant.")
    if caller is ServiceRole.agent:
        if ticket.status is not TicketStatus.claimed:
            raise ApiError(409, "not_claimed", "Claim the conversation before replying.")
        sender, author = "agent", ticket.agent
    else:
        sender, author = "customer", None
    message = support_crud.add_ticket_message(session, ticket=ticket, sender=sender, author=author, text=body.text)
    return TicketMessagePublic.model_validate(message, from_attributes=True)


@router.get("/{ticket_id}/messages")
def list_handoff_messages(
    ticket: TicketDep, _caller: ServiceCaller, after: Annotated[int, Query(ge=0)] = 0
) -> list[TicketMessagePublic]:
    """Messages after a cursor (the last message id seen), so a poller sees each message exactly once."""
    return [TicketMessagePublic.model_validate(m, from_attributes=True) for m in ticket.messages if m.id > after]


@router.post("/{ticket_id}/resolve")
def resolve_handoff(body: HandoffResolve, ticket: TicketDep, session: SessionDep, _caller: AgentOnly) -> HandoffPublic:
    if ticket.status is TicketStatus.resolved:
        raise ApiError(409, "ticket_resolved", "This ticket is already resolved.")
    support_crud.resolve_ticket(session, ticket=ticket, note=body.note)
    return _public(ticket)
