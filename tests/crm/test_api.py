"""The CRM API against the real app and a real database (a SQLite file and PostgreSQL)."""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from app.core.config import Settings
from app.core.security import issue_customer_token
from app.main import create_app
from app.models import AuditEntry, Customer, Interaction, OrderStatus
from conftest import agent_headers
from factories import add_customer, add_order, add_product


@dataclass
class Shop:
    client: TestClient
    settings: Settings
    alice_id: int
    bob_id: int
    agent: dict[str, str]

    @property
    def actions(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.settings.actions_api_key.get_secret_value()}"}

    def verify(self, identifier: str, conversation: str = "conv-1", **factor: str):  # type: ignore[no-untyped-def]
        body = {"conversation_id": conversation, "identifier": identifier, **factor}
        return self.client.post("/api/v1/identity/verify", json=body, headers=self.actions)

    def as_customer(self, token: str) -> dict[str, str]:
        return self.actions | {"X-Customer-Token": token}

    def token_for(self, customer_id: int) -> str:
        secret = self.settings.token_secret.get_secret_value()
        return issue_customer_token(secret, customer_id, "conv-1", 600)[0]


@pytest.fixture
def shop(settings: Settings) -> Iterator[Shop]:
    app = create_app(settings)
    with app.state.session_factory() as session:
        alice = add_customer(session, name="Alice Marsh", email="alice@example.com", postcode="SW1A 1AA")
        bob = add_customer(session, name="Bob Stone", email="bob@example.com", postcode="M1 1AE")
        kettle = add_product(session, sku="KT-01", name="Steel kettle", price="39.90")
        beans = add_product(session, sku="CF-01", name="Coffee beans 1kg", price="18.50")
        add_order(session, customer=alice, number="SO-0000001", status=OrderStatus.delivered, days_ago=40, lines=[(kettle, 1), (beans, 2)])
        add_order(session, customer=alice, number="SO-0000002", status=OrderStatus.shipped, days_ago=3,
                  lines=[(beans, 1)], carrier="Royal Mail", tracking="RM123456789GB")
        add_order(session, customer=alice, number="SO-0000003", status=OrderStatus.cancelled, days_ago=20, lines=[(kettle, 1)])
        add_order(session, customer=bob, number="SO-0000004", status=OrderStatus.paid, days_ago=1, lines=[(kettle, 2)])
        ids = alice.id, bob.id
    with TestClient(app) as client:
        yield Shop(client, settings, *ids, agent=agent_headers(app))
    app.state.engine.dispose()


# --- service authentication -------------------------------------------------------------------


def test_health_is_the_only_anonymous_endpoint(shop: Shop) -> None:
    assert shop.client.get("/api/v1/health").json() == {"status": "ok"}
    for method, path in [("get", f"/api/v1/customers/{shop.alice_id}/summary"), ("post", "/api/v1/identity/verify"),
                         ("get", "/api/v1/handoffs"), ("post", "/api/v1/interactions")]:
        response = shop.client.request(method, path)
        assert response.status_code == 401, path
        assert response.json()["error"]["code"] == "unauthenticated"
    wrong = shop.client.get("/api/v1/handoffs", headers={"Authorization": "Bearer " + "x" * 43})
    assert wrong.status_code == 401


def test_openapi_schema_is_served(shop: Shop) -> None:
    schema = shop.client.get("/api/v1/openapi.json").json()
    assert "/api/v1/identity/verify" in schema["paths"]


def test_roles_are_kept_apart(shop: Shop) -> None:
    assert shop.client.get("/api/v1/handoffs", headers=shop.actions).status_code == 403
    assert shop.verify("alice@example.com", postcode="SW1A 1AA").status_code == 200
    agent_try = shop.client.post("/api/v1/identity/verify", headers=shop.agent,
                                 json={"conversation_id": "c", "identifier": "alice@example.com", "postcode": "SW1A 1AA"})
    assert agent_try.status_code == 403


# --- identity verification --------------------------------------------------------------------


@pytest.mark.parametrize("identifier, postcode", [
    ("alice@example.com", "SW1A 1AA"), ("  ALICE@example.COM ", "sw1a1aa"), ("so-0000002", "SW1A 1AA"),
])
def test_verification_by_email_or_order_number(shop: Shop, identifier: str, postcode: str) -> None:
    response = shop.verify(identifier, postcode=postcode)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["customer_id"] == shop.alice_id and body["first_name"] == "Alice"
    summary = shop.client.get(f"/api/v1/customers/{shop.alice_id}/summary", headers=shop.as_customer(body["token"]))
    assert summary.status_code == 200


def test_unknown_customer_and_wrong_factor_fail_alike(shop: Shop) -> None:
    unknown = shop.verify("nobody@example.com", postcode="SW1A 1AA")
    wrong = shop.verify("alice@example.com", conversation="conv-2", postcode="E1 6AN")
    assert unknown.status_code == wrong.status_code == 401
    assert unknown.json()["error"]["message"] == wrong.json()["error"]["message"]
    assert unknown.json()["error"]["code"] == "verification_failed"


def test_lockout_after_repeated_failures_per_identifier(shop: Shop) -> None:
    remaining = [shop.verify("alice@example.com", conversation=f"c{i}", postcode="E1 6AN").json()["error"].get("remaining_attempts")
                 for i in range(4)]
    assert remaining == [4, 3, 2, 1]
    fifth = shop.verify("alice@example.com", conversation="c5", postcode="E1 6AN")
    assert fifth.status_code == 429 and int(fifth.headers["Retry-After"]) > 0
    right_but_locked = shop.verify("alice@example.com", conversation="c6", postcode="SW1A 1AA")
    assert right_but_locked.status_code == 429
    assert right_but_locked.json()["error"]["code"] == "verification_locked"
    assert shop.verify("bob@example.com", conversation="c7", postcode="M1 1AE").status_code == 200


def test_lockout_per_conversation_across_identifiers(shop: Shop) -> None:
    for i in range(8):
        shop.verify(f"guess{i}@example.com", conversation="attacker", postcode="SW1A 1AA")
    assert shop.verify("alice@example.com", conversation="attacker", postcode="SW1A 1AA").status_code == 429
    assert shop.verify("alice@example.com", conversation="honest", postcode="SW1A 1AA").status_code == 200


def test_one_time_code_goes_to_the_outbox_and_works_once(shop: Shop) -> None:
    sent = shop.client.post("/api/v1/identity/one-time-code", headers=shop.actions,
                            json={"conversation_id": "conv-1", "identifier": "alice@example.com"})
    assert sent.status_code == 202
    [mail] = list(shop.settings.outbox_dir.glob("*.eml"))
    text = mail.read_text()
    assert "To: alice@example.com" in text
    code = text.split("one-time code is ")[1][:6]
    assert shop.verify("alice@example.com", code=code).status_code == 200
    assert shop.verify("alice@example.com", code=code).status_code == 401


def test_one_time_code_for_unknown_identifier_answers_the_same(shop: Shop) -> None:
    sent = shop.client.post("/api/v1/identity/one-time-code", headers=shop.actions,
                            json={"conversation_id": "conv-1", "identifier": "nobody@example.com"})
    assert sent.status_code == 202
    assert not shop.settings.outbox_dir.exists() or not list(shop.settings.outbox_dir.glob("*.eml"))


def test_exactly_one_second_factor(shop: Shop) -> None:
    assert shop.verify("alice@example.com").status_code == 422
    both = shop.verify("alice@example.com", postcode="SW1A 1AA", code="123456")
    assert both.status_code == 422 and both.json()["error"]["code"] == "invalid_request"


# --- customer tokens ------------------------------------------------------------------------------


def test_account_data_needs_the_customers_token(shop: Shop) -> None:
    path = f"/api/v1/customers/{shop.alice_id}/summary"
    missing = shop.client.get(path, headers=shop.actions)
    assert missing.status_code == 401 and missing.json()["error"]["code"] == "customer_verification_required"
    other = shop.client.get(path, headers=shop.as_customer(shop.token_for(shop.bob_id)))
    assert other.status_code == 403 and other.json()["error"]["code"] == "wrong_customer"
    orders_of_other = shop.client.get(f"/api/v1/customers/{shop.bob_id}/orders/SO-0000004",
                                      headers=shop.as_customer(shop.token_for(shop.alice_id)))
    assert orders_of_other.status_code == 403


def test_expired_forged_and_garbage_tokens_are_refused(shop: Shop) -> None:
    path = f"/api/v1/customers/{shop.alice_id}/summary"
    secret = shop.settings.token_secret.get_secret_value()
    past = datetime.now(timezone.utc) - timedelta(minutes=5)
    expired = jwt.encode({"typ": "customer", "sub": str(shop.alice_id), "cid": "c", "exp": past}, secret, "HS256")
    forged = jwt.encode({"typ": "customer", "sub": str(shop.alice_id), "cid": "c",
                         "exp": datetime.now(timezone.utc) + timedelta(minutes=5)}, "not-the-secret" * 4, "HS256")
    unsigned = jwt.encode({"typ": "customer", "sub": str(shop.alice_id), "cid": "c",
                           "exp": datetime.now(timezone.utc) + timedelta(minutes=5)}, None, "none")
    for token in (expired, forged, unsigned, "garbage", ""):
        response = shop.client.get(path, headers=shop.as_customer(token))
        assert response.status_code == 401, token
    assert "expired" in shop.client.get(path, headers=shop.as_customer(expired)).json()["error"]["message"]


def test_agents_read_any_customer_without_a_token(shop: Shop) -> None:
    response = shop.client.get(f"/api/v1/customers/{shop.bob_id}/summary", headers=shop.agent)
    assert response.status_code == 200 and response.json()["name"] == "Bob Stone"
    assert shop.client.get("/api/v1/customers/999999/summary", headers=shop.agent).status_code == 404


# --- account, orders, contact details -----------------------------------------------------------


def test_account_summary_totals(shop: Shop) -> None:
    summary = shop.client.get(f"/api/v1/customers/{shop.alice_id}/summary",
                              headers=shop.as_customer(shop.token_for(shop.alice_id))).json()
    assert summary["order_count"] == 3
    assert summary["open_order_count"] == 1
    assert summary["total_spent"] == "95.40"  # 39.90 + 2 x 18.50 + 18.50; the cancelled kettle does not count
    assert summary["last_order"]["order_number"] == "SO-0000002"
    assert summary["address"]["postcode"] == "SW1A 1AA"


def test_order_list_and_status_with_tracking(shop: Shop) -> None:
    headers = shop.as_customer(shop.token_for(shop.alice_id))
    listing = shop.client.get(f"/api/v1/customers/{shop.alice_id}/orders?limit=2", headers=headers).json()
    assert listing["total_count"] == 3
    assert [o["order_number"] for o in listing["orders"]] == ["SO-0000002", "SO-0000003"]
    detail = shop.client.get(f"/api/v1/customers/{shop.alice_id}/orders/so-0000002", headers=headers).json()
    assert detail["status"] == "shipped" and detail["carrier"] == "Royal Mail"
    assert detail["tracking_number"] == "RM123456789GB"
    assert detail["can_cancel"] is False and detail["lines"][0]["sku"] == "CF-01"
    missing = shop.client.get(f"/api/v1/customers/{shop.alice_id}/orders/SO-9999999", headers=headers)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "order_not_found"


def test_order_status_finds_only_the_customers_own_orders(shop: Shop) -> None:
    """One query by number and customer: another customer's order is not found, even by an agent."""
    others = shop.client.get(f"/api/v1/customers/{shop.alice_id}/orders/SO-0000004", headers=shop.agent)
    assert others.status_code == 404 and others.json()["error"]["code"] == "order_not_found"
    unknown = shop.client.get("/api/v1/customers/999999/orders/SO-0000004", headers=shop.agent)
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "customer_not_found"
    own = shop.client.get(f"/api/v1/customers/{shop.bob_id}/orders/SO-0000004", headers=shop.agent)
    assert own.status_code == 200 and own.json()["total"] == "79.80" and own.json()["item_count"] == 2


def test_contact_update_is_validated_and_audited(shop: Shop) -> None:
    headers = shop.as_customer(shop.token_for(shop.alice_id))
    path = f"/api/v1/customers/{shop.alice_id}/contact"
    assert shop.client.patch(path, headers=headers, json={"email": "not-an-email"}).status_code == 422
    assert shop.client.patch(path, headers=headers, json={"phone": "call me maybe"}).status_code == 422
    assert shop.client.patch(path, headers=headers, json={}).status_code == 422
    assert shop.client.patch(path, headers=headers, json={"email": "bob@example.com"}).status_code == 409
    changed = shop.client.patch(path, headers=headers, json={
        "email": "Alice.Marsh@Example.com", "address": {"line": "2 Low Road", "city": "Leeds", "postcode": "ls1 4ap", "country": "United Kingdom"}})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert set(body["changed_fields"]) == {"email", "address_line", "city", "postcode"}
    assert body["summary"]["email"] == "alice.marsh@example.com" and body["summary"]["address"]["postcode"] == "LS1 4AP"
    with shop.client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        entries = session.scalars(select(AuditEntry).where(AuditEntry.customer_id == shop.alice_id)).all()
    assert {(e.field, e.old_value, e.actor) for e in entries} >= {("email", "alice@example.com", f"customer:{shop.alice_id}")}
    assert shop.verify("alice.marsh@example.com", conversation="conv-9", postcode="LS1 4AP").status_code == 200


# --- bad input ----------------------------------------------------------------------------------


def test_malformed_json_gets_a_clear_error(shop: Shop) -> None:
    response = shop.client.post("/api/v1/identity/verify", content=b"{not json", headers=shop.actions | {"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "invalid_request"


def test_oversized_fields_and_bodies(shop: Shop) -> None:
    long_identifier = shop.verify("a" * 300 + "@example.com", postcode="SW1A 1AA")
    assert long_identifier.status_code == 422
    assert "a" * 300 not in long_identifier.text  # errors never echo the input
    huge = shop.client.post("/api/v1/interactions", headers=shop.actions,
                            json={"conversation_id": "c", "channel": "web", "text": "x" * 100_000})
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "payload_too_large"
    too_long_text = shop.client.post("/api/v1/interactions", headers=shop.actions,
                                     json={"conversation_id": "c", "channel": "web", "text": "x" * 6000})
    assert too_long_text.status_code == 422


@pytest.mark.parametrize("attack", ["' OR '1'='1", "alice@example.com'; DROP TABLE customers; --", "SO-0000001\" OR 1=1 --"])
def test_sql_looking_strings_are_just_data(shop: Shop, attack: str) -> None:
    assert shop.verify(attack, conversation="sqli", postcode="' OR '1'='1").status_code in (401, 429)
    headers = shop.as_customer(shop.token_for(shop.alice_id))
    response = shop.client.get(f"/api/v1/customers/{shop.alice_id}/orders/{attack}", headers=headers)
    assert response.status_code in (404, 422)
    with shop.client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        assert session.scalar(select(func.count(Customer.id))) == 2


def test_unknown_fields_are_refused(shop: Shop) -> None:
    response = shop.verify("alice@example.com", postcode="SW1A 1AA", is_admin="true")
    assert response.status_code == 422


# --- interactions -----------------------------------------------------------------------------------


def test_interactions_are_attributed_only_with_a_token(shop: Shop) -> None:
    message = {"conversation_id": "conv-1", "channel": "web", "text": "Where is my parcel??", "intent": "track_order",
               "intent_confidence": 0.93, "sentiment": {"label": "negative", "score": 0.81}}
    anonymous = shop.client.post("/api/v1/interactions", headers=shop.actions, json=message)
    assert anonymous.status_code == 201 and anonymous.json()["customer_id"] is None
    known = shop.client.post("/api/v1/interactions", headers=shop.as_customer(shop.token_for(shop.alice_id)), json=message)
    assert known.json()["customer_id"] == shop.alice_id and known.json()["sentiment"] == "negative"
    history = shop.client.get(f"/api/v1/customers/{shop.alice_id}/interactions", headers=shop.agent).json()
    assert [h["text"] for h in history] == ["Where is my parcel??"]
    bad = shop.client.post("/api/v1/interactions", headers=shop.actions, json=message | {"sentiment": {"label": "furious", "score": 2}})
    assert bad.status_code == 422


def test_a_batch_of_interactions_is_logged_in_order_each_with_its_own_customer(shop: Shop) -> None:
    secret = shop.settings.token_secret.get_secret_value()
    expired = issue_customer_token(secret, shop.bob_id, "conv-1", -10)[0]
    batch = [
        {"conversation_id": "conv-1", "channel": "app", "text": "hello", "intent": "greet"},
        {"conversation_id": "conv-1", "channel": "app", "text": "my order?", "customer_token": shop.token_for(shop.alice_id)},
        {"conversation_id": "conv-2", "channel": "app", "text": "not mine", "customer_token": shop.token_for(shop.alice_id)},
        {"conversation_id": "conv-1", "channel": "app", "text": "late", "customer_token": expired},
        {"conversation_id": "conv-1", "channel": "app", "text": "forged", "customer_token": "x" * 60},
        {"conversation_id": "conv-1", "channel": "app", "text": "thanks",
         "customer_token": shop.token_for(shop.alice_id), "sentiment": {"label": "positive", "score": 0.9}},
    ]
    response = shop.client.post("/api/v1/interactions/batch", headers=shop.actions, json={"interactions": batch})
    assert response.status_code == 201 and response.json() == {"logged": 6, "already_logged": 0, "attributed": 2}
    history = shop.client.get(f"/api/v1/customers/{shop.alice_id}/interactions", headers=shop.agent).json()
    assert sorted(h["text"] for h in history) == ["my order?", "thanks"]  # a token only for its own conversation
    assert shop.client.get(f"/api/v1/customers/{shop.bob_id}/interactions", headers=shop.agent).json() == []
    with shop.client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        logged = session.scalars(select(Interaction.text).order_by(Interaction.id)).all()
    assert logged == [message["text"] for message in batch]


@pytest.mark.parametrize("body, status", [
    ({"interactions": []}, 422),
    ({"interactions": [{"conversation_id": "c", "channel": "app", "text": "x"}] * 101}, 422),
    ({"interactions": [{"conversation_id": "c", "channel": "app", "text": ""}]}, 422),
    ({"interactions": [{"conversation_id": "c", "channel": "app", "text": "x", "customer_id": 1}]}, 422),
])
def test_bad_batches_are_refused_whole(shop: Shop, body: dict, status: int) -> None:
    assert shop.client.post("/api/v1/interactions/batch", headers=shop.actions, json=body).status_code == status
    assert shop.client.post("/api/v1/interactions/batch", json={"interactions": [
        {"conversation_id": "c", "channel": "app", "text": "x"}]}).status_code == 401
    assert shop.client.post("/api/v1/interactions/batch", headers=shop.agent, json={"interactions": [
        {"conversation_id": "c", "channel": "app", "text": "x"}]}).status_code == 403
    with shop.client.app.state.session_factory() as session:  # type: ignore[attr-defined]
        assert session.scalar(select(func.count(Interaction.id))) == 0
