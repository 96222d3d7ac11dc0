"""The verified customer bound to the conversation, and running CRM work on their behalf with plain failures."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.crm_client import CrmRefused, CrmUnavailable
from actions.replies import say_crm_unavailable, say_request_failed


@dataclass(frozen=True)
class VerifiedCustomer:
    id: int
    token: str
    first_name: str

    @classmethod
    def from_tracker(cls, tracker: Tracker) -> "VerifiedCustomer | None":
        if not (tracker.get_slot("verified") and tracker.get_slot("crm_token") and tracker.get_slot("customer_id")):
            return None
        return cls(int(tracker.get_slot("customer_id")), tracker.get_slot("crm_token"), tracker.get_slot("customer_first_name") or "")


CustomerWork = Callable[[CollectingDispatcher, VerifiedCustomer], Awaitable[list[EventType]]]


def forget_verification() -> list[EventType]:
    return [SlotSet("verified", False), SlotSet("crm_token", None), SlotSet("customer_id", None),
            SlotSet("verification_status", None)]


async def run_for_customer(dispatcher: CollectingDispatcher, tracker: Tracker, work: CustomerWork) -> list[EventType]:
    """Run ``work`` for the verified customer; an expired verification starts the form again, CRM failures get plain words."""
    customer = VerifiedCustomer.from_tracker(tracker)
    if customer is None:
        return [FollowupAction("verify_identity_form")]
    try:
        return await work(dispatcher, customer)
    except CrmUnavailable:
        say_crm_unavailable(dispatcher)
    except CrmRefused as refusal:
        if refusal.code == "customer_verification_required":
            dispatcher.utter_message(response="utter_verification_expired")
            return forget_verification() + [FollowupAction("verify_identity_form")]
        if refusal.code == "order_not_found":
            dispatcher.utter_message(response="utter_order_not_found", order_number=tracker.get_slot("order_number"))
            return [SlotSet("order_number", None)]
        say_request_failed(dispatcher)
    return []
