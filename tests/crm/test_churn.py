"""Churn risk: features, the model on the demo shop, reasons, the API, the training command, the Telco smoke test."""

import contextlib
import io
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from app.cli import main as crm
from app.core.config import Settings
from app.core.db import make_engine
from app.core.security import issue_customer_token
from app.data.demo import seed_demo_data
from app.main import create_app
from app.ml.churn import HIGH_RISK, one_thread, risk_band
from app.ml.churn_reasons import FEATURE_GROUPS, NOTHING_STANDS_OUT, reasons
from app.ml.churn_training import NotEnoughData, held_out_predictions, training_set
from app.ml.features import customer_features
from app.ml.store import ModelCard, load_model
from app.ml.telco import TELCO_CSV, load_telco, telco_churn_model
from app.models import Customer, HandoffTicket, Interaction, Order, OrderStatus, SentimentLabel, TicketStatus
from conftest import agent_headers, migrate
from factories import NOW, add_customer, add_order, add_product

ANCHOR = datetime(2026, 6, 1, tzinfo=timezone.utc)
JANE, SAM = 1, 2  # demo personas: a loyal customer and one who drifted away 100 days before the anchor


@dataclass
class Demo:
    url: str
    models_dir: Path
    card: ModelCard
    train_output: str


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    """1,500 demo customers, and a churn model trained on them by the ``crm train-churn`` command."""
    folder = tmp_path_factory.mktemp("churn")
    url = f"sqlite:///{folder / 'crm.sqlite3'}"
    migrate(url)
    engine = make_engine(url)
    seed_demo_data(engine, customers=1500, products=200, anchor=ANCHOR)
    engine.dispose()
    output = io.StringIO()
    with contextlib.redirect_stdout(output):
        assert crm(["--database-url", url, "train-churn", "--models-dir", str(folder / "models")]) == 0
    return Demo(url, folder / "models", load_model(folder / "models", "churn")[1], output.getvalue())


@pytest.fixture
def demo_session(demo: Demo) -> Iterator[Session]:
    engine = make_engine(demo.url)
    with Session(engine) as session:
        yield session
    engine.dispose()


# --- features ---------------------------------------------------------------------------------


def _message(session: Session, customer: Customer, days_ago: float, intent: str, sentiment: SentimentLabel,
             score: float, conversation: str = "c0") -> None:
    session.add(Interaction(conversation_id=conversation, customer_id=customer.id, channel="web", text=intent,
                            intent=intent, sentiment=sentiment, sentiment_score=score,
                            created_at=NOW - timedelta(days=days_ago)))


def _ticket(session: Session, customer: Customer, conversation: str, reason: str, days_ago: float,
            resolved_days_ago: float | None) -> None:
    created_at = NOW - timedelta(days=days_ago)
    session.add(HandoffTicket(
        conversation_id=conversation, customer_id=customer.id, reason=reason, created_at=created_at, queue_at=created_at,
        status=TicketStatus.waiting if resolved_days_ago is None else TicketStatus.resolved,
        resolved_at=None if resolved_days_ago is None else NOW - timedelta(days=resolved_days_ago)))


def _finish(session: Session, order: Order, status: OrderStatus, days_ago: float) -> None:
    """Cancel or return an order at a given time."""
    order.status = status
    setattr(order, f"{status.value}_at", NOW - timedelta(days=days_ago))
    session.commit()


def test_features_of_a_hand_checked_customer(db_session: Session) -> None:
    """As of ten days ago: later orders, messages, returns and resolutions do not count yet."""
    ann = add_customer(db_session, name="Ann Lee", email="ann@example.com", postcode="E1 6AN")  # signed up 400 days ago
    nobody = add_customer(db_session, name="No Orders", email="none@example.com", postcode="E1 6AN")
    kettle = add_product(db_session, sku="KT-01", name="Kettle", price="39.90")
    beans = add_product(db_session, sku="CF-01", name="Beans", price="18.50")
    for days_ago, lines in ((130, [(kettle, 1)]), (40, [(kettle, 1)]), (3, [(beans, 1)])):
        add_order(db_session, customer=ann, number=f"SO-{days_ago}", status=OrderStatus.delivered, days_ago=days_ago,
                  lines=lines)
    returned = add_order(db_session, customer=ann, number="SO-80", status=OrderStatus.delivered, days_ago=80,
                         lines=[(beans, 1)])
    _finish(db_session, returned, OrderStatus.returned, days_ago=75)
    returned_later = add_order(db_session, customer=ann, number="SO-20", status=OrderStatus.delivered, days_ago=20,
                               lines=[(beans, 2)])
    _finish(db_session, returned_later, OrderStatus.returned, days_ago=5)
    cancelled = add_order(db_session, customer=ann, number="SO-25", status=OrderStatus.paid, days_ago=25,
                          lines=[(kettle, 3)])
    _finish(db_session, cancelled, OrderStatus.cancelled, days_ago=24)
    negative, neutral, positive = SentimentLabel.negative, SentimentLabel.neutral, SentimentLabel.positive
    _message(db_session, ann, 120, "thank", positive, 0.8)
    _message(db_session, ann, 76, "request_refund", negative, 0.7)
    _message(db_session, ann, 50, "faq", neutral, 0.8)
    _message(db_session, ann, 15, "complain", negative, 0.9, conversation="c1")
    _message(db_session, ann, 2, "complain", negative, 0.9, conversation="c5")
    _ticket(db_session, ann, "c1", "complaint", days_ago=15, resolved_days_ago=14)  # the same complaint
    _ticket(db_session, ann, "c2", "complaint", days_ago=200, resolved_days_ago=199)
    _ticket(db_session, ann, "c3", "customer_request", days_ago=12, resolved_days_ago=5)  # open ten days ago
    _ticket(db_session, ann, "c4", "customer_request", days_ago=3, resolved_days_ago=None)
    db_session.commit()

    features = customer_features(db_session, NOW - timedelta(days=10))
    # Orders counted: 120, 70 (returned), 30 and 10 days before as_of; the last one's return came after as_of.
    expected = {
        "tenure_days": 390, "account_closed": False, "frequency": 4, "recency_days": 10,
        "monetary": 39.90 + 39.90 + 37.00, "mean_gap_days": 110 / 3, "last_gap_days": 20,
        "overdue_ratio": 10 / (110 / 3), "orders_90d": 3,
        "spend_90d": 76.90, "spend_prev_90d": 39.90, "spend_trend": 37.00 / 116.80, "return_count": 1,
        "return_rate": 0.25, "complaints_30d": 1, "complaints_total": 2, "contacts_90d": 3, "recent_messages": 4,
        "negative_recent": 2, "negative_share": 0.5, "sentiment_recent": (0.8 - 0.7 - 0.9) / 4, "open_tickets": 1,
    }
    assert features.loc[ann.id].to_dict() == pytest.approx(expected, abs=1e-6)
    no_orders = features.loc[nobody.id]
    assert no_orders["frequency"] == 0 and no_orders["monetary"] == 0 and np.isnan(no_orders["recency_days"])
    assert customer_features(db_session, NOW - timedelta(days=10), [ann.id]).equals(features.loc[[ann.id]])


def test_features_of_demo_personas(demo_session: Session) -> None:
    features = customer_features(demo_session, ANCHOR, [JANE, SAM])
    jane, sam = features.loc[JANE], features.loc[SAM]
    assert (jane["frequency"], jane["recency_days"], jane["orders_90d"]) == (8, pytest.approx(0.3), 4)
    assert jane["mean_gap_days"] == pytest.approx((420 - 0.3) / 7)
    assert (sam["frequency"], sam["recency_days"], sam["last_gap_days"], sam["return_count"]) == (6, 130, 90, 2)
    assert sam["mean_gap_days"] == pytest.approx(68) and sam["orders_90d"] == 0


def test_features_are_the_same_on_sqlite_and_postgresql(sqlite_url: str, postgres_url: str) -> None:
    frames = []
    for url in (sqlite_url, postgres_url):
        engine = make_engine(url)
        seed_demo_data(engine, customers=150, products=60, anchor=ANCHOR)
        with Session(engine) as session:
            frames.append(customer_features(session, ANCHOR - timedelta(days=45)))
        engine.dispose()
    pd.testing.assert_frame_equal(frames[0], frames[1])


# --- the model on the demo shop ---------------------------------------------------------------


def test_training_command_prints_and_saves_held_out_metrics(demo: Demo) -> None:
    assert demo.card.metrics["roc_auc"] >= 0.80 and demo.card.training_rows > 1000
    assert demo.card.details["horizon_days"] == 90 and demo.card.details["scored_as_of"].startswith("2026-06-01")
    assert f"held-out ROC-AUC {demo.card.metrics['roc_auc']:.3f}" in demo.train_output
    assert demo.card.version in demo.train_output


def test_held_out_customers_are_ranked_and_calibrated(demo_session: Session) -> None:
    data = training_set(demo_session)
    assert data.cutoff < ANCHOR - timedelta(days=89) and 0.2 < data.labels.mean() < 0.5
    with one_thread():
        labels, probabilities = held_out_predictions(data, random_state=1)
    assert roc_auc_score(labels, probabilities) >= 0.80
    assert abs(probabilities.mean() - labels.mean()) < 0.05
    bins = pd.qcut(probabilities, 5, labels=False)
    observed = labels.groupby(bins).mean().to_numpy()
    predicted = pd.Series(probabilities).groupby(bins).mean().to_numpy()
    assert np.abs(observed - predicted).max() < 0.15, (observed, predicted)
    base_rate = labels.mean()
    assert np.mean((probabilities - labels) ** 2) < 0.6 * base_rate * (1 - base_rate)


def test_not_enough_data_is_said_plainly(db_session: Session) -> None:
    with pytest.raises(NotEnoughData, match="no orders"):
        training_set(db_session)


def test_risk_bands() -> None:
    bands = [risk_band(p) for p in (0.0, 0.29, 0.3, 0.59, 0.6, 1.0)]
    assert bands == ["low", "low", "medium", "medium", "high", "high"]


def test_reasons_come_from_the_customers_numbers_strongest_first() -> None:
    row = {"recency_days": 94.0, "mean_gap_days": 20.0, "complaints_30d": 2.0, "complaints_total": 3.0,
           "negative_recent": 3.0, "recent_messages": 5.0, "open_tickets": 0.0}
    typical: dict[str, float] = {}
    effects = {"recency": 0.2, "complaints": 0.3, "messages": 0.05, "rhythm": 0.01, "tickets": 0.1}
    assert reasons(row, effects, typical) == [
        "2 complaints in the last 30 days (3 in all)",
        "no order for 94 days, down from every 20 days",
        "3 of the last 5 messages were negative",  # tickets raise the risk more, but there is no open ticket to name
    ]
    assert reasons(row, {"rhythm": -0.2, "recency": 0.01}, typical) == [NOTHING_STANDS_OUT]


def test_contributions_add_up_to_the_probability(demo: Demo, demo_session: Session) -> None:
    model = load_model(demo.models_dir, "churn")[0].model
    features = customer_features(demo_session, ANCHOR, [JANE, SAM])
    with one_thread():
        probabilities, effects = model.explain(features, FEATURE_GROUPS)
        typical = model.predict_proba(pd.DataFrame([model.reference_]))[0, 1]
        assert probabilities == pytest.approx(model.predict_proba(features)[:, 1])
    assert list(effects.columns) == list(FEATURE_GROUPS)
    assert effects.sum(axis=1).to_numpy() + typical == pytest.approx(probabilities)
    assert effects.loc[SAM, "recency"] > 0.05 > effects.loc[JANE, "recency"]


# --- the API ----------------------------------------------------------------------------------


def _client(demo: Demo, models_dir: Path | None = None) -> tuple[TestClient, Settings]:
    settings = Settings(database_url=demo.url, token_secret=secrets.token_urlsafe(32),
                        actions_api_key=secrets.token_urlsafe(32),
                        models_dir=models_dir or demo.models_dir)
    return TestClient(create_app(settings)), settings


@pytest.fixture
def api(demo: Demo) -> Iterator[tuple[TestClient, Settings]]:
    client, settings = _client(demo)
    with client:
        yield client, settings


def _agent(client: TestClient) -> dict[str, str]:
    return agent_headers(client.app)  # type: ignore[arg-type]


def _bot(settings: Settings, customer_id: int | None = None) -> dict[str, str]:
    headers = {"Authorization": f"Bearer {settings.actions_api_key.get_secret_value()}"}
    if customer_id is not None:
        secret = settings.token_secret.get_secret_value()
        headers["X-Customer-Token"] = issue_customer_token(secret, customer_id, "conv-1", 600)[0]
    return headers


def test_risk_of_a_drifting_and_a_loyal_customer(api: tuple[TestClient, Settings], demo: Demo) -> None:
    client, _ = api
    sam = client.get(f"/api/v1/customers/{SAM}/churn-risk", headers=_agent(client))
    assert sam.status_code == 200, sam.text
    body = sam.json()
    assert body["band"] == "high" and body["probability"] >= HIGH_RISK and body["model_version"] == demo.card.version
    assert body["as_of"].startswith("2026-06-01")
    assert "no order for 130 days, down from every 68 days" in body["reasons"]
    assert "5 of the last 5 messages were negative" in body["reasons"]
    jane = client.get(f"/api/v1/customers/{JANE}/churn-risk", headers=_agent(client)).json()
    assert jane["band"] == "low" and jane["probability"] < 0.3


def test_the_bot_sees_only_the_verified_customer(api: tuple[TestClient, Settings]) -> None:
    client, settings = api
    own = client.get(f"/api/v1/customers/{SAM}/churn-risk", headers=_bot(settings, SAM))
    assert own.status_code == 200 and own.json()["band"] == "high"
    other = client.get(f"/api/v1/customers/{SAM}/churn-risk", headers=_bot(settings, JANE))
    assert other.status_code == 403 and other.json()["error"]["code"] == "wrong_customer"
    assert client.get(f"/api/v1/customers/{SAM}/churn-risk", headers=_bot(settings)).status_code == 401


def test_customers_without_orders_closed_accounts_and_unknown_customers(api: tuple[TestClient, Settings],
                                                        demo_session: Session) -> None:
    client, _ = api
    no_orders = demo_session.scalar(select(Customer.id).where(~Customer.orders.any(), Customer.closed_at.is_(None)))
    body = client.get(f"/api/v1/customers/{no_orders}/churn-risk", headers=_agent(client)).json()
    assert body["probability"] is None and body["band"] == "not_scored" and "no orders yet" in body["reasons"][0]
    closed = demo_session.scalar(select(Customer.id).where(Customer.closed_at.is_not(None)))
    body = client.get(f"/api/v1/customers/{closed}/churn-risk", headers=_agent(client)).json()
    assert body["band"] == "not_scored" and body["reasons"][0].startswith("account closed on 20")
    missing = client.get("/api/v1/customers/999999/churn-risk", headers=_agent(client))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "customer_not_found"


def test_high_risk_list_is_sorted_and_for_agents_only(api: tuple[TestClient, Settings], demo: Demo) -> None:
    client, settings = api
    response = client.get("/api/v1/churn/high-risk?limit=25", headers=_agent(client))
    assert response.status_code == 200, response.text
    body = response.json()
    probabilities = [row["probability"] for row in body["customers"]]
    assert len(probabilities) == 25 and probabilities == sorted(probabilities, reverse=True)
    assert min(probabilities) >= HIGH_RISK and body["model_version"] == demo.card.version
    assert client.get("/api/v1/churn/high-risk", headers=_bot(settings, SAM)).status_code == 403
    assert client.get("/api/v1/churn/high-risk?limit=0", headers=_agent(client)).status_code == 422


def test_missing_or_corrupt_model_gives_503(demo: Demo, tmp_path: Path) -> None:
    """No model yet, a truncated file, a file that is not a model (each a new version, as a retraining would make)."""
    trained = demo.models_dir / "churn" / demo.card.version
    corrupt_dirs = []
    for number, content in enumerate((b"not a model", (trained / "model.skops").read_bytes()[:5000])):
        version = f"20990101T00000000000{number}Z"
        shutil.copytree(trained, tmp_path / f"corrupt{number}" / "churn" / version)
        (tmp_path / f"corrupt{number}" / "churn" / version / "model.skops").write_bytes(content)
        (tmp_path / f"corrupt{number}" / "churn" / "CURRENT").write_text(version)
        corrupt_dirs.append(tmp_path / f"corrupt{number}")
    for models_dir in (tmp_path / "empty", *corrupt_dirs):
        client, _ = _client(demo, models_dir)
        with client:
            for path in (f"/api/v1/customers/{SAM}/churn-risk", "/api/v1/churn/high-risk"):
                response = client.get(path, headers=_agent(client))
                assert response.status_code == 503, (models_dir, path)
                assert response.json()["error"]["code"] == "model_unavailable"


def test_a_handoff_carries_the_churn_risk_and_a_customer_at_risk_goes_first(api: tuple[TestClient, Settings],
                                                                           demo: Demo, demo_session: Session) -> None:
    client, settings = api
    requests = [("plain", None), ("sam", SAM), ("jane", JANE)]
    try:
        ids = {name: client.post("/api/v1/handoffs", headers=_bot(settings, customer),
                                 json={"conversation_id": f"churn-{name}", "reason": "customer_request"}).json()["id"]
               for name, customer in requests}
        sam = client.get(f"/api/v1/handoffs/{ids['sam']}", headers=_agent(client)).json()
        churn = sam["context"]["churn"]
        assert churn["band"] == "high" and churn["model_version"] == demo.card.version
        assert "no order for 130 days, down from every 68 days" in churn["reasons"]
        assert sam["priority"] == 3.0  # a plain request (1) from a customer at high risk (+2)
        jane = client.get(f"/api/v1/handoffs/{ids['jane']}", headers=_agent(client)).json()
        assert jane["context"]["churn"]["band"] == "low" and jane["priority"] == 1.0
        queue = client.get("/api/v1/handoffs", headers=_agent(client)).json()["tickets"]
        assert [t["id"] for t in queue] == [ids["sam"], ids["plain"], ids["jane"]]
    finally:  # the module's shop is shared: leave no ticket behind to change the features of later tests
        demo_session.execute(delete(HandoffTicket).where(HandoffTicket.conversation_id.like("churn-%")))
        demo_session.commit()


# --- the public benchmark's data ---------------------------------------------------------------


@pytest.mark.skipif(not TELCO_CSV.is_file(), reason=f"Telco churn data not found at {TELCO_CSV}")
def test_the_same_model_fits_telco() -> None:
    features, labels = load_telco()
    X_train, X_test, y_train, y_test = train_test_split(features, labels, test_size=0.2, stratify=labels,
                                                        random_state=0)
    with one_thread():
        probabilities = telco_churn_model().fit(X_train, y_train).predict_proba(X_test)[:, 1]
    assert roc_auc_score(y_test, probabilities) > 0.80
