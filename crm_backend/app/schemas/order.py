from datetime import datetime
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from app.models import OrderStatus


class OrderSummary(BaseModel):
    order_number: str
    status: OrderStatus
    placed_at: datetime
    total: Decimal
    item_count: int


class OrderLinePublic(BaseModel):
    sku: str
    name: str
    quantity: int
    unit_price: Decimal


class OrderDetail(OrderSummary):
    paid_at: datetime | None
    shipped_at: datetime | None
    delivered_at: datetime | None
    cancelled_at: datetime | None
    returned_at: datetime | None
    carrier: str | None
    tracking_number: str | None
    can_cancel: bool
    can_return: bool
    lines: list[OrderLinePublic]


class OrderList(BaseModel):
    orders: list[OrderSummary]
    total_count: int


class RefundPublic(BaseModel):
    reference: str
    order_number: str
    kind: str
    status: str
    amount: Decimal
    created_at: datetime
    updated_at: datetime


class OrderChangeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Annotated[str, StringConstraints(strip_whitespace=True, max_length=1000)] | None = None


class CancellationResult(BaseModel):
    order: OrderDetail
    refund: RefundPublic | None


class ReturnEligibilityPublic(BaseModel):
    eligible: bool
    code: str
    message: str
    deadline: datetime | None


class ReturnResult(BaseModel):
    refund: RefundPublic
    instructions: str


class InvoiceLine(BaseModel):
    name: str
    quantity: int
    unit_price: Decimal
    line_total: Decimal


class Invoice(BaseModel):
    """The invoice of a paid order; prices include VAT at ``vat_rate``."""

    invoice_number: str
    order_number: str
    issued_at: datetime
    customer_name: str
    lines: list[InvoiceLine]
    total: Decimal
    vat_rate: Decimal
    vat_included: Decimal
