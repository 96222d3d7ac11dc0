"""Handoff tickets: the assistant queues a conversation, agents claim, answer and resolve it, the customer rates it."""

from datetime import datetime, timezone
from typing import Annotated

from fastapi import APIRouter, BackgroundTasks, Depends, Query, status

from app.api.deps import ActionsOnly, AgentOnly, OptionalClaims, SessionDep, SettingsDep
from app.api.errors import ApiError
from app.crud import support as support_crud
from app.models import Agent, Customer, HandoffTicket, TicketStatus
from app.schemas.support import (
    HandoffCreate,
    HandoffCreated,
    HandoffPublic,
    HandoffQueue,
    HandoffRating,
    HandoffResolve,
    HandoffState,
    TicketMessageCreate,
    TicketMessagePublic,
)
from app.services.assistant import DELIVER_MESSAGES, HAND_BACK, notify_assistant
from app.services.availability import current_availability
from app.services.handoff import open_ticket
from app.services.priority import effective_priority

router = APIRouter(prefix="/handoffs", tags=["handoffs"])


def agent_view(ticket: HandoffTicket, now: datetime | None = None) -> HandoffPublic:
    now = now or datetime.now(timezone.utc)
    waited_until = ticket.claimed_at or ticket.resolved_at or now
    return HandoffPublic(
        **HandoffState.model_validate(ticket, from_attributes=True).model_dump(),
        customer_id=ticket.customer_id, channel=ticket.channel, priority=ticket.priority,
        effective_priority=effective_priority(ticket.priority, ticket.created_at, waited_until),
        waiting_seconds=max(0, int((waited_until - ticket.created_at).total_seconds())),
        agent_id=ticket.agent_id, transcript=ticket.transcript, context=ticket.context,
        rating_comment=ticket.rating_comment,
        messages=[TicketMessagePublic.model_validate(m, from_attributes=True) for m in ticket.messages],
    )


def get_ticket_or_404(ticket_id: int, session: SessionDep) -> HandoffTicket:
    ticket = support_crud.get_ticket(session, ticket_id=ticket_id)
    if ticket is None:
        raise ApiError(404, "ticket_not_found", "No handoff ticket with that id.")
    return ticket


TicketDep = Annotated[HandoffTicket, Depends(get_ticket_or_404)]


def _require_holder(ticket: HandoffTicket, agent: Agent) -> None:
    """Only the agent who claimed the conversation may write in it or resolve it."""
    if ticket.status is TicketStatus.resolved:
        raise ApiError(409, "ticket_resolved", "This conversation has been handed back to the assistant.")
    if ticket.status is TicketStatus.waiting:
        raise ApiError(409, "not_claimed", "Claim the conversation first.")
    if ticket.agent_id != agent.id:
        raise ApiError(403, "not_your_ticket", f"{ticket.agent} is handling this conversation.")


@router.post("", status_code=status.HTTP_201_CREATED)
def create_handoff(body: HandoffCreate, session: SessionDep, settings: SettingsDep, _caller: ActionsOnly,
                   claims: OptionalClaims) -> HandoffCreated:
    """Queue the conversation for a person; the CRM builds the context and priority. A conversation has at most one
    open ticket (a unique index makes sure, even when requests race): asking again returns it. The answer says whether
    someone can answer now."""
    customer = session.get(Customer, claims.customer_id) if claims else None
    ticket = open_ticket(session, settings.models_dir, data=body, customer=customer)
    state = HandoffState.model_validate(ticket, from_attributes=True)
    return HandoffCreated(**state.model_dump(), availability=current_availability(session, settings))


@router.get("")
def handoff_queue(
    session: SessionDep,
    agent: AgentOnly,
    status_filter: Annotated[TicketStatus | None, Query(alias="status")] = TicketStatus.waiting,
    mine: Annotated[bool, Query(description="only tickets this agent claimed")] = False,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> HandoffQueue:
    """Tickets by effective priority: priority from churn risk, negative sentiment and reason, rising while waiting."""
    tickets = support_crud.ticket_queue(session, status=status_filter, agent_id=agent.id if mine else None, limit=limit)
    now = datetime.now(timezone.utc)
    return HandoffQueue(tickets=[agent_view(t, now) for t in tickets])


@router.get("/{ticket_id}")
def read_handoff(ticket: TicketDep, _agent: AgentOnly) -> HandoffPublic:
    return agent_view(ticket)


@router.post("/{ticket_id}/claim", responses={409: {}})
def claim_handoff(ticket: TicketDep, session: SessionDep, settings: SettingsDep, agent: AgentOnly,
                  tasks: BackgroundTasks) -> HandoffPublic:
    """Take the conversation; of several agents claiming at once exactly one wins, the others get 409."""
    if not support_crud.claim_ticket(session, ticket_id=ticket.id, agent=agent):
        current = support_crud.get_ticket(session, ticket_id=ticket.id)
        holder = current.agent if current and current.status is TicketStatus.claimed else None
        raise ApiError(409, "already_claimed", "Another agent has claimed this conversation, or it is closed.",
                       agent=holder)
    notify_assistant(tasks, settings, conversation_id=ticket.conversation_id, action=DELIVER_MESSAGES, ticket_id=ticket.id)
    return agent_view(support_crud.get_ticket(session, ticket_id=ticket.id))  # type: ignore[arg-type]


@router.post("/{ticket_id}/messages", status_code=status.HTTP_201_CREATED, responses={403: {}, 409: {}})
def post_agent_message(body: TicketMessageCreate, ticket: TicketDep, session: SessionDep, settings: SettingsDep,
                       agent: AgentOnly, tasks: BackgroundTasks) -> TicketMessagePublic:
    """The claiming agent's reply; the assistant is asked to deliver it to the customer."""
    _require_holder(ticket, agent)
    message = support_crud.add_agent_message(session, ticket=ticket, agent=agent, text=body.text)
    notify_assistant(tasks, settings, conversation_id=ticket.conversation_id, action=DELIVER_MESSAGES, ticket_id=ticket.id)
    return TicketMessagePublic.model_validate(message, from_attributes=True)


@router.get("/{ticket_id}/messages")
def list_handoff_messages(
    ticket: TicketDep, _agent: AgentOnly, after: Annotated[int, Query(ge=0)] = 0
) -> list[TicketMessagePublic]:
    """Messages after a cursor (the last message id seen), so a poller sees each message exactly once."""
    return [TicketMessagePublic.model_validate(m, from_attributes=True)
            for m in support_crud.messages_after(ticket, after=after)]


@router.post("/{ticket_id}/resolve", responses={403: {}, 409: {}})
def resolve_handoff(body: HandoffResolve, ticket: TicketDep, session: SessionDep, settings: SettingsDep,
                    agent: AgentOnly, tasks: BackgroundTasks) -> HandoffPublic:
    """Hand the conversation back to the assistant, which tells the customer the note and asks for a rating."""
    _require_holder(ticket, agent)
    if not support_crud.resolve_ticket(session, ticket_id=ticket.id, agent=agent, note=body.note):
        raise ApiError(409, "ticket_resolved", "This ticket is already resolved.")
    notify_assistant(tasks, settings, conversation_id=ticket.conversation_id, action=HAND_BACK, ticket_id=ticket.id)
    return agent_view(support_crud.get_ticket(session, ticket_id=ticket.id))  # type: ignore[arg-type]


@router.post("/{ticket_id}/rating", responses={409: {}})
def rate_handoff(body: HandoffRating, ticket: TicketDep, session: SessionDep, _caller: ActionsOnly) -> HandoffState:
    """The customer's 1-5 rating of the help they got: once, after the ticket is resolved."""
    if not support_crud.rate_ticket(session, ticket_id=ticket.id, rating=body.rating, comment=body.comment):
        if ticket.status is not TicketStatus.resolved:
            raise ApiError(409, "not_resolved", "A conversation can be rated once it has been resolved.")
        raise ApiError(409, "already_rated", "This conversation has already been rated.")
    return HandoffState.model_validate(support_crud.get_ticket(session, ticket_id=ticket.id), from_attributes=True)
