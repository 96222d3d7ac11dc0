"""Yes or no to the question the bot asked last: every question that needs one leaves ``pending_change`` behind.

``pending_change`` is ``kind:argument``, e.g. ``cancel:SO-1234567``, ``return:SO-1234567``, ``contact``,
``retention``, ``close`` or ``handoff:complaint``; ``action_check_turn`` clears it when the customer moves on.
"""

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.closing import answer_closing, answer_retention_offer
from actions.contact import answer_contact_change
from actions.customer import VerifiedCustomer, run_for_customer
from actions.handoff import hand_off
from actions.orders import answer_cancellation, answer_return
from actions.parsing import intent_name, split_change

CUSTOMER_ANSWERS = {
    "cancel": answer_cancellation,
    "return": answer_return,
    "retention": answer_retention_offer,
    "close": answer_closing,
}


class ActionAnswerConfirmation(Action):
    def name(self) -> str:
        return "action_answer_confirmation"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        kind, argument = split_change(tracker.get_slot("pending_change"))
        yes = intent_name(tracker.latest_message) == "affirm"
        events: list[EventType] = [SlotSet("pending_change", None)]
        if kind in CUSTOMER_ANSWERS:
            answer = CUSTOMER_ANSWERS[kind]

            async def work(d: CollectingDispatcher, customer: VerifiedCustomer) -> list[EventType]:
                return await answer(d, customer, argument, yes)

            return events + await run_for_customer(dispatcher, tracker, work)
        if kind == "contact":
            return events + await answer_contact_change(dispatcher, tracker, yes)
        if kind == "handoff" and yes:
            return events + await hand_off(dispatcher, tracker, argument)
        dispatcher.utter_message(response="utter_anything_else" if kind == "handoff" else "utter_nothing_to_confirm")
        return events
