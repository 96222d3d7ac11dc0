"""RFM segments, customer value, their API and the manager report, on a demo shop with a fixed anchor (SQLite)."""

import base64
import re
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.cli import main as crm
from app.core.config import Settings
from app.core.db import make_engine, make_session_factory
from app.core.security import issue_customer_token
from app.data.demo import seed_demo_data
from app.main import create_app
from app.ml.churn import HIGH_RISK, LOW_RISK
from app.ml.customer_scores import data_date, load_scoring_models, score_customers
from app.ml.segments import PROSPECT, SEGMENT_ORDER, RFMScorer, assign_segments
from app.models import Customer
from app.reports.churn_scores import ChurnScores
from app.reports.manager import build_report
from conftest import agent_headers, migrate

ANCHOR = datetime(2026, 6, 1, tzinfo=timezone.utc)
CUSTOMERS, PRODUCTS = 600, 120


# --- the rule table, on hand-made customers ---------------------------------------------------


def _frame(rows: dict[str, tuple[float | None, int, float]]) -> pd.DataFrame:
    return pd.DataFrame.from_dict(rows, orient="index", columns=["recency_days", "frequency", "monetary"])


def test_quintile_scores_split_buyers_into_fifths_and_leave_non_buyers_unscored() -> None:
    buyers = {f"c{i}": (float(i), i, 10.0 * i) for i in range(1, 101)}
    features = _frame(buyers | {"never": (None, 0, 0.0)})
    scored = assign_segments(features, RFMScorer().fit(features))
    for column in ("r_score", "f_score", "m_score"):
        assert scored[column].value_counts().to_dict() == {1: 20, 2: 20, 3: 20, 4: 20, 5: 20}
    assert scored.loc["c1", ["r_score", "f_score", "m_score"]].tolist() == [5, 1, 1]  # most recent, fewest orders
    assert scored.loc["c100", ["r_score", "f_score", "m_score"]].tolist() == [1, 5, 5]
    assert scored.loc["never"].isna()[["r_score", "f_score", "m_score"]].all()
    assert scored.at["never", "segment"] == PROSPECT


def test_the_rule_table_names_hand_made_customers() -> None:
    scorer = RFMScorer()
    # Cut points: R 5 up to 10 days ago ... R 1 over 200; F 1 for one order ... F 5 over 8; M 1 up to £100 ... M 5 over £800.
    scorer.edges_ = {"recency_days": [10.0, 30.0, 90.0, 200.0], "frequency": [1.0, 2.0, 4.0, 8.0],
                     "monetary": [100.0, 200.0, 400.0, 800.0]}
    cases = {  # customer: ((recency, frequency, monetary), expected segment)
        "best customer": ((5, 12, 1500.0), "champions"),  # R5 F5 M5
        "first order this week": ((3, 1, 60.0), "new"),  # R5 F1 M1
        "big first order": ((20, 1, 900.0), "new"),  # R4 F1 M5: still new
        "steady buyer": ((60, 6, 500.0), "loyal"),  # R3 F4 M4
        "recent second order": ((25, 2, 150.0), "potential_loyalists"),  # R4 F2 M2
        "good customer gone quiet": ((150, 5, 450.0), "at_risk"),  # R2 F4 M4
        "best customer long gone": ((300, 9, 1200.0), "cant_lose_them"),  # R1 F5 M5
        "fair customer long gone": ((400, 3, 300.0), "at_risk"),  # R1 F3 M3
        "small buyer gone quiet": ((120, 2, 150.0), "hibernating"),  # R2 F2 M2
        "one small order long ago": ((365, 1, 40.0), "lost"),  # R1 F1 M1
        "signed up, never ordered": ((None, 0, 0.0), PROSPECT),
    }
    segments = assign_segments(_frame({name: values for name, (values, _) in cases.items()}), scorer)["segment"]
    assert segments.to_dict() == {name: expected for name, (_, expected) in cases.items()}


# --- on the demo shop -------------------------------------------------------------------------


@dataclass
class Trained:
    url: str
    models_dir: Path
    prospect_id: int
    jane_id: int  # demo personas: Jane orders regularly, Sam drifted away
    sam_id: int
    train_output: str

    def settings(self, models_dir: Path | None = None) -> Settings:
        return Settings(database_url=self.url, token_secret=secrets.token_urlsafe(32),
                        actions_api_key=secrets.token_urlsafe(32),
                        outbox_dir=self.models_dir.parent / "outbox", models_dir=models_dir or self.models_dir)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    """A demo shop, a customer who signed up and never ordered, and both models trained by ``crm train-segments``."""
    folder = tmp_path_factory.mktemp("segments")
    url = f"sqlite:///{folder / 'crm.sqlite3'}"
    migrate(url)
    engine = make_engine(url)
    seed_demo_data(engine, customers=CUSTOMERS, products=PRODUCTS, anchor=ANCHOR)
    with make_session_factory(engine)() as session:
        prospect = Customer(name="Nora Window", email="nora@example.com", country="United Kingdom",
                            created_at=ANCHOR - timedelta(days=30))
        session.add(prospect)
        session.commit()
        prospect_id = prospect.id
        jane_id, sam_id = (session.scalar(select(Customer.id).where(Customer.email == email))
                           for email in ("jane.doe@example.com", "sam.patel@example.com"))
    engine.dispose()
    capture = folder / "train.txt"
    with capture.open("w") as out, pytest.MonkeyPatch.context() as patch:
        patch.setattr("sys.stdout", out)
        assert crm(["--database-url", url, "train-segments", "--models-dir", str(folder / "models")]) == 0
    return Trained(url, folder / "models", prospect_id, jane_id, sam_id, capture.read_text())


@pytest.fixture(scope="module")
def scored(trained: Trained) -> pd.DataFrame:
    engine = make_engine(trained.url)
    with make_session_factory(engine)() as session:
        as_of = data_date(session)
        assert as_of == ANCHOR  # the midnight after the demo's last order, whatever the day the tests run
        frame = score_customers(session, load_scoring_models(trained.models_dir), as_of)
    engine.dispose()
    return frame


def test_segments_on_the_demo_shop_separate_value(scored: pd.DataFrame) -> None:
    counts = scored["segment"].value_counts()
    assert {"champions", "loyal", "potential_loyalists", "new", "at_risk", "hibernating", "lost", PROSPECT} <= set(counts.index)
    assert counts.max() < 0.3 * len(scored)  # no segment swallows the shop
    median = scored.groupby("segment")[["monetary", "expected_value", "recency_days"]].median()
    assert median.at["champions", "monetary"] > 4 * median.at["hibernating", "monetary"]
    assert median.at["champions", "expected_value"] > 2 * median.at["hibernating", "expected_value"]
    assert median.at["champions", "recency_days"] < median.at["at_risk", "recency_days"]


def test_the_value_model_beats_the_naive_baseline_on_the_holdout(trained: Trained) -> None:
    value = load_scoring_models(trained.models_dir).value_card
    metrics = value.metrics
    assert metrics["holdout_mae"] < 0.9 * metrics["baseline_mae"], metrics
    assert 0.8 < metrics["predicted_to_actual_total"] < 1.25, metrics
    assert value.details["horizon_days"] == 180 and value.details["holdout_rows"] > 300
    assert "customer_value" in trained.train_output and "holdout_mae=" in trained.train_output


def test_the_segments_card_holds_the_cut_points_and_the_kmeans_check(trained: Trained) -> None:
    card = load_scoring_models(trained.models_dir).segments_card
    assert card.metrics["rule_segments"] == 8
    for name in ("silhouette_rules", "silhouette_kmeans_same_k", "silhouette_kmeans_best_k"):
        assert -1 <= card.metrics[name] <= 1
    assert 2 <= card.metrics["kmeans_best_k"] <= 8
    assert set(card.details["cut_points"]) == {"recency_days", "frequency", "monetary"}
    assert card.details["as_of"] == ANCHOR.isoformat()


# --- the API ----------------------------------------------------------------------------------


@dataclass
class Api:
    client: TestClient
    settings: Settings
    agent: dict[str, str]

    @property
    def actions(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.settings.actions_api_key.get_secret_value()}"}

    def as_customer(self, customer_id: int) -> dict[str, str]:
        token = issue_customer_token(self.settings.token_secret.get_secret_value(), customer_id, "conv-1", 600)[0]
        return self.actions | {"X-Customer-Token": token}


def _api(settings: Settings) -> Iterator[Api]:
    app = create_app(settings)
    with TestClient(app) as client:
        yield Api(client, settings, agent_headers(app))
    app.state.engine.dispose()


@pytest.fixture
def api(trained: Trained) -> Iterator[Api]:
    yield from _api(trained.settings())


def test_a_verified_customer_sees_their_own_segment_only(api: Api, trained: Trained, scored: pd.DataFrame) -> None:
    jane = trained.jane_id
    own = api.client.get(f"/api/v1/customers/{jane}/segment", headers=api.as_customer(jane))
    assert own.status_code == 200, own.text
    body = own.json()
    assert body["segment"] == scored.at[jane, "segment"] and body["segment"] in ("champions", "loyal")
    assert body["r_score"] == 5 and body["frequency"] == scored.at[jane, "frequency"]
    assert body["expected_value"] == pytest.approx(scored.at[jane, "expected_value"], abs=0.01)
    assert body["as_of"].startswith("2026-06-01") and body["horizon_days"] == 180
    other = api.client.get(f"/api/v1/customers/{trained.sam_id}/segment", headers=api.as_customer(jane))
    assert other.status_code == 403 and other.json()["error"]["code"] == "wrong_customer"
    unverified = api.client.get(f"/api/v1/customers/{jane}/segment", headers=api.actions)
    assert unverified.status_code == 401


def test_a_customer_who_drifted_away_is_no_longer_active(api: Api, trained: Trained) -> None:
    body = api.client.get(f"/api/v1/customers/{trained.sam_id}/segment", headers=api.agent).json()
    assert body["segment"] in ("at_risk", "cant_lose_them", "hibernating", "lost"), body
    assert body["r_score"] <= 2


def test_a_customer_who_never_ordered_is_a_prospect(api: Api, trained: Trained) -> None:
    response = api.client.get(f"/api/v1/customers/{trained.prospect_id}/segment", headers=api.agent)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["segment"] == PROSPECT and body["frequency"] == 0 and body["monetary"] == 0
    assert body["r_score"] is body["f_score"] is body["m_score"] is body["recency_days"] is None
    assert body["expected_value"] >= 0


def test_an_unknown_customer_is_404(api: Api) -> None:
    response = api.client.get("/api/v1/customers/999999/segment", headers=api.agent)
    assert response.status_code == 404 and response.json()["error"]["code"] == "customer_not_found"


def test_agents_get_the_segment_overview_and_the_bot_does_not(api: Api, trained: Trained, scored: pd.DataFrame) -> None:
    response = api.client.get("/api/v1/segments", headers=api.agent)
    assert response.status_code == 200, response.text
    body = response.json()
    rows = {row["segment"]: row for row in body["segments"]}
    assert list(rows) == list(SEGMENT_ORDER)
    assert body["customers"] == len(scored) == sum(row["customers"] for row in rows.values())
    assert sum(row["share"] for row in rows.values()) == pytest.approx(1, abs=0.01)
    assert sum(row["revenue"] for row in rows.values()) == pytest.approx(scored["monetary"].sum(), rel=1e-6)
    assert rows["champions"]["average_expected_value"] > rows["hibernating"]["average_expected_value"]
    assert rows[PROSPECT]["revenue"] == 0
    bot = api.client.get("/api/v1/segments", headers=api.as_customer(trained.jane_id))
    assert bot.status_code == 403


def _corrupt_copy(models_dir: Path, target: Path) -> Path:
    """The trained models under a new version name whose segment model file is cut short."""
    for name in ("segments", "customer_value"):
        current = (models_dir / name / "CURRENT").read_text().strip()
        shutil.copytree(models_dir / name / current, target / name / "29990101T000000000000Z")
        (target / name / "CURRENT").write_text("29990101T000000000000Z")
    model_file = target / "segments" / "29990101T000000000000Z" / "model.skops"
    model_file.write_bytes(model_file.read_bytes()[:200])
    return target


@pytest.mark.parametrize("broken", ["missing", "corrupt"])
def test_without_a_usable_model_both_endpoints_answer_503(trained: Trained, tmp_path: Path, broken: str) -> None:
    models_dir = tmp_path / "empty" if broken == "missing" else _corrupt_copy(trained.models_dir, tmp_path / "corrupt")
    for api in _api(trained.settings(models_dir)):
        for path in ("/api/v1/customers/1/segment", "/api/v1/segments"):
            response = api.client.get(path, headers=api.agent)
            assert response.status_code == 503, (path, response.text)
            assert response.json()["error"]["code"] == "model_unavailable"


# --- the manager report -----------------------------------------------------------------------


def test_the_report_is_one_self_contained_html_page(trained: Trained, tmp_path: Path) -> None:
    out = tmp_path / "reports" / "crm-report.html"
    assert crm(["--database-url", trained.url, "report", "--models-dir", str(trained.models_dir), "--out", str(out)]) == 0
    page = out.read_text()
    for section in ("Key numbers", "Segments", "Expected value", "Churn risk", "How these numbers are made"):
        assert f"<h2>{section}</h2>" in page
    assert "Data as of <b>2026-06-01" in page
    churn = page[page.index("<h2>Churn risk</h2>"):page.index("<h2>How these numbers are made</h2>")]
    assert "Churn scores are not available: no churn model has been trained yet" in churn  # none in this models dir
    for label in ("Champions", "At risk", "Hibernating", "Can&#x27;t lose them"):
        assert label in page
    images = re.findall(r"src='data:image/png;base64,([A-Za-z0-9+/=]+)'", page)
    assert len(images) >= 4 and all(base64.b64decode(image)[:8] == b"\x89PNG\r\n\x1a\n" for image in images)
    assert not re.search(r"(src|href)=['\"]?(https?:)?//", page)  # nothing fetched from elsewhere


def test_the_report_shows_churn_risk_when_churn_scores_are_available(trained: Trained, scored: pd.DataFrame,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    probabilities = pd.Series([(i % 10) / 10 + 0.05 for i in range(len(scored))], index=scored.index)
    bands = pd.cut(probabilities, [0, LOW_RISK, HIGH_RISK, 1], labels=["low", "medium", "high"], right=False).astype(str)
    monkeypatch.setattr("app.reports.manager.churn_scores",
                        lambda *_args: ChurnScores(probabilities, bands, version="test-version"))
    engine = make_engine(trained.url)
    with make_session_factory(engine)() as session:
        page = build_report(session, trained.models_dir)
    engine.dispose()
    churn = page[page.index("<h2>Churn risk</h2>"):page.index("<h2>How these numbers are made</h2>")]
    assert "data:image/png;base64," in churn and "test-version" in churn and "high risk" in churn
    assert "Customers at high churn risk" in page and "not available" not in page


def test_the_report_command_explains_a_missing_model(trained: Trained, tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="train-segments"):
        crm(["--database-url", trained.url, "report", "--models-dir", str(tmp_path / "none"), "--out", str(tmp_path / "r.html")])
