from typing import Annotated

from fastapi import APIRouter, Query, status

from app.api.db_io import run_db
from app.api.deps import CustomerAccessDep, SessionDep
from app.api.errors import ApiError
from app.crud import customers as customers_crud
from app.crud import support as support_crud
from app.schemas.customer import (
    AccountClosure,
    AccountClosureResult,
    AccountSummary,
    ContactUpdate,
    ContactUpdateResult,
    RetentionOfferOutcome,
)
from app.schemas.support import InteractionPublic

router = APIRouter(prefix="/customers/{customer_id}", tags=["customers"])


@router.get("/summary")
async def account_summary(access: CustomerAccessDep, session: SessionDep) -> AccountSummary:
    return await run_db(session, customers_crud.account_summary, session, customer=access.customer)


@router.patch("/contact")
def update_contact(body: ContactUpdate, access: CustomerAccessDep, session: SessionDep) -> ContactUpdateResult:
    """Change email, phone or address; every changed field is written to the audit log."""
    customer = access.customer
    if body.email is not None and customers_crud.email_taken(session, email=body.email.lower(), by_other_than=customer.id):
        raise ApiError(409, "email_in_use", "That email address belongs to another account.")
    changed = customers_crud.update_contact(session, customer=customer, update=body, actor=access.actor)
    return ContactUpdateResult(changed_fields=changed, summary=customers_crud.account_summary(session, customer=customer))


@router.post("/close", responses={409: {}})
def close_account(body: AccountClosure, access: CustomerAccessDep, session: SessionDep) -> AccountClosureResult:
    """Close the account once no order is in progress; the closure and its reason are audited."""
    customer = access.customer
    if customer.closed_at is not None:
        raise ApiError(409, "already_closed", "This account is already closed.")
    if customers_crud.has_open_orders(session, customer_id=customer.id):
        raise ApiError(409, "open_orders", "The account has orders in progress; it can be closed once they are completed.")
    closed_at = customers_crud.close_account(session, customer=customer, reason=body.reason, actor=access.actor)
    return AccountClosureResult(account_status="closed", closed_at=closed_at)


@router.post("/retention-offers", status_code=status.HTTP_201_CREATED)
def record_retention_offer(body: RetentionOfferOutcome, access: CustomerAccessDep, session: SessionDep) -> dict[str, str]:
    """Record a retention offer made to a customer who wanted to leave, and its outcome (audited)."""
    customers_crud.record_retention_offer(session, customer=access.customer, offer=body.offer, accepted=body.accepted,
                                          actor=access.actor)
    return {"status": "recorded"}


@router.get("/interactions")
def customer_interactions(
    access: CustomerAccessDep, session: SessionDep, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[InteractionPublic]:
    rows = support_crud.list_interactions(session, customer_id=access.customer.id, limit=limit)
    return [InteractionPublic.model_validate(row, from_attributes=True) for row in rows]
