"""When to offer a person: complaints, payment trouble, repeated misunderstandings and a run of negative messages.

``action_check_turn`` runs on every customer message that may need it (it is the custom mapping of ``pending_change``;
Rasa skips the call when ``turn_needs_checking`` says there is nothing to check): it drops a
question the customer didn't answer, and offers a person once per conversation after
``negative_messages_before_offer`` negative messages in a row (sentiment from the NLU pipeline). While a person has
the conversation it does nothing. A complaint from a verified customer at high risk of leaving goes to a person at once
(``handoff_on_high_churn_complaint``).
"""

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.config import get_action_settings
from actions.crm_client import CrmClient, CrmRefused, CrmUnavailable
from actions.customer import VerifiedCustomer
from actions.handoff import hand_off
from actions.parsing import bot_said, intent_name, is_negative, is_not_understood, trailing_run, turn_needs_checking

ANSWERS = ("affirm", "deny")
OFFERS_A_PERSON_ITSELF = ("complain", "payment_issue", "request_human")


def offer_human(dispatcher: CollectingDispatcher, response: str, reason: str) -> list[EventType]:
    """Ask whether the customer wants a person; a yes hands off with ``reason``."""
    dispatcher.utter_message(response=response)
    return [SlotSet("pending_change", f"handoff:{reason}")]


class ActionCheckTurn(Action):
    def name(self) -> str:
        return "action_check_turn"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        if not turn_needs_checking(tracker.is_paused(), tracker.get_slot("pending_change"), tracker.latest_message):
            return []
        events: list[EventType] = []
        intent = intent_name(tracker.latest_message)
        if tracker.get_slot("pending_change") and intent not in ANSWERS:
            events.append(SlotSet("pending_change", None))
        run = trailing_run(tracker.events, is_negative)
        if (intent not in ANSWERS + OFFERS_A_PERSON_ITSELF and run >= get_action_settings().negative_messages_before_offer
                and not bot_said(tracker.events, "utter_offer_human_negative")):
            events += offer_human(dispatcher, "utter_offer_human_negative", "negative_sentiment")
        return events


async def churn_band(tracker: Tracker) -> str | None:
    """The verified customer's churn risk band, asked when needed; None when not verified, when the CRM has no model
    for it or can't answer (never an error)."""
    customer = VerifiedCustomer.from_tracker(tracker)
    if customer is None:
        return None
    try:
        risk = await CrmClient().churn_risk(customer_id=customer.id, token=customer.token)
    except (CrmUnavailable, CrmRefused):
        return None
    return risk.get("band")


class ActionAcknowledgeComplaint(Action):
    """Say sorry, note it (the message is logged to the CRM with its intent), and offer a person, or hand over at once."""

    def name(self) -> str:
        return "action_acknowledge_complaint"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        dispatcher.utter_message(response="utter_complaint_ack")
        if get_action_settings().handoff_on_high_churn_complaint and await churn_band(tracker) == "high":
            return await hand_off(dispatcher, tracker, "complaint")
        return offer_human(dispatcher, "utter_offer_human", "complaint")


class ActionOfferHuman(Action):
    def name(self) -> str:
        return "action_offer_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        return offer_human(dispatcher, "utter_offer_human", "customer_request")


class ActionRephraseOrOfferHuman(Action):
    """First ask to rephrase; after ``fallbacks_before_offer`` misunderstandings in a row, offer a person."""

    def name(self) -> str:
        return "action_rephrase_or_offer_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        if trailing_run(tracker.events, is_not_understood) >= get_action_settings().fallbacks_before_offer:
            return offer_human(dispatcher, "utter_offer_human_fallback", "repeated_fallback")
        dispatcher.utter_message(response="utter_ask_rephrase")
        return []
