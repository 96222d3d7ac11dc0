"""RFM segment and expected value of one customer; the segment overview for agents."""

import pandas as pd
from fastapi import APIRouter

from app.api.deps import AgentOnly, CustomerAccessDep, SessionDep, SettingsDep
from app.ml.customer_scores import data_date, load_scoring_models, score_customers, segment_summary
from app.ml.segments import SEGMENT_ADVICE, SEGMENT_LABELS
from app.schemas.segment import CustomerSegment, SegmentsOverview, SegmentStats

router = APIRouter(tags=["segments"])


def _int_or_none(value: object) -> int | None:
    return None if pd.isna(value) else int(value)


@router.get("/customers/{customer_id}/segment")
def customer_segment(access: CustomerAccessDep, session: SessionDep, settings: SettingsDep) -> CustomerSegment:
    models = load_scoring_models(settings.models_dir)
    as_of = data_date(session)
    row = score_customers(session, models, as_of, [access.customer.id]).loc[access.customer.id]
    segment = row["segment"]
    return CustomerSegment(
        customer_id=access.customer.id,
        as_of=as_of,
        segment=segment,
        segment_label=SEGMENT_LABELS[segment],
        advice=SEGMENT_ADVICE[segment],
        recency_days=None if pd.isna(row["recency_days"]) else round(row["recency_days"], 1),
        frequency=int(row["frequency"]),
        monetary=round(row["monetary"], 2),
        r_score=_int_or_none(row["r_score"]),
        f_score=_int_or_none(row["f_score"]),
        m_score=_int_or_none(row["m_score"]),
        expected_value=round(row["expected_value"], 2),
        horizon_days=models.horizon_days,
        model_versions=models.versions,
    )


@router.get("/segments")
def segments_overview(_agent: AgentOnly, session: SessionDep, settings: SettingsDep) -> SegmentsOverview:
    """Every segment with its customers, revenue and expected value; computed live (about 1 s per 3,000 customers)."""
    models = load_scoring_models(settings.models_dir)
    as_of = data_date(session)
    scored = score_customers(session, models, as_of)
    stats = [
        SegmentStats(
            segment=str(name),
            label=row["label"],
            customers=int(row["customers"]),
            share=round(row["share"], 4),
            revenue=round(row["revenue"], 2),
            revenue_share=round(row["revenue_share"], 4),
            revenue_last_window=round(row["revenue_last_window"], 2),
            expected_value=round(row["expected_value"], 2),
            average_expected_value=round(row["average_expected_value"], 2),
        )
        for name, row in segment_summary(scored).iterrows()
    ]
    return SegmentsOverview(as_of=as_of, customers=len(scored), horizon_days=models.horizon_days,
                            model_versions=models.versions, segments=stats)
