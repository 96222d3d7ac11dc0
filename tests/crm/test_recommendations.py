"""Recommendations: the model on tiny data with known answers, the shop recommender on demo data, and the API."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from app.cli import migrate
from app.core.config import Settings
from app.core.db import make_engine, make_session_factory
from app.core.security import issue_customer_token
from app.data.demo import seed_demo_data
from app.main import create_app
from app.ml import recs_data
from app.ml.item_relations import basket_stats, bought_together
from app.ml.recommend import History, RecommenderConfig, SequentialRecommender
from app.ml.recs_eval import hold_out_last_step, ranking_metrics, sample_negatives
from app.ml.recs_training import MODEL_NAME, evaluate, train
from app.ml.shop_recs import PurchaseHistory, ShopRecommender, fit_shop_recommender
from app.models import Customer, Product
from conftest import agent_headers

ANCHOR = datetime(2025, 3, 1, tzinfo=timezone.utc)
TODAY = recs_data.day_number(ANCHOR)
TINY = RecommenderConfig(factors=4, iterations=10, alpha=10.0, neighbours=3)


# --- the model on data whose answers are known ----------------------------------------------------


def tiny_histories() -> list[History]:
    """Items 0 -> 1 -> 2 are bought in that order by one crowd, 3 -> 4 -> 5 by another."""
    return [History.of_sequence([0, 1, 2]) for _ in range(20)] + [History.of_sequence([3, 4, 5]) for _ in range(20)]


def test_tiny_model_predicts_the_next_step_and_explains_it() -> None:
    model = SequentialRecommender(TINY).fit(tiny_histories(), n_items=6)
    for history, expected in ((History.of_sequence([0]), 1), (History.of_sequence([0, 1]), 2),
                              (History.of_sequence([3, 4]), 5)):
        items, _ = model.recommend(history, k=1, exclude=history.items)
        assert items.tolist() == [expected]
    (why,) = model.explain(History.of_sequence([0, 1]), [2])
    assert why is not None and why.source == 1 and why.kind == "next"


def test_tiny_model_similar_items_stay_within_their_crowd() -> None:
    model = SequentialRecommender(TINY).fit(tiny_histories(), n_items=6)
    assert set(model.similar_items(0, 2)[0].tolist()) == {1, 2}
    assert set(model.similar_items(4, 2)[0].tolist()) == {3, 5}


def test_bought_together_ranks_by_lift_and_counts_baskets() -> None:
    # baskets: 0 and 1 always together (10 times); 2 is in every basket, so it says nothing about 0
    baskets = [(b, item) for b in range(10) for item in (0, 1, 2)] + [(b, item) for b in range(10, 30) for item in (2, 3)]
    basket_ids, items = map(np.array, zip(*baskets))
    together, counts = bought_together(basket_stats(basket_ids, items, 4), k=3)
    partners, _ = together.of(0)
    assert partners.tolist() == [1]
    assert counts[0, 0] == 10


def test_ranking_metrics_count_ties_against_the_model() -> None:
    histories = [History.of_sequence([0, 1, 2]), History.of_sequence([3, 4])]
    holdout = hold_out_last_step(histories)
    assert [t.tolist() for t in holdout.targets] == [[2], [4]]

    def next_item_first(batch: list[History]) -> np.ndarray:
        scores = np.zeros((len(batch), 6))
        scores[np.arange(len(batch)), [history.items[-1] + 1 for history in batch]] = 9.0
        return scores

    perfect = ranking_metrics(next_item_first, holdout)
    assert perfect["full_hr10"] == 1.0 and perfect["full_ndcg10"] == 1.0
    flat = ranking_metrics(lambda batch: np.zeros((len(batch), 30)), hold_out_last_step(
        [History.of_sequence([0, 1]), History.of_sequence([2, 3])]), k=10)
    assert flat["full_hr10"] == 0.0  # 27 others tie with the target: it is not in the top ten
    negatives = sample_negatives(histories, holdout.users, 30, count=5)
    assert not set(negatives[0]) & {0, 1, 2} and len(set(negatives[0])) == 5


# --- the shop recommender on demo data ------------------------------------------------------------


@dataclass
class Demo:
    session: Session
    lines: pd.DataFrame
    products: pd.DataFrame
    model: ShopRecommender


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    url = f"sqlite:///{tmp_path_factory.mktemp('recs') / 'demo.sqlite3'}"
    migrate(url)
    engine = make_engine(url)
    seed_demo_data(engine, customers=1500, products=120, anchor=ANCHOR)
    with make_session_factory(engine)() as session:
        lines, products = recs_data.order_lines(session), recs_data.products(session)
        yield Demo(session, lines, products, fit_shop_recommender(lines, products))
    engine.dispose()


def test_recommendations_beat_popularity_on_held_out_last_orders(demo: Demo) -> None:
    metrics = evaluate(demo.lines, demo.products)
    assert metrics["eval_customers"] > 1000
    assert metrics["hr10"] > metrics["popularity_hr10"] + 0.15, metrics


def served(demo: Demo, customer_id: int, k: int = 10) -> list[tuple[str, str, int | None, Product]]:
    """What the API would return: reason code, text, source, live product."""
    history = recs_data.customer_history(demo.session, customer_id)
    candidates = demo.model.for_customer(history, TODAY, k, 3 * k + 20)
    return [(c.reason.code, c.reason.text, c.reason.source_product_id, p)
            for c, p in recs_data.first_in_stock(demo.session, candidates, k)]


def test_customer_recommendations_keep_the_rules_and_their_reasons_are_true(demo: Demo) -> None:
    lines = demo.lines
    consumable = set(demo.products.loc[demo.products["is_consumable"], "id"])
    category_of = dict(zip(demo.products["id"], demo.products["category"]))
    orders_of = lines.groupby("product_id")["order_id"].apply(set).to_dict()
    buyers_of = lines[~lines["returned"]].groupby("product_id")["customer_id"].apply(set).to_dict()
    out_of_stock = set(demo.products["id"].sample(12, random_state=1))
    demo.session.execute(update(Product).where(Product.id.in_(out_of_stock)).values(stock=0))
    demo.session.commit()
    codes = set()
    for customer_id in lines["customer_id"].drop_duplicates().sample(150, random_state=0):
        own = lines[lines["customer_id"] == customer_id]
        bought, kept = set(own["product_id"]), set(own.loc[~own["returned"], "product_id"])
        recommendations = served(demo, customer_id)
        assert len(recommendations) == 10
        for code, text, source, product in recommendations:
            codes.add(code)
            assert text and product.id not in out_of_stock and product.stock > 0
            if code == "restock":
                assert product.id in consumable and product.id in kept
                continue
            assert product.id not in bought, "a product the customer has already is offered again"
            if code == "bought_together":
                assert source in bought and len(orders_of[source] & orders_of[product.id]) >= 3
            elif code in ("also_bought", "bought_next"):
                assert source in kept and buyers_of[source] & buyers_of[product.id]
            elif code == "popular_in_category":
                assert product.category in {category_of[p] for p in bought}
    assert {"restock", "bought_together"} <= codes


def test_new_customer_gets_popular_products(demo: Demo) -> None:
    empty = PurchaseHistory(*(np.zeros(0, dtype=dtype) for dtype in (np.int64, np.int64, np.float64, bool)))
    candidates = demo.model.for_customer(empty, TODAY, 10, 10)
    assert len(candidates) == 10 and {c.reason.code for c in candidates} == {"popular"}
    top = demo.lines.groupby("product_id")["customer_id"].nunique().sort_values(ascending=False).index[:30]
    assert candidates[0].product_id in set(top)


def test_new_product_gets_similar_and_bought_together_answers(demo: Demo) -> None:
    known = demo.products.iloc[0]
    text = f"Studio {known['name']}. {known['name']}. {known['category']}. {known['description']}"
    similar = demo.model.similar_to_text(text, 5)
    assert similar[0].product_id == known["id"] and similar[0].reason.code == "similar_description"
    assert {c.reason.code for c in demo.model.bought_together_with_text(text, 5)} == {"bought_together_similar"}


def test_known_product_answers(demo: Demo) -> None:
    index = int(demo.lines["product_id"].value_counts().index[0])
    position = demo.model.index_of(index)
    assert position is not None
    together = demo.model.bought_together_with(position, 5)
    assert together and all(c.reason.code == "bought_together" for c in together)
    similar = demo.model.similar_to(position, 5)
    assert len(similar) == 5 and index not in {c.product_id for c in similar}


# --- the API --------------------------------------------------------------------------------------


@dataclass
class Api:
    client: TestClient
    settings: Settings
    customer_ids: list[int]
    product_id: int

    def agent(self) -> dict[str, str]:
        return agent_headers(self.client.app)  # type: ignore[arg-type]

    def bot(self, customer_id: int | None = None) -> dict[str, str]:
        headers = {"Authorization": f"Bearer {self.settings.actions_api_key.get_secret_value()}"}
        if customer_id is not None:
            secret = self.settings.token_secret.get_secret_value()
            headers["X-Customer-Token"] = issue_customer_token(secret, customer_id, "conv-1", 600)[0]
        return headers


@pytest.fixture
def api(settings: Settings) -> Iterator[Api]:
    app = create_app(settings)
    seed_demo_data(app.state.engine, customers=120, products=60, anchor=ANCHOR)
    with app.state.session_factory() as session:
        train(session, settings.models_dir)
        customer_ids = [c.id for c in session.query(Customer).order_by(Customer.id).limit(2)]
        product_id = session.query(Product.id).order_by(Product.id).first()[0]
    with TestClient(app) as client:
        yield Api(client, settings, customer_ids, product_id)
    app.state.engine.dispose()


def test_api_customer_recommendations_follow_the_token(api: Api) -> None:
    first, second = api.customer_ids
    path = f"/api/v1/customers/{first}/recommendations?k=4"
    mine = api.client.get(path, headers=api.bot(first))
    assert mine.status_code == 200, mine.text
    body = mine.json()
    assert len(body["recommendations"]) == 4 and all(r["reason"] for r in body["recommendations"])
    assert api.client.get(path, headers=api.bot(second)).status_code == 403
    assert api.client.get(path, headers=api.bot()).status_code == 401
    assert api.client.get(path).status_code == 401
    assert api.client.get(path, headers=api.agent()).status_code == 200
    unknown = api.client.get("/api/v1/customers/999999/recommendations", headers=api.agent())
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "customer_not_found"


def test_api_product_endpoints_and_a_product_newer_than_the_model(api: Api) -> None:
    for kind in ("bought-together", "similar"):
        response = api.client.get(f"/api/v1/products/{api.product_id}/{kind}?k=3", headers=api.bot())
        assert response.status_code == 200, response.text
        assert api.product_id not in {r["product_id"] for r in response.json()["recommendations"]}
        missing = api.client.get(f"/api/v1/products/999999/{kind}", headers=api.bot())
        assert missing.status_code == 404 and missing.json()["error"]["code"] == "product_not_found"
    popular = api.client.get("/api/v1/recommendations/popular?k=3&category=pet supplies", headers=api.bot())
    assert popular.status_code == 200 and {r["category"] for r in popular.json()["recommendations"]} == {"Pet Supplies"}
    assert api.client.get("/api/v1/recommendations/popular?category=Nope", headers=api.bot()).status_code == 404
    found = api.client.get("/api/v1/products?query=KNIFE", headers=api.bot()).json()
    assert found and all("knife" in match["name"].lower() for match in found)
    assert api.client.get("/api/v1/products?query=100%_", headers=api.bot()).json() == []
    # a product added after training is answered from its description
    factory = api.client.app.state.session_factory  # type: ignore[attr-defined]
    with factory() as session:
        product = Product(sku="NEW-00001", name="Studio Chef's Knife, Walnut", category="Kitchen & Dining",
                          description="Studio chef's knife in walnut.", price=Decimal("49.00"), stock=5)
        session.add(product)
        session.commit()
        new_id = product.id
    similar = api.client.get(f"/api/v1/products/{new_id}/similar?k=3", headers=api.bot()).json()["recommendations"]
    assert similar and all(r["reason_code"] == "similar_description" for r in similar)
    assert "Knife" in similar[0]["name"]


def test_api_without_a_usable_model_answers_503(api: Api) -> None:
    path = f"/api/v1/products/{api.product_id}/similar"
    assert api.client.get(path, headers=api.bot()).status_code == 200
    folder = api.settings.models_dir / MODEL_NAME
    good = folder / (folder / "CURRENT").read_text().strip()
    broken = folder / "29990101T000000000000Z"  # a newer version whose model file is damaged
    broken.mkdir()
    (broken / "card.json").write_text((good / "card.json").read_text())
    (broken / "model.skops").write_bytes((good / "model.skops").read_bytes()[:500])
    (folder / "CURRENT").write_text(broken.name)
    corrupt = api.client.get(path, headers=api.bot())
    assert corrupt.status_code == 503 and corrupt.json()["error"]["code"] == "model_unavailable"
    (api.settings.models_dir / MODEL_NAME / "CURRENT").unlink()
    missing = api.client.get(f"/api/v1/customers/{api.customer_ids[0]}/recommendations", headers=api.agent())
    assert missing.status_code == 503
