from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from app.ml.churn import HIGH_RISK, LOW_RISK

ChurnBand = Literal["low", "medium", "high", "not_scored"]


class ChurnRisk(BaseModel):
    customer_id: int
    probability: float | None = Field(
        description="Calibrated chance of no order in the next 90 days; null when the model is not for this customer "
                    "(no orders yet, or the account is closed)")
    band: ChurnBand = Field(description=f"low below {LOW_RISK}, medium from {LOW_RISK}, high from {HIGH_RISK}; "
                                        "not_scored when there is no probability")
    reasons: list[str] = Field(description="What raises the risk most, in plain words, strongest first")
    as_of: datetime = Field(description="The moment the features are computed for (the date of the data)")
    model_version: str


class HighRiskCustomer(BaseModel):
    customer_id: int
    name: str
    probability: float


class HighRiskList(BaseModel):
    scored_as_of: datetime = Field(description="Scores are computed when the model is trained (crm train-churn)")
    model_version: str
    customers: list[HighRiskCustomer] = Field(description="In the high band, most at risk first")
