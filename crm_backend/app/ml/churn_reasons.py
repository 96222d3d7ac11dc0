"""Why a customer's churn risk is what it is, in plain words.

The model's features fall into groups of one fact each (how long since the last order, complaints, ...). For every
group the model says how much it raises the probability against a typical retained customer
(``ChurnClassifier.explain``); the groups that raise it most are described with the customer's own numbers.
"""

import math
from collections.abc import Callable, Mapping

import pandas as pd

FEATURE_GROUPS: dict[str, tuple[str, ...]] = {
    "recency": ("recency_days", "overdue_ratio", "orders_90d"),
    "rhythm": ("frequency", "mean_gap_days", "last_gap_days", "tenure_days"),
    "spend": ("monetary", "spend_90d", "spend_prev_90d", "spend_trend"),
    "returns": ("return_count", "return_rate"),
    "complaints": ("complaints_30d", "complaints_total"),
    "messages": ("recent_messages", "negative_recent", "negative_share", "sentiment_recent", "contacts_90d"),
    "tickets": ("open_tickets",),
}
MODEL_FEATURES = tuple(name for names in FEATURE_GROUPS.values() for name in names)
MIN_EFFECT = 0.02  # a group must add at least 2 probability points to be named
MAX_REASONS = 3
NOTHING_STANDS_OUT = "nothing stands out against a typical active customer"

Row = Mapping[str, float]


def _plural(count: float, noun: str) -> str:
    count = int(round(count))
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


def _recency(row: Row, typical: Row) -> str | None:
    days, usual = row["recency_days"], row["mean_gap_days"]
    if math.isnan(usual):  # one order: compare with how recently typical customers ordered
        return f"no order for {days:.0f} days since the first one" if days > typical["recency_days"] else None
    return f"no order for {days:.0f} days, down from every {usual:.0f} days" if days > usual else None


def _rhythm(row: Row, typical: Row) -> str | None:
    if not math.isnan(row["last_gap_days"]) and row["last_gap_days"] > 1.25 * row["mean_gap_days"]:
        return (f"the last gap between orders was {row['last_gap_days']:.0f} days, "
                f"longer than the usual {row['mean_gap_days']:.0f}")
    if row["frequency"] < typical["frequency"]:
        return (f"{_plural(row['frequency'], 'order')} in {row['tenure_days']:.0f} days as a customer "
                f"(typical: {typical['frequency']:.0f})")
    return None


def _spend(row: Row, typical: Row) -> str | None:
    if row["spend_90d"] < row["spend_prev_90d"]:
        return (f"spent £{row['spend_90d']:,.0f} in the last 90 days, "
                f"down from £{row['spend_prev_90d']:,.0f} in the 90 days before")
    if row["monetary"] < typical["monetary"]:
        return f"spent £{row['monetary']:,.0f} in all (typical: £{typical['monetary']:,.0f})"
    return None


def _returns(row: Row, typical: Row) -> str | None:
    if row["return_count"] <= 0:
        return None
    return f"returned {row['return_count']:.0f} of {_plural(row['frequency'], 'order')}"


def _complaints(row: Row, typical: Row) -> str | None:
    recent, total = row["complaints_30d"], row["complaints_total"]
    if recent > 0:
        extra = f" ({total:.0f} in all)" if total > recent else ""
        return f"{_plural(recent, 'complaint')} in the last 30 days{extra}"
    return f"{_plural(total, 'complaint')} so far" if total > 0 else None


def _messages(row: Row, typical: Row) -> str | None:
    if row["negative_recent"] > 0:
        return f"{row['negative_recent']:.0f} of the last {_plural(row['recent_messages'], 'message')} were negative"
    return None


def _tickets(row: Row, typical: Row) -> str | None:
    return f"{_plural(row['open_tickets'], 'support ticket')} still open" if row["open_tickets"] > 0 else None


DESCRIBE: dict[str, Callable[[Row, Row], str | None]] = {
    "recency": _recency, "rhythm": _rhythm, "spend": _spend, "returns": _returns, "complaints": _complaints,
    "messages": _messages, "tickets": _tickets,
}


def reasons(row: Row, effects: Mapping[str, float], typical: Row) -> list[str]:
    """Up to three facts that raise this customer's risk most, strongest first."""
    ranked = sorted((effect, group) for group, effect in effects.items() if effect >= MIN_EFFECT)
    texts = [text for _effect, group in reversed(ranked) if (text := DESCRIBE[group](row, typical))]
    return texts[:MAX_REASONS] or [NOTHING_STANDS_OUT]


def reasons_for(features: pd.DataFrame, effects: pd.DataFrame, typical: Row) -> list[list[str]]:
    """``reasons`` for each row of ``features``, with ``effects`` from ``ChurnClassifier.explain``."""
    return [reasons(row, effect, typical)
            for row, effect in zip(features.to_dict("records"), effects.to_dict("records"), strict=True)]
