"""Invoices of paid orders, closing an account with its reason, and recording retention offers (all audited)."""

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from app.core.config import Settings
from app.core.security import issue_customer_token
from app.main import create_app
from app.models import AuditEntry, OrderStatus
from factories import add_customer, add_order, add_product


@pytest.fixture
def shop(settings: Settings) -> Iterator[tuple[TestClient, dict[str, str], dict[str, str], dict[str, str]]]:
    """Ann has a placed and a delivered order; Ola only completed ones. Returns the client and each one's headers."""
    app = create_app(settings)
    with app.state.session_factory() as session:
        ann = add_customer(session, name="Ann Lee", email="ann@example.com", postcode="BS1 5TR")
        ola = add_customer(session, name="Ola Nowak", email="ola@example.com", postcode="G1 1XQ")
        lamp = add_product(session, sku="LP-01", name="Desk lamp", price="25.00")
        mug = add_product(session, sku="MG-01", name="Mug", price="6.00")
        add_order(session, customer=ann, number="SO-2000001", status=OrderStatus.placed, days_ago=1, lines=[(lamp, 1)])
        add_order(session, customer=ann, number="SO-2000002", status=OrderStatus.delivered, days_ago=9,
                  lines=[(lamp, 2), (mug, 1)])
        add_order(session, customer=ola, number="SO-2000003", status=OrderStatus.delivered, days_ago=50, lines=[(mug, 4)])
        ids = {"ann": ann.id, "ola": ola.id}
    secret = settings.token_secret.get_secret_value()
    service = {"Authorization": f"Bearer {settings.actions_api_key.get_secret_value()}"}
    headers = {name: service | {"X-Customer-Token": issue_customer_token(secret, i, "c", 600)[0]} for name, i in ids.items()}
    with TestClient(app) as client:
        client.base_url = client.base_url.join("/api/v1/customers/")  # type: ignore[assignment]
        yield client, ids, headers, service
    app.state.engine.dispose()


def audit(client: TestClient, customer_id: int) -> list[tuple[str, str | None, str | None]]:
    with client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        rows = session.execute(select(AuditEntry.field, AuditEntry.old_value, AuditEntry.new_value)
                               .where(AuditEntry.customer_id == customer_id).order_by(AuditEntry.id))
        return [tuple(row) for row in rows]


def test_invoice_of_a_paid_order(shop) -> None:  # type: ignore[no-untyped-def]
    client, ids, headers, _ = shop
    invoice = client.get(f"{ids['ann']}/orders/so-2000002/invoice", headers=headers["ann"]).json()
    assert invoice["invoice_number"] == "INV-2000002" and invoice["customer_name"] == "Ann Lee"
    assert [(line["name"], line["quantity"], line["line_total"]) for line in invoice["lines"]] == [
        ("Desk lamp", 2, "50.00"), ("Mug", 1, "6.00")]
    assert invoice["total"] == "56.00" and invoice["vat_included"] == "9.33" and invoice["vat_rate"] == "0.20"


def test_no_invoice_before_payment_nor_for_others(shop) -> None:  # type: ignore[no-untyped-def]
    client, ids, headers, service = shop
    unpaid = client.get(f"{ids['ann']}/orders/SO-2000001/invoice", headers=headers["ann"])
    assert unpaid.status_code == 409 and unpaid.json()["error"]["code"] == "not_invoiced"
    assert client.get(f"{ids['ann']}/orders/SO-2000003/invoice", headers=headers["ann"]).status_code == 404
    assert client.get(f"{ids['ann']}/orders/SO-2000002/invoice", headers=headers["ola"]).status_code == 403
    assert client.get(f"{ids['ann']}/orders/SO-2000002/invoice", headers=service).status_code == 401


def test_close_account_is_audited_and_final(shop) -> None:  # type: ignore[no-untyped-def]
    client, ids, headers, _ = shop
    closed = client.post(f"{ids['ola']}/close", headers=headers["ola"], json={"reason": "moving abroad"})
    assert closed.status_code == 200 and closed.json()["account_status"] == "closed"
    assert audit(client, ids["ola"]) == [("account_status", "active", "closed: moving abroad")]
    again = client.post(f"{ids['ola']}/close", headers=headers["ola"], json={"reason": "again"})
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_closed"
    assert client.get(f"{ids['ola']}/summary", headers=headers["ola"]).json()["account_status"] == "closed"


def test_account_with_orders_in_progress_stays_open(shop) -> None:  # type: ignore[no-untyped-def]
    client, ids, headers, _ = shop
    refused = client.post(f"{ids['ann']}/close", headers=headers["ann"], json={"reason": "no longer needed"})
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "open_orders"
    assert audit(client, ids["ann"]) == []
    assert client.post(f"{ids['ann']}/close", headers=headers["ann"], json={"reason": ""}).status_code == 422
    assert client.post(f"{ids['ann']}/close", headers=headers["ola"], json={"reason": "x"}).status_code == 403


def test_retention_offer_outcomes_are_recorded(shop) -> None:  # type: ignore[no-untyped-def]
    client, ids, headers, _ = shop
    for accepted in (False, True):
        response = client.post(f"{ids['ann']}/retention-offers", headers=headers["ann"],
                               json={"offer": "20% off the next order", "accepted": accepted})
        assert response.status_code == 201
    assert audit(client, ids["ann"]) == [("retention_offer", "20% off the next order", "declined"),
                                         ("retention_offer", "20% off the next order", "accepted")]
    assert client.post(f"{ids['ann']}/retention-offers", headers=headers["ann"],
                       json={"offer": "x", "accepted": True, "extra": 1}).status_code == 422
