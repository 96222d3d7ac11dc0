"""Actions with CollectingDispatcher and real trackers, against a real CRM process."""

import asyncio
import itertools
import sqlite3
import uuid
from dataclasses import dataclass

import httpx
import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.account import ActionResumeRequest
from actions.handoff import ActionHandoffToHuman
from actions.verification import ValidateVerifyIdentityForm
from conftest import Crm
from shop import customer_where
from trackers import DOMAIN_DICT, make_tracker


@dataclass(frozen=True)
class Customer:
    id: int
    email: str
    postcode: str
    order_number: str
    tracking_number: str | None


def customers_with_shipped_orders(crm: Crm) -> list[Customer]:
    """Read straight from the test database which customers to use (the actions themselves only use the API)."""
    path = crm.database_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as db:
        rows = db.execute(
            "SELECT c.id, c.email, c.postcode, o.order_number, o.tracking_number FROM customers c "
            "JOIN orders o ON o.customer_id = c.id WHERE o.status = 'shipped' AND c.email IS NOT NULL "
            "AND c.postcode IS NOT NULL AND c.closed_at IS NULL ORDER BY c.id"
        ).fetchall()
    return [Customer(*row) for row in rows]


_customer_numbers = itertools.count()


@pytest.fixture
def customer(crm_env: Crm) -> Customer:
    """A different customer for every test, so lockouts in one test never touch another."""
    pool = customers_with_shipped_orders(crm_env)
    assert len(pool) >= 3, "the demo data should have customers with shipped orders"
    return pool[next(_customer_numbers) % len(pool)]


def conversation() -> str:
    return f"test-{uuid.uuid4().hex[:10]}"


async def validate(slots: dict, candidates: dict, sender_id: str | None = None) -> tuple[dict, list[dict]]:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(sender_id=sender_id or conversation(), slots=slots, slot_candidates=candidates,
                           active_loop="verify_identity_form")
    events = await ValidateVerifyIdentityForm().run(dispatcher, tracker, DOMAIN_DICT)
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}, dispatcher.messages


async def verified_slots(customer: Customer) -> dict:
    slots, _ = await validate({"customer_identifier": customer.email}, {"customer_postcode": customer.postcode})
    assert slots["verified"] is True, slots
    return slots


async def test_identifier_is_read_from_a_sentence(crm_env: Crm) -> None:
    slots, messages = await validate({}, {"customer_identifier": "it's Jane.Doe@Example.com thanks"})
    assert slots["customer_identifier"] == "jane.doe@example.com" and messages == []
    slots, messages = await validate({}, {"customer_identifier": "my order is so 1234567"})
    assert slots["customer_identifier"] == "SO-1234567"
    slots, messages = await validate({}, {"customer_identifier": "no idea"})
    assert slots["customer_identifier"] is None
    assert messages[0]["response"] == "utter_identifier_not_understood"


async def test_right_postcode_verifies_and_binds_the_customer(customer: Customer) -> None:
    slots = await verified_slots(customer)
    assert slots["customer_id"] == customer.id and slots["crm_token"] and slots["verification_status"] == "verified"


async def test_order_number_works_as_identifier(customer: Customer) -> None:
    slots, _ = await validate({"customer_identifier": customer.order_number}, {"customer_postcode": customer.postcode.lower()})
    assert slots["verified"] is True and slots["customer_id"] == customer.id


async def test_wrong_postcode_asks_again_then_locks(crm_env: Crm) -> None:
    customer = customer_where(crm_env, "o.status = 'delivered'")  # kept to this test: it ends locked out
    remaining = []
    for _ in range(4):
        slots, messages = await validate({"customer_identifier": customer.email}, {"customer_postcode": "ZZ9 9ZZ"})
        assert slots == {"customer_identifier": None, "customer_postcode": None, "one_time_code_sent": False}
        remaining.append(messages[0]["remaining"])
    assert remaining == [4, 3, 2, 1]
    slots, _ = await validate({"customer_identifier": customer.email}, {"customer_postcode": "ZZ9 9ZZ"})
    assert slots["verification_status"] == "locked" and "verified" not in slots
    slots, _ = await validate({"customer_identifier": customer.email}, {"customer_postcode": customer.postcode})
    assert slots["verification_status"] == "locked"  # even the right postcode waits out the lockout

    dispatcher = CollectingDispatcher()
    events = await ActionResumeRequest().run(dispatcher, make_tracker(slots={"verification_status": "locked"}), DOMAIN_DICT)
    assert dispatcher.messages[0]["response"] == "utter_verification_locked"
    assert {"event": "slot", "name": "customer_postcode", "value": None, "timestamp": None} in events


async def test_nonsense_postcode_is_refused_before_asking_the_crm(crm_env: Crm) -> None:
    slots, messages = await validate({"customer_identifier": "a@example.com"}, {"customer_postcode": "<script>"})
    assert slots == {"customer_postcode": None}
    assert messages[0]["response"] == "utter_postcode_not_understood"


async def test_track_latest_order_after_verification(customer: Customer) -> None:
    slots = await verified_slots(customer)
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots=slots | {"pending_request": "track_order", "order_number": customer.order_number})
    await ActionResumeRequest().run(dispatcher, tracker, DOMAIN_DICT)
    [message] = dispatcher.messages
    assert message["response"] == "utter_order_status"
    assert message["order_number"] == customer.order_number and message["status"] == "shipped"
    assert customer.tracking_number and customer.tracking_number in message["tracking"]


async def test_someone_elses_order_is_not_found(customer: Customer, crm_env: Crm) -> None:
    other = next(c for c in customers_with_shipped_orders(crm_env) if c.id != customer.id)
    slots = await verified_slots(customer)
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots=slots | {"pending_request": "track_order", "order_number": other.order_number})
    await ActionResumeRequest().run(dispatcher, tracker, DOMAIN_DICT)
    assert dispatcher.messages[0]["response"] == "utter_order_not_found"


async def test_account_summary_after_verification(customer: Customer) -> None:
    slots = await verified_slots(customer)
    dispatcher = CollectingDispatcher()
    await ActionResumeRequest().run(dispatcher, make_tracker(slots=slots | {"pending_request": "check_account"}), DOMAIN_DICT)
    [message] = dispatcher.messages
    assert message["response"] == "utter_account_summary" and int(message["order_count"]) >= 1
    assert message["total_spent"].startswith("£")


async def test_invalid_token_asks_to_verify_again(customer: Customer) -> None:
    slots = await verified_slots(customer)
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots=slots | {"pending_request": "check_account", "crm_token": "expired.or.forged"})
    events = await ActionResumeRequest().run(dispatcher, tracker, DOMAIN_DICT)
    assert dispatcher.messages[0]["response"] == "utter_verification_expired"
    assert {"event": "slot", "name": "verified", "value": False, "timestamp": None} in events


async def test_handoff_creates_a_ticket_with_the_transcript(customer: Customer, crm_env: Crm) -> None:
    slots = await verified_slots(customer)
    sender = conversation()
    history = [{"event": "user", "text": "my parcel never came"}, {"event": "bot", "text": "Sorry to hear that."}]
    tracker = make_tracker(sender_id=sender, slots=slots, text="human please", intent="request_human", history=history)
    dispatcher = CollectingDispatcher()
    events = await ActionHandoffToHuman().run(dispatcher, tracker, DOMAIN_DICT)
    assert dispatcher.messages[0]["response"] in ("utter_handoff_waiting", "utter_handoff_nobody_online")
    assert {"event": "pause"} in [{"event": e["event"]} for e in events]
    queue = httpx.get(f"{crm_env.url}/api/v1/handoffs", headers=crm_env.agent_headers()).json()
    [ticket] = [t for t in queue["tickets"] if t["conversation_id"] == sender]
    assert ticket["customer_id"] == customer.id
    assert [e["text"] for e in ticket["transcript"]] == ["my parcel never came", "Sorry to hear that.", "human please"]


async def test_crm_down_during_verification(crm_down: None) -> None:
    slots, messages = await validate({"customer_identifier": "a@example.com"}, {"customer_postcode": "SW1A 1AA"})
    assert slots["verification_status"] == "unavailable" and "verified" not in slots
    assert messages[0]["response"] == "utter_crm_unavailable"


async def test_crm_down_during_handoff(crm_down: None) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionHandoffToHuman().run(dispatcher, make_tracker(text="human", intent="request_human"), DOMAIN_DICT)
    assert dispatcher.messages[0]["response"] == "utter_handoff_unavailable"
    assert events == []  # not paused: the bot keeps helping


async def test_slow_crm_times_out_with_a_plain_answer(crm_hangs: None) -> None:
    slots, messages = await validate({"customer_identifier": "a@example.com"}, {"customer_postcode": "SW1A 1AA"})
    assert slots["verification_status"] == "unavailable"
    assert messages[0]["response"] == "utter_crm_unavailable"


async def test_crm_calls_share_a_connection_until_it_idles(crm_env: Crm, monkeypatch: pytest.MonkeyPatch) -> None:
    """The actions keep their connection to the CRM between calls; one left idle is closed before uvicorn would."""
    from actions import crm_client
    from actions.config import get_action_settings

    monkeypatch.setattr(crm_client, "IDLE_CONNECTION_SECONDS", 0.3)
    client = crm_client.shared_client(get_action_settings())
    assert crm_client.shared_client(get_action_settings()) is client

    async def local_address() -> tuple[str, int]:
        response = await client.get("/api/v1/health")
        assert response.status_code == 200
        return response.extensions["network_stream"].get_extra_info("client_addr")

    first, second = await local_address(), await local_address()
    assert first == second
    await asyncio.sleep(0.6)
    assert await local_address() != first
    await client.aclose()
