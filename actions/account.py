"""Requests on the verified customer's account: summary and order tracking."""

from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.crm_client import CrmClient, CrmRefused, CrmUnavailable
from actions.parsing import format_date, format_money
from actions.replies import say_crm_unavailable, say_request_failed
from actions.verification import IDENTITY_SLOTS


async def tell_account_summary(dispatcher: CollectingDispatcher, customer_id: int, token: str, _tracker: Tracker) -> None:
    summary = await CrmClient().account_summary(customer_id=customer_id, token=token)
    last = summary["last_order"]
    last_text = f" Your latest order is {last['order_number']} ({last['status']})." if last else ""
    dispatcher.utter_message(
        response="utter_account_summary",
        order_count=summary["order_count"],
        open_count=summary["open_order_count"],
        total_spent=format_money(summary["total_spent"]),
        member_since=format_date(summary["member_since"]),
        last_order=last_text,
    )


async def tell_order_status(dispatcher: CollectingDispatcher, customer_id: int, token: str, tracker: Tracker) -> None:
    client = CrmClient()
    order_number = tracker.get_slot("order_number")
    if not order_number:
        latest = (await client.orders(customer_id=customer_id, token=token, limit=1))["orders"]
        if not latest:
            dispatcher.utter_message(response="utter_no_orders")
            return
        order_number = latest[0]["order_number"]
    try:
        order = await client.order(customer_id=customer_id, token=token, order_number=order_number)
    except CrmRefused as refusal:
        if refusal.code != "order_not_found":
            raise
        dispatcher.utter_message(response="utter_order_not_found", order_number=order_number)
        return
    tracking = (
        f" It travels with {order['carrier']}, tracking number {order['tracking_number']}."
        if order["tracking_number"]
        else ""
    )
    dispatcher.utter_message(
        response="utter_order_status",
        order_number=order["order_number"],
        status=order["status"],
        placed=format_date(order["placed_at"]),
        total=format_money(order["total"]),
        tracking=tracking,
    )


REQUEST_HANDLERS = {"check_account": tell_account_summary, "track_order": tell_order_status}


class ActionResumeRequest(Action):
    """Runs after the verification form: carries out the request that needed it, or says why not."""

    def name(self) -> str:
        return "action_resume_request"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        forget_factors = [SlotSet(slot, None) for slot in IDENTITY_SLOTS]
        status = tracker.get_slot("verification_status")
        if status == "locked":
            dispatcher.utter_message(response="utter_verification_locked")
            return forget_factors + [SlotSet("verification_status", None)]
        if status == "unavailable":
            return forget_factors + [SlotSet("verification_status", None)]
        handler = REQUEST_HANDLERS.get(tracker.get_slot("pending_request") or "")
        if handler is None:
            dispatcher.utter_message(response="utter_verified", first_name=tracker.get_slot("customer_first_name"))
            return forget_factors
        try:
            await handler(dispatcher, int(tracker.get_slot("customer_id")), tracker.get_slot("crm_token"), tracker)
        except CrmUnavailable:
            say_crm_unavailable(dispatcher)
        except CrmRefused as refusal:
            if refusal.code != "customer_verification_required":
                say_request_failed(dispatcher)
                return forget_factors
            dispatcher.utter_message(response="utter_verification_expired")
            return forget_factors + [SlotSet("verified", False), SlotSet("crm_token", None), SlotSet("order_number", None)]
        return forget_factors + [SlotSet("order_number", None)]
