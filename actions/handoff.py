"""Handing the conversation to a human agent through a CRM ticket."""

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.crm_client import CrmClient, CrmRefused, CrmUnavailable

TRANSCRIPT_TURNS = 30


def transcript(tracker: Tracker) -> list[dict[str, str]]:
    """The last turns of the conversation as the CRM's ticket transcript."""
    entries = []
    for event in tracker.events:
        if event.get("event") == "user" and event.get("text"):
            entries.append({"sender": "customer", "text": event["text"][:5000]})
        elif event.get("event") == "bot" and event.get("text"):
            entries.append({"sender": "bot", "text": event["text"][:5000]})
    return entries[-TRANSCRIPT_TURNS:]


class ActionHandoffToHuman(Action):
    def name(self) -> str:
        return "action_handoff_to_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        client = CrmClient()
        request = {"conversation_id": tracker.sender_id, "reason": "customer_request", "transcript": transcript(tracker)}
        try:
            try:
                ticket = await client.create_handoff(**request, token=tracker.get_slot("crm_token"))
            except CrmRefused as refusal:
                if refusal.code != "customer_verification_required":
                    raise
                ticket = await client.create_handoff(**request, token=None)  # expired verification: queue anonymously
        except (CrmUnavailable, CrmRefused):
            dispatcher.utter_message(response="utter_handoff_unavailable")
            return []
        dispatcher.utter_message(response="utter_handoff_queued", ticket_id=ticket["id"])
        return []
