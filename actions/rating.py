"""The customer's 1-5 rating of the help a person gave them, asked for at the handback and stored on the CRM ticket."""

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.crm_client import CrmClient, CrmRefused, CrmUnavailable
from actions.handoff import ask_rating
from actions.parsing import find_rating

RATINGS = range(1, 6)


class ActionRateSupport(Action):
    def name(self) -> str:
        return "action_rate_support"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        ticket_id = tracker.get_slot("handoff_ticket_id")
        if ticket_id is None:
            dispatcher.utter_message(response="utter_rating_nothing_to_rate")
            return [SlotSet("rating", None)]
        given = tracker.get_slot("rating")
        rating = int(given) if given is not None and float(given).is_integer() else find_rating(tracker.latest_message.get("text") or "")
        if rating not in RATINGS:
            ask_rating(dispatcher, "utter_rating_out_of_range")
            return [SlotSet("rating", None)]
        try:
            await CrmClient().rate_handoff(ticket_id=int(ticket_id), rating=rating)
        except CrmUnavailable:
            dispatcher.utter_message(response="utter_rating_not_saved")
            return [SlotSet("rating", None)]
        except CrmRefused as refusal:  # rated already, or the ticket is not resolved (or gone): nothing to store
            dispatcher.utter_message(response="utter_rating_already_given" if refusal.code == "already_rated"
                                     else "utter_rating_nothing_to_rate")
            return [SlotSet("rating", None), SlotSet("handoff_ticket_id", None)]
        dispatcher.utter_message(response="utter_rating_thanks", rating=rating)
        return [SlotSet("rating", None), SlotSet("handoff_ticket_id", None)]
