from datetime import datetime

from pydantic import BaseModel, Field


class CustomerSegment(BaseModel):
    customer_id: int
    as_of: datetime = Field(description="The moment the scores are computed for (the date of the data)")
    segment: str = Field(description="e.g. champions, loyal, at_risk; prospect if the customer never ordered")
    segment_label: str
    advice: str
    recency_days: float | None = Field(description="Days since the last order that was not cancelled")
    frequency: int = Field(description="Orders that were not cancelled")
    monetary: float = Field(description="Spend to date, returned orders excluded")
    r_score: int | None = Field(description="1 (ordered longest ago) to 5 (most recently); null without orders")
    f_score: int | None
    m_score: int | None
    expected_value: float = Field(description="Expected net spend in the next horizon_days")
    horizon_days: int
    model_versions: dict[str, str]


class SegmentStats(BaseModel):
    segment: str
    label: str
    customers: int
    share: float = Field(description="Of all customers")
    revenue: float = Field(description="Spend to date of the segment's customers")
    revenue_share: float
    revenue_last_window: float = Field(description="Net spend of the segment in the last horizon_days")
    expected_value: float = Field(description="Expected net spend of the segment in the next horizon_days")
    average_expected_value: float


class SegmentsOverview(BaseModel):
    as_of: datetime
    customers: int
    horizon_days: int
    model_versions: dict[str, str]
    segments: list[SegmentStats]
