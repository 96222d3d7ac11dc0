"""Cancelling, returning, refunds and invoices: actions with CollectingDispatcher and real trackers, against the real CRM."""

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.account import ActionResumeRequest
from actions.confirmation import ActionAnswerConfirmation
from conftest import Crm
from shop import ShopCustomer, agent_get, customer_where
from test_actions import Customer, verified_slots
from trackers import DOMAIN_DICT, make_tracker

RECENTLY_DELIVERED = "o.status = 'delivered' AND o.delivered_at > datetime('now', '-25 days')"


async def verified(customer: ShopCustomer) -> dict:
    return await verified_slots(Customer(customer.id, customer.email, customer.postcode, customer.order_number, None))


async def resume(slots: dict, request: str, order_number: str | None = None) -> tuple[list[dict], dict]:
    """Run the request after verification; the messages and the slots it set."""
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots=slots | {"pending_request": request, "order_number": order_number})
    events = await ActionResumeRequest().run(dispatcher, tracker, DOMAIN_DICT)
    return dispatcher.messages, {e["name"]: e["value"] for e in events if e["event"] == "slot"}


async def answer(slots: dict, pending_change: str, yes: bool) -> tuple[list[dict], list[dict]]:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots=slots | {"pending_change": pending_change}, text="yes" if yes else "no",
                           intent="affirm" if yes else "deny")
    events = await ActionAnswerConfirmation().run(dispatcher, tracker, DOMAIN_DICT)
    return dispatcher.messages, events


async def test_cancel_an_unshipped_order_after_a_yes(crm_env: Crm) -> None:
    customer = customer_where(crm_env, "o.status = 'paid'")  # placed ones are few: left for the test that needs one
    slots = await verified(customer)
    messages, set_slots = await resume(slots, "cancel_order", customer.order_number)
    assert messages[0]["response"] == "utter_confirm_cancel" and messages[0]["order_number"] == customer.order_number
    assert set_slots["pending_change"] == f"cancel:{customer.order_number}"
    assert agent_get(crm_env, f"/customers/{customer.id}/orders/{customer.order_number}").json()["status"] != "cancelled"

    messages, events = await answer(slots, set_slots["pending_change"], yes=True)
    assert messages[0]["response"] == "utter_order_cancelled"
    assert {"event": "slot", "name": "pending_change", "value": None, "timestamp": None} in events
    assert agent_get(crm_env, f"/customers/{customer.id}/orders/{customer.order_number}").json()["status"] == "cancelled"


async def test_a_no_keeps_the_order(crm_env: Crm) -> None:
    customer = customer_where(crm_env, "o.status = 'paid'")  # placed ones are few: left for the test that needs one
    slots = await verified(customer)
    messages, _ = await answer(slots, f"cancel:{customer.order_number}", yes=False)
    assert messages[0]["response"] == "utter_cancel_kept"
    assert agent_get(crm_env, f"/customers/{customer.id}/orders/{customer.order_number}").json()["status"] in ("placed", "paid")


async def test_shipped_order_cannot_be_cancelled_and_nothing_is_asked(crm_env: Crm) -> None:
    customer = customer_where(crm_env, "o.status = 'shipped'")
    messages, set_slots = await resume(await verified(customer), "cancel_order", customer.order_number)
    assert [m["response"] for m in messages] == ["utter_cannot_cancel_shipped"]
    assert "pending_change" not in set_slots


async def test_return_of_a_delivered_order_then_its_refund_status(crm_env: Crm) -> None:
    customer = customer_where(crm_env, RECENTLY_DELIVERED)
    slots = await verified(customer)
    messages, set_slots = await resume(slots, "request_refund", customer.order_number)
    assert messages[0]["response"] == "utter_offer_return" and set_slots["pending_change"] == f"return:{customer.order_number}"

    messages, _ = await answer(slots, set_slots["pending_change"], yes=True)
    assert messages[0]["response"] == "utter_return_started" and messages[0]["reference"].startswith("RF-")
    assert "post office" in messages[0]["instructions"]

    messages, _ = await resume(slots, "refund_status")
    assert messages[0]["response"] == "utter_refund_status" and customer.order_number in messages[0]["refunds"]
    messages, _ = await resume(slots, "request_refund", customer.order_number)
    assert messages[0]["response"] == "utter_return_already_requested"


async def test_cancelling_a_delivered_order_offers_a_return(crm_env: Crm) -> None:
    customer = customer_where(crm_env, RECENTLY_DELIVERED)
    messages, set_slots = await resume(await verified(customer), "cancel_order", customer.order_number)
    assert messages[0]["response"] == "utter_offer_return" and set_slots["pending_change"].startswith("return:")


async def test_return_window_closed(crm_env: Crm) -> None:
    customer = customer_where(crm_env, "o.status = 'delivered' AND o.delivered_at < datetime('now', '-60 days')")
    messages, set_slots = await resume(await verified(customer), "request_refund", customer.order_number)
    assert [m["response"] for m in messages] == ["utter_return_window_closed"] and "pending_change" not in set_slots


async def test_invoice_is_summarised(crm_env: Crm) -> None:
    customer = customer_where(crm_env, "o.status = 'delivered'")
    messages, _ = await resume(await verified(customer), "get_invoice", customer.order_number)
    [message] = messages
    assert message["response"] == "utter_invoice" and message["invoice_number"] == "INV-" + customer.order_number[3:]
    assert " x " in message["items"] and message["vat"].startswith("£")


@pytest.mark.parametrize("status, response", [("placed", "utter_invoice_not_ready"),
                                              ("cancelled", "utter_invoice_cancelled_unpaid")])
async def test_an_order_never_paid_has_no_invoice(crm_env: Crm, status: str, response: str) -> None:
    customer = customer_where(crm_env, f"o.status = '{status}' AND o.paid_at IS NULL")
    messages, _ = await resume(await verified(customer), "get_invoice", customer.order_number)
    assert [(m["response"], m["order_number"]) for m in messages] == [(response, customer.order_number)]


async def test_unknown_order_number_is_said_plainly(crm_env: Crm) -> None:
    customer = customer_where(crm_env, "o.status = 'delivered'")
    messages, set_slots = await resume(await verified(customer), "get_invoice", "SO-0000001")
    assert messages[0]["response"] == "utter_order_not_found" and set_slots["order_number"] is None


async def test_expired_verification_during_a_confirmation_verifies_again(crm_env: Crm) -> None:
    customer = customer_where(crm_env, "o.status = 'paid'")  # placed ones are few: left for the test that needs one
    slots = await verified(customer) | {"crm_token": "expired.or.forged"}
    messages, events = await answer(slots, f"cancel:{customer.order_number}", yes=True)
    assert messages[0]["response"] == "utter_verification_expired"
    assert {"event": "followup", "name": "verify_identity_form", "timestamp": None} in events
    assert agent_get(crm_env, f"/customers/{customer.id}/orders/{customer.order_number}").json()["status"] != "cancelled"


@pytest.mark.usefixtures("crm_down")
async def test_crm_down_when_answering(crm_env: Crm) -> None:
    slots = {"verified": True, "crm_token": "t", "customer_id": 1.0}
    messages, _ = await answer(slots, "cancel:SO-1234567", yes=True)
    assert [m["response"] for m in messages] == ["utter_crm_unavailable"]
