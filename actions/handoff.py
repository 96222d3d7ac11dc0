"""Handing the conversation to a human agent through a CRM ticket, with the reason (the CRM's HandoffReason)."""

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.crm_client import CrmClient, CrmRefused, CrmUnavailable

TRANSCRIPT_TURNS = 30
REASONS = ("customer_request", "repeated_fallback", "negative_sentiment", "complaint", "service_unavailable")


def transcript(tracker: Tracker) -> list[dict[str, str]]:
    """The last turns of the conversation as the CRM's ticket transcript."""
    entries = []
    for event in tracker.events:
        if event.get("event") == "user" and event.get("text"):
            entries.append({"sender": "customer", "text": event["text"][:5000]})
        elif event.get("event") == "bot" and event.get("text"):
            entries.append({"sender": "bot", "text": event["text"][:5000]})
    return entries[-TRANSCRIPT_TURNS:]


async def hand_off(dispatcher: CollectingDispatcher, tracker: Tracker, reason: str) -> list[EventType]:
    """Queue a ticket for the conversation; an expired verification queues it anonymously."""
    client = CrmClient()
    request = {"conversation_id": tracker.sender_id, "reason": reason if reason in REASONS else "customer_request",
               "transcript": transcript(tracker)}
    try:
        try:
            ticket = await client.create_handoff(**request, token=tracker.get_slot("crm_token"))
        except CrmRefused as refusal:
            if refusal.code != "customer_verification_required":
                raise
            ticket = await client.create_handoff(**request, token=None)
    except (CrmUnavailable, CrmRefused):
        dispatcher.utter_message(response="utter_handoff_unavailable")
        return []
    dispatcher.utter_message(response="utter_handoff_queued", ticket_id=ticket["id"])
    return []


class ActionHandoffToHuman(Action):
    def name(self) -> str:
        return "action_handoff_to_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        return await hand_off(dispatcher, tracker, "customer_request")
