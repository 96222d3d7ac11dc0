"""Cancelling, returning and refunds through the API, with their eligibility rules."""

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.core.config import Settings
from app.core.security import issue_customer_token
from app.main import create_app
from app.models import AuditEntry, Order, OrderStatus
from factories import add_customer, add_order, add_product


@pytest.fixture
def shop(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str], dict[str, str]]]:
    """A customer with one order in each state; returns the client, her headers and another customer's."""
    app = create_app(settings)
    with app.state.session_factory() as session:
        ann = add_customer(session, name="Ann Lee", email="ann@example.com", postcode="BS1 5TR")
        other = add_customer(session, name="Ola Nowak", email="ola@example.com", postcode="G1 1XQ")
        lamp = add_product(session, sku="LP-01", name="Desk lamp", price="25.00")
        for number, status in [("SO-1000001", OrderStatus.placed), ("SO-1000002", OrderStatus.paid),
                               ("SO-1000003", OrderStatus.shipped), ("SO-1000004", OrderStatus.delivered)]:
            add_order(session, customer=ann, number=number, status=status, days_ago=5, lines=[(lamp, 2)])
        add_order(session, customer=ann, number="SO-1000005", status=OrderStatus.delivered, days_ago=45, lines=[(lamp, 1)])
        ids = ann.id, other.id
    secret = settings.token_secret.get_secret_value()
    service = {"Authorization": f"Bearer {settings.actions_api_key.get_secret_value()}"}
    headers = [service | {"X-Customer-Token": issue_customer_token(secret, i, "c", 600)[0]} for i in ids]
    with TestClient(app) as client:
        client.base_url = client.base_url.join(f"/api/v1/customers/{ids[0]}")  # type: ignore[assignment]
        yield client, *headers
    app.state.engine.dispose()


def test_cancel_before_shipping(shop) -> None:  # type: ignore[no-untyped-def]
    client, ann, _ = shop
    placed = client.post("/orders/SO-1000001/cancel", headers=ann, json={"reason": "ordered twice"})
    assert placed.status_code == 200 and placed.json()["order"]["status"] == "cancelled"
    assert placed.json()["refund"] is None  # nothing was paid yet
    paid = client.post("/orders/so-1000002/cancel", headers=ann, json={}).json()
    assert paid["refund"]["status"] == "approved" and paid["refund"]["amount"] == "50.00"
    assert paid["refund"]["reference"].startswith("RF-")
    again = client.post("/orders/SO-1000002/cancel", headers=ann, json={})
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_cancellable"


def test_shipped_order_cannot_be_cancelled_but_offers_a_return(shop) -> None:  # type: ignore[no-untyped-def]
    client, ann, _ = shop
    refused = client.post("/orders/SO-1000003/cancel", headers=ann, json={})
    assert refused.status_code == 409 and "returned once it arrives" in refused.json()["error"]["message"]
    eligibility = client.get("/orders/SO-1000003/return-eligibility", headers=ann).json()
    assert eligibility == {"eligible": False, "code": "in_transit", "message": eligibility["message"], "deadline": None}


def test_return_within_the_window_once(shop) -> None:  # type: ignore[no-untyped-def]
    client, ann, _ = shop
    eligibility = client.get("/orders/SO-1000004/return-eligibility", headers=ann).json()
    assert eligibility["eligible"] is True
    deadline = datetime.fromisoformat(eligibility["deadline"])
    assert timedelta(days=20) < deadline - datetime.now(timezone.utc) < timedelta(days=30)
    created = client.post("/orders/SO-1000004/return", headers=ann, json={"reason": "too bright"})
    assert created.status_code == 201
    assert created.json()["refund"]["status"] == "requested" and "post office" in created.json()["instructions"]
    twice = client.post("/orders/SO-1000004/return", headers=ann, json={})
    assert twice.status_code == 409 and twice.json()["error"]["code"] == "already_requested"


def test_return_window_closes_after_thirty_days(shop) -> None:  # type: ignore[no-untyped-def]
    client, ann, _ = shop
    late = client.post("/orders/SO-1000005/return", headers=ann, json={})
    assert late.status_code == 409 and late.json()["error"]["code"] == "window_closed"


def test_refunds_are_listed_newest_first_and_changes_audited(shop) -> None:  # type: ignore[no-untyped-def]
    client, ann, _ = shop
    client.post("/orders/SO-1000002/cancel", headers=ann, json={})
    client.post("/orders/SO-1000004/return", headers=ann, json={})
    refunds = client.get("/refunds", headers=ann).json()
    assert [(r["order_number"], r["kind"], r["status"]) for r in refunds] == [
        ("SO-1000004", "return", "requested"), ("SO-1000002", "cancellation", "approved")]
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        fields = set(session.scalars(select(AuditEntry.field)))
        statuses = dict(session.execute(select(Order.order_number, Order.status)).all())
    assert {"order SO-1000002 status", "order SO-1000004 status"} <= fields
    assert statuses["SO-1000002"] is OrderStatus.cancelled


def test_other_customers_cannot_touch_the_orders(shop) -> None:  # type: ignore[no-untyped-def]
    client, _, other = shop
    assert client.post("/orders/SO-1000001/cancel", headers=other, json={}).status_code == 403
    assert client.get("/refunds", headers=other).status_code == 403
    assert client.post("/orders/SO-1000001/cancel", headers={"Authorization": other["Authorization"]}, json={}).status_code == 401


def test_reason_is_bounded_and_unknown_fields_refused(shop) -> None:  # type: ignore[no-untyped-def]
    client, ann, _ = shop
    assert client.post("/orders/SO-1000001/cancel", headers=ann, json={"reason": "x" * 1001}).status_code == 422
    assert client.post("/orders/SO-1000001/cancel", headers=ann, json={"refund_to": "elsewhere"}).status_code == 422
    assert client.post("/orders/SO-9999999/cancel", headers=ann, json={}).status_code == 404
