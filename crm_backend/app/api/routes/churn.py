"""Churn risk of one customer (agents, or the bot for the verified customer) and the high-risk list (agents)."""

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query

from app.api.deps import AgentOnly, CustomerAccessDep, SessionDep, SettingsDep
from app.ml.churn_scoring import high_risk, score_customer
from app.schemas.churn import ChurnRisk, HighRiskCustomer, HighRiskList

router = APIRouter(tags=["churn"])


@router.get("/customers/{customer_id}/churn-risk")
def churn_risk(access: CustomerAccessDep, session: SessionDep, settings: SettingsDep) -> ChurnRisk:
    """Scored live from this customer's data."""
    risk = score_customer(session, settings.models_dir, access.customer)
    return ChurnRisk(customer_id=access.customer.id, **asdict(risk))


@router.get("/churn/high-risk")
def high_risk_customers(_agent: AgentOnly, session: SessionDep, settings: SettingsDep,
                        limit: Annotated[int, Query(ge=1, le=500)] = 50) -> HighRiskList:
    """Read from the scores saved at training time: retrain (``crm train-churn``) to refresh them."""
    customers, scored_as_of, card = high_risk(session, settings.models_dir, limit)
    return HighRiskList(scored_as_of=scored_as_of, model_version=card.version,
                        customers=[HighRiskCustomer(**asdict(customer)) for customer in customers])
