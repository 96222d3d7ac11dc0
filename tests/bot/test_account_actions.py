"""Contact-detail changes and closing an account (with the retention offer), against the real CRM."""

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.account import ActionResumeRequest
from actions.config import get_action_settings
from actions.contact import ActionConfirmContactChange, ValidateContactDetailsForm
from conftest import Crm
from shop import agent_get, customer_where, route_missing
from test_order_actions import answer, resume, verified
from trackers import DOMAIN_DICT, make_tracker

NO_OPEN_ORDERS = ("NOT EXISTS (SELECT 1 FROM orders x WHERE x.customer_id = c.id AND x.status IN ('placed', 'paid', 'shipped')) "
                  "AND o.status = 'delivered'")


async def contact_form(slots: dict, text: str, intent: str = "give_identity", candidates: dict | None = None) -> tuple[dict, list[dict]]:
    """One turn of the contact-details form: the slots it set and what it said."""
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots=slots, text=text, intent=intent, slot_candidates=candidates, active_loop="contact_details_form")
    events = await ValidateContactDetailsForm().run(dispatcher, tracker, DOMAIN_DICT)
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}, dispatcher.messages


async def test_change_read_from_the_request_itself(crm_env: Crm) -> None:
    slots, messages = await contact_form({}, "please change my mobile to 07700 900321", intent="update_contact_details")
    assert slots["contact_field"] == "phone number" and slots["contact_value"] == "+44 7700 900321" and messages == []
    slots, _ = await contact_form({}, "I moved house", intent="update_contact_details")
    assert slots == {"contact_field": "delivery address"}


async def test_invalid_values_are_asked_again_with_a_hint(crm_env: Crm) -> None:
    asked = {"contact_field": "email address", "requested_slot": "contact_value", "verified": True}
    slots, messages = await contact_form(asked, "jane at example dot com")
    assert slots["contact_value"] is None and messages[0]["response"] == "utter_contact_value_invalid"
    asked = {"contact_field": "phone number", "requested_slot": "contact_value", "verified": True}
    slots, messages = await contact_form(asked, "12345")
    assert slots["contact_value"] is None and "UK number" in messages[0]["hint"]
    slots, messages = await contact_form({"requested_slot": "contact_field", "verified": True}, "my shoe size")
    assert slots["contact_field"] is None and messages[0]["response"] == "utter_contact_field_not_understood"


async def test_identity_comes_first_in_the_contact_form(crm_env: Crm) -> None:
    dispatcher = CollectingDispatcher()
    required = await ValidateContactDetailsForm().required_slots([], dispatcher, make_tracker(), DOMAIN_DICT)
    assert required == ["customer_identifier", "customer_postcode", "contact_field", "contact_value"]
    verified_tracker = make_tracker(slots={"verified": True})
    assert await ValidateContactDetailsForm().required_slots([], dispatcher, verified_tracker, DOMAIN_DICT) == ["contact_field", "contact_value"]


async def test_confirmed_address_change_is_written_to_the_crm(crm_env: Crm) -> None:
    customer = customer_where(crm_env, NO_OPEN_ORDERS)
    slots = await verified(customer) | {"contact_field": "delivery address", "contact_value": "12 New Street, Leeds, LS1 4AP"}
    dispatcher = CollectingDispatcher()
    events = await ActionConfirmContactChange().run(dispatcher, make_tracker(slots=slots), DOMAIN_DICT)
    assert dispatcher.messages[0]["response"] == "utter_confirm_contact_change"
    assert {"event": "slot", "name": "pending_change", "value": "contact", "timestamp": None} in events
    messages, _ = await answer(slots, "contact", yes=True)
    assert messages[0]["response"] == "utter_contact_changed"
    address = agent_get(crm_env, f"/customers/{customer.id}/summary").json()["address"]
    assert (address["line"], address["city"], address["postcode"]) == ("12 New Street", "Leeds", "LS1 4AP")


async def test_declined_change_and_email_of_another_account(crm_env: Crm) -> None:
    customer, other = customer_where(crm_env, NO_OPEN_ORDERS), customer_where(crm_env, NO_OPEN_ORDERS)
    slots = await verified(customer) | {"contact_field": "email address", "contact_value": other.email}
    messages, _ = await answer(slots, "contact", yes=False)
    assert messages[0]["response"] == "utter_contact_change_dropped"
    messages, _ = await answer(slots, "contact", yes=True)
    assert messages[0]["response"] == "utter_contact_email_in_use"
    assert agent_get(crm_env, f"/customers/{customer.id}/summary").json()["email"] == customer.email


async def test_close_account_after_a_yes(crm_env: Crm) -> None:
    customer = customer_where(crm_env, NO_OPEN_ORDERS)
    slots = await verified(customer)
    messages, set_slots = await resume(slots, "close_account")
    if set_slots["pending_change"] == "retention":  # the churn endpoints exist and rate this customer worth an offer
        messages, _ = await answer(slots, "retention", yes=False)
    else:
        assert messages[0]["response"] == "utter_confirm_close"
        messages, _ = await answer(slots, "close", yes=True)
    assert messages[-1]["response"] == "utter_account_closed"
    assert agent_get(crm_env, f"/customers/{customer.id}/summary").json()["account_status"] == "closed"


async def test_account_with_orders_in_progress_is_not_closed(crm_env: Crm) -> None:
    customer = customer_where(crm_env, "o.status = 'shipped'")
    messages, set_slots = await resume(await verified(customer), "close_account")
    assert [m["response"] for m in messages] == ["utter_account_has_open_orders"] and "pending_change" not in set_slots


@pytest.fixture
def generous_retention(crm_env: Crm, monkeypatch: pytest.MonkeyPatch) -> Crm:
    """Every customer qualifies for the retention offer (needs the CRM's churn and segment endpoints)."""
    customer = customer_where(crm_env, NO_OPEN_ORDERS)
    for path in (f"/customers/{customer.id}/churn-risk", f"/customers/{customer.id}/segment"):
        if route_missing(crm_env, path):
            pytest.skip(f"the CRM has no GET {path} (404 route not found)")
        if agent_get(crm_env, path).status_code != 200:
            pytest.skip(f"GET {path} does not answer in the test CRM (its model is not trained there)")
    monkeypatch.setenv("RETENTION_MIN_CHURN_PROBABILITY", "0")
    monkeypatch.setenv("RETENTION_MIN_EXPECTED_VALUE", "-1")
    get_action_settings.cache_clear()
    return crm_env


async def test_one_retention_offer_then_the_decision(generous_retention: Crm) -> None:
    customer = customer_where(generous_retention, NO_OPEN_ORDERS)
    slots = await verified(customer)
    messages, set_slots = await resume(slots, "close_account")
    assert messages[0]["response"] == "utter_retention_offer" and set_slots["pending_change"] == "retention"
    messages, _ = await answer(slots, "retention", yes=True)
    assert messages[0]["response"] == "utter_retention_accepted"
    assert agent_get(generous_retention, f"/customers/{customer.id}/summary").json()["account_status"] == "active"
    offered = [{"event": "bot", "text": "offer", "metadata": {"utter_action": "utter_retention_offer"}}]
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots=slots | {"pending_request": "close_account"}, intent="close_account", history=offered)
    await ActionResumeRequest().run(dispatcher, tracker, DOMAIN_DICT)
    assert dispatcher.messages[0]["response"] == "utter_confirm_close"  # never a second offer
