"""The manager report: one self-contained HTML page on customer segments, their revenue, value and churn risk."""

from dataclasses import dataclass
from datetime import datetime, timezone
from html import escape
from pathlib import Path

import pandas as pd
from sqlalchemy.orm import Session

from app.ml.customer_scores import ScoringModels, data_date, load_scoring_models, score_customers, segment_summary
from app.ml.segments import SEGMENT_ADVICE, SEGMENT_RULES
from app.reports import charts
from app.reports.churn_scores import ChurnScores, churn_scores

ACTIVE_DAYS = 90
STYLE = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;color:#1f2328;max-width:1100px;margin:24px auto;
padding:0 24px;line-height:1.45}
h1{margin-bottom:0}.sub{color:#656d76;margin-top:4px}h2{border-bottom:1px solid #d0d7de;padding-bottom:4px;margin-top:32px}
table{border-collapse:collapse;margin:8px 0}td,th{padding:4px 12px;border-bottom:1px solid #eaeef2;text-align:left}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}.kpis td:first-child{color:#656d76}
.kpis td.n{font-weight:600}.note{color:#656d76;font-size:90%}.grid{display:grid;grid-template-columns:1fr 1fr;gap:16px}
figure{margin:0}figcaption{font-weight:600;margin-bottom:4px}img{max-width:100%}
.segments td:nth-child(2){white-space:nowrap}.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px}
"""


@dataclass(frozen=True)
class ReportData:
    as_of: datetime
    models: ScoringModels
    scored: pd.DataFrame
    summary: pd.DataFrame
    churn: ChurnScores


def gather(session: Session, models_dir: Path) -> ReportData:
    models = load_scoring_models(models_dir)
    as_of = data_date(session)
    scored = score_customers(session, models, as_of)
    return ReportData(as_of, models, scored, segment_summary(scored), churn_scores(session, models_dir))


def build_report(session: Session, models_dir: Path) -> str:
    return render(gather(session, models_dir))


def _money(value: float) -> str:
    return f"£{value:,.0f}"


def _key_numbers(data: ReportData) -> list[tuple[str, str]]:
    scored, summary, horizon = data.scored, data.summary, data.models.horizon_days
    buyers = int((scored["frequency"] > 0).sum())
    slipping = summary.loc[["at_risk", "cant_lose_them"]]
    value = data.models.value_card.metrics
    rows = [
        ("Customers", f"{len(scored):,}"),
        ("Customers who have ordered", f"{buyers:,} ({buyers / max(len(scored), 1):.0%})"),
        (f"Active: ordered in the last {ACTIVE_DAYS} days", f"{int((scored['recency_days'] < ACTIVE_DAYS).sum()):,}"),
        ("Revenue to date (returns excluded)", _money(summary["revenue"].sum())),
        (f"Revenue, last {horizon} days", _money(summary["revenue_last_window"].sum())),
        (f"Expected revenue, next {horizon} days", _money(summary["expected_value"].sum())),
        ("Champions' share of revenue to date", f"{summary.at['champions', 'revenue_share']:.0%}"),
        ("At risk and can't lose them: customers / revenue to date",
         f"{int(slipping['customers'].sum()):,} / {_money(slipping['revenue'].sum())}"),
    ]
    if data.churn.probabilities is not None:
        high = int((data.churn.bands == "high").sum())
        rows.append(("Customers at high churn risk", f"{high:,} ({high / max(len(data.churn.bands), 1):.0%})"))
    rows.append(("Value forecast error per customer (holdout), model vs naive",
                 f"{_money(value['holdout_mae'])} vs {_money(value['baseline_mae'])}"))
    return rows


def _table(header: list[str], rows: list[list[str]], numeric_from: int, css: str = "") -> str:
    def cells(tag: str, values: list[str]) -> str:
        return "".join(f"<{tag}{' class=n' if i >= numeric_from else ''}>{v}</{tag}>" for i, v in enumerate(values))
    body = "".join(f"<tr>{cells('td', row)}</tr>" for row in rows)
    return f"<table class='{css}'><tr>{cells('th', header)}</tr>{body}</table>"


def _rule_text(name: str) -> str:
    rule = next((rule for rule in SEGMENT_RULES if rule.name == name), None)
    if rule is None:
        return "no order yet"
    ranges = (("R", rule.r), ("F", rule.f), ("FM", rule.fm))
    return ", ".join(f"{score} {low}" if low == high else f"{score} {low}–{high}"
                     for score, (low, high) in ranges if (low, high) != (1, 5))


def _segment_table(summary: pd.DataFrame, horizon: int) -> str:
    rows = [[f"<span class=swatch style='background:{charts.SEGMENT_COLOURS[name]}'></span>{escape(row['label'])}",
             escape(_rule_text(name)), escape(SEGMENT_ADVICE[name]), f"{int(row['customers']):,}", f"{row['share']:.0%}",
             _money(row["revenue"]), _money(row["revenue_last_window"]), _money(row["expected_value"]),
             _money(row["average_expected_value"])]
            for name, row in summary.iterrows()]
    header = ["Segment", "Rule", "What to do", "Customers", "Share", "Revenue to date", f"Revenue last {horizon} d",
              f"Expected next {horizon} d", "Expected per customer"]
    return _table(header, rows, numeric_from=3, css="segments")


def _figure(caption: str, png: str) -> str:
    return f"<figure><figcaption>{escape(caption)}</figcaption><img alt='{escape(caption)}' src='data:image/png;base64,{png}'></figure>"


def _churn_section(data: ReportData) -> str:
    churn = data.churn
    if churn.probabilities is None:
        return f"<h2>Churn risk</h2><p class=note>Churn scores are not available: {escape(churn.unavailable_reason)}.</p>"
    bands = list(churn.band_limits)
    by_segment = pd.crosstab(data.scored["segment"].reindex(churn.bands.index), churn.bands, normalize="index")
    by_segment = by_segment.reindex(columns=bands, fill_value=0.0)
    rows = [[escape(data.summary.at[name, "label"]), *(f"{by_segment.at[name, band]:.0%}" for band in bands)]
            for name in data.summary.index if name in by_segment.index]
    counts = churn.bands.value_counts()
    legend = ", ".join(f"{band} ({low:.0%}–{min(high, 1):.0%}): {int(counts.get(band, 0)):,}"
                       for band, (low, high) in churn.band_limits.items())
    horizon = f"the next {churn.horizon_days} days" if churn.horizon_days else "the churn model's horizon"
    text = (f"Probability of placing no order in {horizon}, for the {len(churn.bands):,} customers who have ordered and "
            f"whose account is open. Risk bands: {legend} customers. Churn model version {churn.version}.")
    chart = _figure("Customers by probability of churning", charts.churn_distribution(churn.probabilities, churn.band_limits))
    table = _table(["Segment", *(f"{band} risk" for band in bands)], rows, numeric_from=1)
    return f"<h2>Churn risk</h2><div class=grid>{chart}<div><p>{escape(text)}</p>{table}</div></div>"


def render(data: ReportData) -> str:
    summary, horizon = data.summary, data.models.horizon_days
    checks, value = data.models.segments_card.metrics, data.models.value_card.metrics
    generated = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    key_rows = [[escape(label), escape(number)] for label, number in _key_numbers(data)]
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Customer report, data as of {data.as_of:%Y-%m-%d}</title>
<style>{STYLE}</style></head><body>
<h1>Customers: segments, value and risk</h1>
<p class=sub>Data as of <b>{data.as_of:%Y-%m-%d %H:%M} UTC</b> &middot; generated {generated} &middot;
models: {escape(', '.join(f'{name} {version}' for name, version in data.models.versions.items()))}</p>
<h2>Key numbers</h2>
{_table(['', ''], key_rows, numeric_from=1, css='kpis')}
<h2>Segments</h2>
<div class=grid>
{_figure('Customers per segment', charts.segment_sizes(summary))}
{_figure('Revenue to date per segment (share of all revenue)', charts.revenue_to_date(summary))}
</div>
{_segment_table(summary, horizon)}
<h2>Expected value</h2>
<div class=grid>
{_figure(f'Revenue per segment: last {horizon} days and expected next {horizon} days', charts.revenue_by_segment(summary, horizon))}
{_figure(f'Expected spend per customer, next {horizon} days', charts.average_value(summary, horizon))}
</div>
{_churn_section(data)}
<h2>How these numbers are made</h2>
<p class=note>Each customer who has ordered gets a score from 1 to 5 for recency (R), frequency (F) and money spent (M):
the fifths of this shop's customers. FM is the mean of F and M, rounded down; the first rule in the table above that
matches names the segment. As a check, k-means on the same data finds its clearest grouping with
{checks['kmeans_best_k']:.0f} clusters (silhouette {checks['silhouette_kmeans_best_k']:.2f}); the rule segments score
{checks['silhouette_rules']:.2f}, k-means with as many clusters {checks['silhouette_kmeans_same_k']:.2f}: the segments are
slices of a continuum chosen to be easy to act on, not natural clusters.
Expected value is a Poisson regression on the customer's history, trained on the last two {horizon}-day windows; on the
latest window it missed by {_money(value['holdout_mae'])} per customer on average, against {_money(value['baseline_mae'])}
for "the next {horizon} days repeat the last {horizon}" ({value['mae_gain_vs_baseline']:.0%} better), and its total came to
{value['predicted_to_actual_total']:.0%} of the actual revenue. Details: docs/segments.md.</p>
</body></html>
"""
