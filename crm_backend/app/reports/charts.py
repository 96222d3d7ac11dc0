"""Charts of the manager report, drawn with matplotlib's Agg renderer and returned as base64 PNG.

Figures are made with ``matplotlib.figure.Figure``, not pyplot, so no global state is shared between reports.
"""

import base64
import io

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, PercentFormatter

SEGMENT_COLOURS = {
    "champions": "#1a7f37", "loyal": "#3fa866", "potential_loyalists": "#7cc4e0", "new": "#8a63d2",
    "at_risk": "#f0883e", "cant_lose_them": "#cf222e", "hibernating": "#a08c73", "lost": "#8c959f",
    "prospect": "#d0d7de",
}
BAND_COLOURS = {"low": "#3fa866", "medium": "#f0b43e", "high": "#cf222e"}


def _short_money(value: float, _position: int) -> str:
    """Axis ticks: £500, £2.5k, £150k, £1.2m."""
    for divisor, suffix in ((1e6, "m"), (1e3, "k")):
        if abs(value) >= divisor:
            return f"£{value / divisor:g}{suffix}"
    return f"£{value:,.0f}"


_money = FuncFormatter(_short_money)


def _png(figure: Figure) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _horizontal_bars(summary: pd.DataFrame) -> tuple[Figure, object, np.ndarray, list[str]]:
    figure = Figure(figsize=(7.5, 3.6))
    axes = figure.subplots()
    positions = np.arange(len(summary))[::-1]
    axes.set_yticks(positions, summary["label"])
    axes.spines[["top", "right"]].set_visible(False)
    return figure, axes, positions, [SEGMENT_COLOURS[name] for name in summary.index]


def segment_sizes(summary: pd.DataFrame) -> str:
    """Customers per segment, labelled with the count and the share."""
    figure, axes, positions, colours = _horizontal_bars(summary)
    bars = axes.barh(positions, summary["customers"], color=colours)
    axes.bar_label(bars, [f"{n:,} ({share:.0%})" for n, share in zip(summary["customers"], summary["share"])], padding=3)
    axes.set_xlabel("customers")
    axes.set_xlim(0, summary["customers"].max() * 1.25)
    return _png(figure)


def revenue_by_segment(summary: pd.DataFrame, horizon_days: int) -> str:
    """Spend of the last window beside the expected spend of the next one, per segment."""
    figure, axes, positions, colours = _horizontal_bars(summary)
    height = 0.4
    axes.barh(positions + height / 2, summary["revenue_last_window"], height, color=colours, alpha=0.45)
    axes.barh(positions - height / 2, summary["expected_value"], height, color=colours)
    axes.xaxis.set_major_formatter(_money)
    axes.legend(handles=[Patch(color="#57606a", alpha=0.45, label=f"last {horizon_days} days (actual)"),
                         Patch(color="#57606a", label=f"next {horizon_days} days (expected)")],
                loc="lower right", frameon=False)
    return _png(figure)


def revenue_to_date(summary: pd.DataFrame) -> str:
    """Revenue to date per segment, labelled with its share of all revenue."""
    figure, axes, positions, colours = _horizontal_bars(summary)
    bars = axes.barh(positions, summary["revenue"], color=colours)
    axes.bar_label(bars, [f"{share:.0%}" for share in summary["revenue_share"]], padding=3)
    axes.xaxis.set_major_formatter(_money)
    axes.set_xlim(0, summary["revenue"].max() * 1.15)
    return _png(figure)


def average_value(summary: pd.DataFrame, horizon_days: int) -> str:
    """Expected spend per customer in the next window, per segment."""
    figure, axes, positions, colours = _horizontal_bars(summary)
    bars = axes.barh(positions, summary["average_expected_value"], color=colours)
    axes.bar_label(bars, [f"£{value:,.0f}" for value in summary["average_expected_value"]], padding=3)
    axes.xaxis.set_major_formatter(_money)
    axes.set_xlabel(f"expected spend per customer, next {horizon_days} days")
    axes.set_xlim(0, summary["average_expected_value"].max() * 1.2)
    return _png(figure)


def churn_distribution(probabilities: pd.Series, bands: dict[str, tuple[float, float]]) -> str:
    """Histogram of churn probabilities, each bar coloured by its risk band."""
    figure = Figure(figsize=(7.5, 3.2))
    axes = figure.subplots()
    edges = np.linspace(0, 1, 21)
    counts, _ = np.histogram(probabilities.clip(0, 1), bins=edges)
    middles = (edges[:-1] + edges[1:]) / 2
    colours = [next(BAND_COLOURS[band] for band, (low, high) in bands.items() if low <= middle < high) for middle in middles]
    axes.bar(middles, counts, width=edges[1] - edges[0], color=colours, edgecolor="white")
    for band, (low, _high) in bands.items():
        if low > 0:
            axes.axvline(low, color=BAND_COLOURS[band], linestyle="--", linewidth=1)
    axes.xaxis.set_major_formatter(PercentFormatter(1.0))
    axes.set_xlabel("probability of churning")
    axes.set_ylabel("customers")
    axes.spines[["top", "right"]].set_visible(False)
    return _png(figure)
