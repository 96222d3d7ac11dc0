from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import CustomerAccessDep, SessionDep
from app.api.errors import ApiError
from app.crud import customers as customers_crud
from app.crud import support as support_crud
from app.schemas.customer import AccountSummary, ContactUpdate, ContactUpdateResult
from app.schemas.support import InteractionPublic

router = APIRouter(prefix="/customers/{customer_id}", tags=["customers"])


@router.get("/summary")
def account_summary(access: CustomerAccessDep, session: SessionDep) -> AccountSummary:
    return customers_crud.account_summary(session, customer=access.customer)


@router.patch("/contact")
def update_contact(body: ContactUpdate, access: CustomerAccessDep, session: SessionDep) -> ContactUpdateResult:
    """Change email, phone or address; every changed field is written to the audit log."""
    customer = access.customer
    if body.email is not None and customers_crud.email_taken(session, email=body.email.lower(), by_other_than=customer.id):
        raise ApiError(409, "email_in_use", "That email address belongs to another account.")
    changed = customers_crud.update_contact(session, customer=customer, update=body, actor=access.actor)
    return ContactUpdateResult(changed_fields=changed, summary=customers_crud.account_summary(session, customer=customer))


@router.get("/interactions")
def customer_interactions(
    access: CustomerAccessDep, session: SessionDep, limit: Annotated[int, Query(ge=1, le=200)] = 50
) -> list[InteractionPublic]:
    rows = support_crud.list_interactions(session, customer_id=access.customer.id, limit=limit)
    return [InteractionPublic.model_validate(row, from_attributes=True) for row in rows]
