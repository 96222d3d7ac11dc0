"""Requests that need a verified customer: carried out by ``action_resume_request`` once the form has verified them."""

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.closing import ask_to_close
from actions.crm_client import CrmClient
from actions.customer import VerifiedCustomer, run_for_customer
from actions.orders import offer_cancellation, offer_return, tell_invoice, tell_order_status, tell_refunds
from actions.parsing import format_date, format_money
from actions.verification import forget_factors, verification_stopped


async def tell_account_summary(dispatcher: CollectingDispatcher, customer: VerifiedCustomer, _tracker: Tracker) -> list[EventType]:
    summary = await CrmClient().account_summary(customer_id=customer.id, token=customer.token)
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
    return []


REQUEST_HANDLERS = {
    "check_account": tell_account_summary,
    "track_order": tell_order_status,
    "cancel_order": offer_cancellation,
    "request_refund": offer_return,
    "refund_status": tell_refunds,
    "get_invoice": tell_invoice,
    "close_account": ask_to_close,
}


class ActionResumeRequest(Action):
    """Runs after the verification form: carries out the request that needed it, or says why not."""

    def name(self) -> str:
        return "action_resume_request"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        forget = forget_factors()
        if verification_stopped(dispatcher, tracker):
            return forget + [SlotSet("verification_status", None)]
        handler = REQUEST_HANDLERS.get(tracker.get_slot("pending_request") or "")
        if handler is None:
            dispatcher.utter_message(response="utter_verified", first_name=tracker.get_slot("customer_first_name"))
            return forget
        events = await run_for_customer(dispatcher, tracker, lambda d, customer: handler(d, customer, tracker))
        if any(event.get("event") == "followup" for event in events):
            return forget + events  # verification expired: verify again, then this request
        return forget + events + [SlotSet("pending_request", None), SlotSet("order_number", None)]
