import enum
from datetime import datetime
from decimal import Decimal

from sqlalchemy import Enum, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from app.core.db import Base
from app.models.types import Money, UTCDateTime, utcnow


class RefundKind(str, enum.Enum):
    cancellation = "cancellation"
    return_ = "return"


class RefundStatus(str, enum.Enum):
    requested = "requested"  # return asked for; refunded once the parcel is back
    approved = "approved"  # money on its way to the customer
    refunded = "refunded"
    rejected = "rejected"


class Refund(Base):
    """Money going back to a customer, for a cancelled order or a returned one."""

    __tablename__ = "refunds"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ForeignKey("customers.id", ondelete="CASCADE"))
    kind: Mapped[RefundKind] = mapped_column(
        Enum(RefundKind, native_enum=False, length=20, values_callable=lambda kinds: [k.value for k in kinds])
    )
    status: Mapped[RefundStatus] = mapped_column(Enum(RefundStatus, native_enum=False, length=20))
    amount: Mapped[Decimal] = mapped_column(Money)
    reason: Mapped[str | None] = mapped_column(Text)
    reference: Mapped[str] = mapped_column(String(30), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __table_args__ = (
        Index("ix_refunds_customer", "customer_id", "created_at"),
        Index("ix_refunds_order", "order_id"),
    )
