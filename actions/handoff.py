"""Handing the conversation to a person from the support team, delivering their messages, and taking it back.

See docs/handoff.md: ``action_handoff_to_human`` queues a CRM ticket and pauses the bot; the CRM then runs
``action_deliver_agent_messages`` after each agent message and ``action_handback`` when the agent resolves the ticket
(through Rasa's HTTP API). The slots ``handoff_*`` remember the ticket, its agent and the last message delivered.
"""

from datetime import datetime
from typing import Any

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ConversationPaused, ConversationResumed, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.crm_client import CrmClient, CrmRefused, CrmUnavailable
from event_brokers.message_ids import crm_message_id

TRANSCRIPT_TURNS = 30
REASONS = ("customer_request", "repeated_fallback", "negative_sentiment", "complaint", "service_unavailable")
# what the customer's chat shows for each kind of ticket message; the customer's own messages are not sent back
HANDOFF_EVENTS = {"system": "agent_joined", "agent": "agent_message"}
RATING_BUTTONS = [{"title": str(stars), "payload": f'/rate_support{{"rating": {stars}}}'} for stars in range(1, 6)]


def transcript(tracker: Tracker) -> list[dict[str, str]]:
    """The last turns of the conversation as the CRM's ticket transcript; a customer message carries Rasa's message id,
    by which the CRM knows it when the interaction log brings it later (the triggering message always comes later)."""
    entries = []
    for event in tracker.events:
        if event.get("event") == "user" and event.get("text"):
            entries.append(customer_entry(event))
        elif event.get("event") == "bot" and event.get("text"):
            entries.append({"sender": "bot", "text": event["text"][:5000]})
    return entries[-TRANSCRIPT_TURNS:]


def customer_entry(event: dict[str, Any]) -> dict[str, str]:
    entry = {"sender": "customer", "text": event["text"][:5000]}
    message_id = crm_message_id(event)
    if message_id:
        entry["message_id"] = message_id
    return entry


def tell_availability(dispatcher: CollectingDispatcher, ticket: dict[str, Any]) -> None:
    """Say honestly whether someone can answer now; the widget learns it from the custom ``handoff`` event."""
    availability = ticket["availability"]
    if availability["agents_online"]:
        response, event, extra = "utter_handoff_waiting", "waiting", {}
    elif not availability["within_hours"]:
        opening = availability["next_opening"]
        extra = {"hours": availability["hours"], "next_opening": f" when they're back, {format_opening(opening)}" if opening else ""}
        response, event = "utter_handoff_outside_hours", "offline"
    else:
        response, event, extra = "utter_handoff_nobody_online", "offline", {}
    dispatcher.utter_message(response=response, ticket_id=ticket["id"], json_message={"handoff": {"event": event}}, **extra)


def format_opening(iso: str) -> str:
    """``2025-11-25T09:00:00+00:00`` -> ``Tuesday 25 November at 09:00`` (in the support team's time zone)."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).strftime("%A %-d %B at %H:%M")


async def hand_off(dispatcher: CollectingDispatcher, tracker: Tracker, reason: str) -> list[EventType]:
    """Queue a ticket and pause the bot; an expired verification queues it anonymously, a CRM failure keeps the bot on."""
    client = CrmClient()
    request = {"conversation_id": tracker.sender_id, "reason": reason if reason in REASONS else "customer_request",
               "channel": tracker.get_latest_input_channel(), "transcript": transcript(tracker)}  # no channel: the CRM's guess
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
    tell_availability(dispatcher, ticket)
    return [SlotSet("handoff_active", True), SlotSet("handoff_cursor", 0), SlotSet("handoff_ticket_id", float(ticket["id"])),
            SlotSet("handoff_agent", None), ConversationPaused()]


def deliver(dispatcher: CollectingDispatcher, tracker: Tracker, handoff: dict[str, Any]) -> list[EventType]:
    """Utter the ticket's new agent and system messages and move the cursor past everything read."""
    cursor = int(tracker.get_slot("handoff_cursor") or 0)
    agent = handoff["ticket"].get("agent") or tracker.get_slot("handoff_agent")
    for message in handoff["messages"]:
        if message["id"] <= cursor:
            continue
        cursor = message["id"]
        if message["sender"] in HANDOFF_EVENTS:
            custom = {"handoff": {"event": HANDOFF_EVENTS[message["sender"]], "agent": message.get("author") or agent}}
            dispatcher.utter_message(text=message["text"], json_message=custom)
    return [SlotSet("handoff_cursor", float(cursor)), SlotSet("handoff_agent", agent)]


async def read_handoff(tracker: Tracker) -> dict[str, Any] | None:
    """The conversation's latest ticket and its agent and system messages after the cursor; None when the CRM can't say."""
    try:
        return await CrmClient().conversation_handoff(conversation_id=tracker.sender_id,
                                                      after=int(tracker.get_slot("handoff_cursor") or 0))
    except (CrmUnavailable, CrmRefused):
        return None


def ask_rating(dispatcher: CollectingDispatcher, response: str) -> None:
    dispatcher.utter_message(response=response, buttons=RATING_BUTTONS)


class ActionHandoffToHuman(Action):
    def name(self) -> str:
        return "action_handoff_to_human"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        return await hand_off(dispatcher, tracker, "customer_request")


class ActionDeliverAgentMessages(Action):
    """Run by the CRM after an agent joins or writes; a CRM that can't be read now is caught up on the next call."""

    def name(self) -> str:
        return "action_deliver_agent_messages"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        handoff = await read_handoff(tracker)
        return deliver(dispatcher, tracker, handoff) if handoff else []


class ActionHandback(Action):
    """Run by the CRM when the agent resolves the ticket: last messages, who helped and their note, then a rating."""

    def name(self) -> str:
        return "action_handback"

    async def run(self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict) -> list[EventType]:
        handoff = await read_handoff(tracker)
        ticket = handoff["ticket"] if handoff else {}
        if handoff is not None and ticket["status"] != "resolved":
            return []  # the ticket is still open: the person keeps the conversation
        events = deliver(dispatcher, tracker, handoff) if handoff else []
        agent = ticket.get("agent") or tracker.get_slot("handoff_agent") or "A colleague"
        note = (ticket.get("resolution_note") or "").strip()
        handed_back = {"handoff": {"event": "handed_back", "agent": agent}}
        if note:
            dispatcher.utter_message(response="utter_handback_with_note", agent=agent, note=note, json_message=handed_back)
        else:
            dispatcher.utter_message(response="utter_handback", agent=agent, json_message=handed_back)
        ask_rating(dispatcher, "utter_ask_support_rating")
        # the customer's next message answers this turn, as if the bot had listened after it
        return events + [ConversationResumed(), SlotSet("handoff_active", False), ActionExecuted("action_listen")]
