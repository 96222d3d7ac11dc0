from datetime import datetime
from decimal import Decimal
from typing import Annotated, Self

from pydantic import BaseModel, EmailStr, StringConstraints, model_validator

from app.schemas.common import RequestModel
from app.schemas.order import OrderSummary

Phone = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^\+?[0-9 ()-]{6,20}$")]


class Address(BaseModel):
    line: str | None
    city: str | None
    postcode: str | None
    country: str


class AddressUpdate(RequestModel):
    line: Annotated[str, StringConstraints(strip_whitespace=True, min_length=3, max_length=300)]
    city: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    postcode: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=20)]
    country: Annotated[str, StringConstraints(strip_whitespace=True, min_length=2, max_length=80)]


class AccountSummary(BaseModel):
    customer_id: int
    name: str
    email: str | None
    phone: str | None
    address: Address
    member_since: datetime
    account_status: str
    order_count: int
    open_order_count: int
    total_spent: Decimal
    last_order: OrderSummary | None


class ContactUpdate(RequestModel):
    email: EmailStr | None = None
    phone: Phone | None = None
    address: AddressUpdate | None = None

    @model_validator(mode="after")
    def _something_to_change(self) -> Self:
        if self.email is None and self.phone is None and self.address is None:
            raise ValueError("give at least one of email, phone, address")
        return self


class ContactUpdateResult(BaseModel):
    changed_fields: list[str]
    summary: AccountSummary


class AccountClosure(RequestModel):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class AccountClosureResult(BaseModel):
    account_status: str
    closed_at: datetime


class RetentionOfferOutcome(RequestModel):
    """A retention offer made before closing an account, and whether the customer took it."""

    offer: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    accepted: bool
