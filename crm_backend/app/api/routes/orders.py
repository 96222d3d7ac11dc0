from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query, status

from app.api.deps import CustomerAccessDep, CustomerOrder, SessionDep
from app.api.errors import ApiError
from app.crud import orders as orders_crud
from app.schemas.order import (
    CancellationResult,
    Invoice,
    OrderChangeRequest,
    OrderDetail,
    OrderList,
    RefundPublic,
    ReturnEligibilityPublic,
    ReturnResult,
)
from app.services import order_changes

router = APIRouter(prefix="/customers/{customer_id}", tags=["orders"])

RETURN_INSTRUCTIONS = (
    "Pack the items in their original packaging and take the parcel to any post office within 14 days, "
    "quoting the refund reference; the refund is paid once the parcel arrives."
)


@router.get("/orders")
def list_orders(
    access: CustomerAccessDep,
    session: SessionDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 10,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> OrderList:
    customer_id = access.customer.id
    return OrderList(
        orders=orders_crud.order_summaries(session, customer_id=customer_id, limit=limit, offset=offset),
        total_count=orders_crud.count_orders(session, customer_id=customer_id),
    )


@router.get("/orders/{order_number}")
async def order_status(order: CustomerOrder) -> OrderDetail:
    """``async``: the order comes with its lines and products, so this does no I/O and needs no thread-pool hop."""
    return orders_crud.order_detail(order)


@router.post("/orders/{order_number}/cancel", responses={409: {}})
def cancel_order(order: CustomerOrder, body: OrderChangeRequest, access: CustomerAccessDep, session: SessionDep) -> CancellationResult:
    """Cancel an order that has not shipped; a paid order is refunded in full."""
    try:
        refund = order_changes.cancel_order(session, order=order, actor=access.actor, reason=body.reason)
    except order_changes.ChangeRefused as refused:
        raise ApiError(409, refused.code, refused.message) from refused
    return CancellationResult(
        order=orders_crud.order_detail(order),
        refund=orders_crud.refund_public(refund, order.order_number) if refund else None,
    )


@router.get("/orders/{order_number}/return-eligibility")
def return_eligibility(order: CustomerOrder, session: SessionDep) -> ReturnEligibilityPublic:
    eligibility = order_changes.return_eligibility(session, order=order)
    return ReturnEligibilityPublic(**asdict(eligibility))


@router.post("/orders/{order_number}/return", status_code=status.HTTP_201_CREATED, responses={409: {}})
def request_return(order: CustomerOrder, body: OrderChangeRequest, access: CustomerAccessDep, session: SessionDep) -> ReturnResult:
    try:
        refund = order_changes.request_return(session, order=order, actor=access.actor, reason=body.reason)
    except order_changes.ChangeRefused as refused:
        raise ApiError(409, refused.code, refused.message) from refused
    return ReturnResult(refund=orders_crud.refund_public(refund, order.order_number), instructions=RETURN_INSTRUCTIONS)


@router.get("/orders/{order_number}/invoice", responses={409: {}})
def order_invoice(order: CustomerOrder, access: CustomerAccessDep) -> Invoice:
    """The invoice of a paid order: its lines, total and the VAT included."""
    invoice = orders_crud.invoice(order, customer_name=access.customer.name)
    if invoice is None:
        raise ApiError(409, "not_invoiced", "An invoice is issued once the order is paid.")
    return invoice


@router.get("/refunds")
def list_refunds(
    access: CustomerAccessDep, session: SessionDep, limit: Annotated[int, Query(ge=1, le=100)] = 20
) -> list[RefundPublic]:
    return orders_crud.refunds_of_customer(session, customer_id=access.customer.id, limit=limit)
