"""Handoff actions with CollectingDispatcher and real trackers against the real CRM: queueing with honest availability,
agent messages delivered once, the handback with the note and the rating, and the high-churn complaint trigger."""

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pytest
from rasa.shared.core.events import UserUttered
from rasa_sdk.executor import CollectingDispatcher

from actions.config import get_action_settings
from actions.handoff import ActionDeliverAgentMessages, ActionHandback, ActionHandoffToHuman
from actions.rating import ActionRateSupport
from actions.support import ActionAcknowledgeComplaint, ActionCheckTurn
from conftest import Crm, free_port, start_crm
from event_brokers.crm_interactions import CrmInteractionLog
from ops.processes import stop
from shop import ShopCustomer, customer_where
from test_actions import conversation
from test_order_actions import verified
from trackers import DOMAIN_DICT, make_tracker

NEGATIVE = {"label": "negative", "score": 0.9}
QUEUED = ("utter_handoff_waiting", "utter_handoff_nobody_online")  # depends on whether an agent signed in this minute


def slots_of(events: list[dict]) -> dict:
    return {e["name"]: e["value"] for e in events if e["event"] == "slot"}


def kinds(events: list[dict]) -> list[str]:
    return [e["event"] for e in events if e["event"] != "slot"]


async def run(action, **tracker_args) -> tuple[list[dict], list[dict]]:  # type: ignore[no-untyped-def]
    dispatcher = CollectingDispatcher()
    events = await action.run(dispatcher, make_tracker(**tracker_args), DOMAIN_DICT)
    return dispatcher.messages, events


def ticket(crm: Crm, ticket_id: int) -> dict:
    return httpx.get(f"{crm.url}/api/v1/handoffs/{ticket_id}", headers=crm.agent_headers()).json()


def agent_post(crm: Crm, path: str, body: dict | None = None, agent: str = "alice") -> httpx.Response:
    response = httpx.post(f"{crm.url}/api/v1{path}", json=body, headers=crm.agent_headers(agent))
    assert response.status_code < 300, response.text
    return response


async def handed_over(sender: str, slots: dict | None = None) -> tuple[int, dict]:
    """Hand the conversation over; the ticket id and the slots the bot would then hold."""
    messages, events = await run(ActionHandoffToHuman(), sender_id=sender, slots=slots, text="a person please",
                                 intent="request_human")
    set_slots = slots_of(events)
    return int(set_slots["handoff_ticket_id"]), (slots or {}) | set_slots


@contextmanager
def another_crm(crm: Crm, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, **env: str) -> Iterator[Crm]:
    """A second CRM process with other settings, on its own copy of the database where no agent has been seen yet
    (signing in counts as being online for a minute), for the actions to use."""
    copy = tmp_path / "crm-copy.sqlite3"
    with sqlite3.connect(crm.database_url.removeprefix("sqlite:///")) as source, sqlite3.connect(copy) as target:
        source.backup(target)
        target.execute("UPDATE agents SET last_seen_at = NULL")
    extra = env | {"CRM_DATABASE_URL": f"sqlite:///{copy}"}
    port = free_port()
    process = start_crm(crm, port, tmp_path / "crm-variant.log", extra)
    variant = Crm(f"http://127.0.0.1:{port}", crm.actions_key, crm.outbox, extra["CRM_DATABASE_URL"], crm.agent_password,
                  crm.env | extra)
    monkeypatch.setenv("CRM_URL", variant.url)
    get_action_settings.cache_clear()
    try:
        yield variant
    finally:
        stop(process)
        monkeypatch.setenv("CRM_URL", crm.url)
        get_action_settings.cache_clear()


async def test_handoff_pauses_the_bot_and_says_nobody_is_online(crm_env: Crm, monkeypatch: pytest.MonkeyPatch,
                                                                 tmp_path: Path) -> None:
    customer = customer_where(crm_env, "o.status = 'delivered'")
    sender = conversation()
    with another_crm(crm_env, monkeypatch, tmp_path) as crm:
        messages, events = await run(ActionHandoffToHuman(), sender_id=sender, slots=await verified(customer),
                                     text="a person please", intent="request_human")
        ticket_id = int(slots_of(events)["handoff_ticket_id"])
        queued = ticket(crm, ticket_id)
    [said] = messages
    assert said["response"] == "utter_handoff_nobody_online" and said["custom"] == {"handoff": {"event": "offline"}}
    assert kinds(events) == ["pause"]
    assert slots_of(events) == {"handoff_active": True, "handoff_cursor": 0, "handoff_ticket_id": ticket_id, "handoff_agent": None}
    assert said["ticket_id"] == ticket_id
    assert (queued["conversation_id"], queued["customer_id"], queued["status"]) == (sender, customer.id, "waiting")


async def test_an_agent_online_is_being_found(crm_env: Crm, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with another_crm(crm_env, monkeypatch, tmp_path) as crm:
        agent_post(crm, "/agents/me/heartbeat", agent="ben")
        [said], events = await run(ActionHandoffToHuman(), sender_id=conversation(), text="human", intent="request_human")
    assert said["response"] == "utter_handoff_waiting" and said["custom"] == {"handoff": {"event": "waiting"}}
    assert kinds(events) == ["pause"]


async def test_outside_support_hours_the_hours_are_said(crm_env: Crm, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    closed_hour = (datetime.now(timezone.utc).hour + 12) % 24
    hours = f"Mon-Sun {closed_hour:02d}:00-{closed_hour + 1:02d}:00"
    with another_crm(crm_env, monkeypatch, tmp_path, CRM_SUPPORT_HOURS=hours, CRM_SUPPORT_TIMEZONE="UTC"):
        [said], events = await run(ActionHandoffToHuman(), sender_id=conversation(), text="human", intent="request_human")
    assert said["response"] == "utter_handoff_outside_hours" and said["custom"] == {"handoff": {"event": "offline"}}
    assert f"{closed_hour:02d}:00" in said["hours"] and f"at {closed_hour:02d}:00" in said["next_opening"]
    assert kinds(events) == ["pause"]


async def test_the_transcript_carries_message_ids_so_the_agent_sees_each_customer_message_once(crm_env: Crm) -> None:
    """Rasa logs the message that triggered the handoff after the ticket is opened with a transcript that has it: the
    CRM knows it by its id. The same words said again later are a new message the agent gets."""
    sender, first_id, trigger_id = conversation(), uuid.uuid4().hex, uuid.uuid4().hex
    history = [{"event": "user", "text": "my lamp flickers", "message_id": first_id, "parse_data": {}},
               {"event": "bot", "text": "Have you tried another bulb?"}]
    _, events = await run(ActionHandoffToHuman(), sender_id=sender, history=history, text="a person please",
                          intent="request_human", message_id=trigger_id)
    ticket_id = int(slots_of(events)["handoff_ticket_id"])
    assert [(entry["sender"], entry["text"], entry.get("message_id")) for entry in ticket(crm_env, ticket_id)["transcript"]] == [
        ("customer", "my lamp flickers", first_id), ("bot", "Have you tried another bulb?", None),
        ("customer", "a person please", trigger_id)]

    log = CrmInteractionLog(crm_env.url, crm_env.actions_key)
    for message_id in (trigger_id, uuid.uuid4().hex):  # the trigger, published after its turn; then said again
        log.publish({"sender_id": sender, **UserUttered("a person please", {}, input_channel="app",
                                                        message_id=message_id).as_dict()})
    await log.close()
    assert [(m["sender"], m["text"]) for m in ticket(crm_env, ticket_id)["messages"]] == [("customer", "a person please")]


async def test_agent_messages_are_delivered_once_then_handed_back_with_the_note(crm_env: Crm) -> None:
    sender = conversation()
    ticket_id, slots = await handed_over(sender)
    messages, events = await run(ActionDeliverAgentMessages(), sender_id=sender, slots=slots, paused=True)
    assert messages == [] and slots_of(events)["handoff_cursor"] == 0  # nobody has joined yet

    agent_post(crm_env, f"/handoffs/{ticket_id}/claim")
    agent_post(crm_env, f"/handoffs/{ticket_id}/messages", {"text": "Hi, I'm looking at your order now."})
    messages, events = await run(ActionDeliverAgentMessages(), sender_id=sender, slots=slots, paused=True)
    assert [m["custom"]["handoff"] for m in messages] == [{"event": "agent_joined", "agent": "Alice"},
                                                         {"event": "agent_message", "agent": "Alice"}]
    assert "Alice" in messages[0]["text"] and messages[1]["text"] == "Hi, I'm looking at your order now."
    slots |= slots_of(events)
    assert slots["handoff_agent"] == "Alice" and slots["handoff_cursor"] > 0
    again, _ = await run(ActionDeliverAgentMessages(), sender_id=sender, slots=slots, paused=True)
    assert again == []  # each message once

    assert await run(ActionHandback(), sender_id=sender, slots=slots, paused=True) == ([], [])  # still open: no handback
    agent_post(crm_env, f"/handoffs/{ticket_id}/messages", {"text": "It leaves the warehouse tomorrow."})
    agent_post(crm_env, f"/handoffs/{ticket_id}/resolve", {"note": "Order SO-1 ships tomorrow."})
    messages, events = await run(ActionHandback(), sender_id=sender, slots=slots, paused=True)
    assert [m.get("response") for m in messages] == [None, "utter_handback_with_note", "utter_ask_support_rating"]
    assert messages[0]["text"] == "It leaves the warehouse tomorrow."  # the last reply is not lost
    assert (messages[1]["agent"], messages[1]["note"]) == ("Alice", "Order SO-1 ships tomorrow.")
    assert messages[1]["custom"] == {"handoff": {"event": "handed_back", "agent": "Alice"}}
    assert [b["payload"] for b in messages[2]["buttons"]] == [f'/rate_support{{"rating": {n}}}' for n in range(1, 6)]
    assert "resume" in kinds(events) and slots_of(events)["handoff_active"] is False


async def test_rating_is_stored_once_and_out_of_range_is_asked_again(crm_env: Crm) -> None:
    sender = conversation()
    ticket_id, slots = await handed_over(sender)
    agent_post(crm_env, f"/handoffs/{ticket_id}/claim")
    agent_post(crm_env, f"/handoffs/{ticket_id}/resolve", {"note": ""})
    [said], events = await run(ActionRateSupport(), sender_id=sender, slots=slots, text="10/10", intent="rate_support")
    assert said["response"] == "utter_rating_out_of_range" and len(said["buttons"]) == 5
    assert slots_of(events) == {"rating": None} and ticket(crm_env, ticket_id)["rating"] is None

    [said], events = await run(ActionRateSupport(), sender_id=sender, slots=slots | {"rating": 4.0},
                               text='/rate_support{"rating": 4}', intent="rate_support")
    assert (said["response"], said["rating"]) == ("utter_rating_thanks", 4)
    assert slots_of(events) == {"rating": None, "handoff_ticket_id": None}
    assert ticket(crm_env, ticket_id)["rating"] == 4

    [said], _ = await run(ActionRateSupport(), sender_id=sender, slots=slots, text="five stars", intent="rate_support")
    assert said["response"] == "utter_rating_already_given" and ticket(crm_env, ticket_id)["rating"] == 4  # once
    [said], _ = await run(ActionRateSupport(), text="5", intent="rate_support")
    assert said["response"] == "utter_rating_nothing_to_rate"  # no handoff in this conversation


async def test_the_turn_check_is_silent_while_a_person_has_the_conversation() -> None:
    angry = [{"event": "user", "text": "still nothing", "parse_data": {"intent": {"name": "track_order"}, "sentiment": NEGATIVE}}] * 5
    assert await run(ActionCheckTurn(), text="where is it!!", intent="track_order", history=angry, sentiment=NEGATIVE,
                     slots={"pending_change": "cancel:SO-1234567"}, paused=True) == ([], [])


def high_risk_customer(crm: Crm) -> ShopCustomer:
    """A customer in the churn model's high band (the CRM fixture trains the model at init)."""
    listing = httpx.get(f"{crm.url}/api/v1/churn/high-risk?limit=500", headers=crm.agent_headers()).json()
    ids = ",".join(str(c["customer_id"]) for c in listing["customers"])
    assert ids, "the demo data should have customers at high risk of leaving"
    return customer_where(crm, f"c.id IN ({ids})")


async def test_complaint_from_a_high_churn_customer_goes_to_a_person_at_once(crm_env: Crm) -> None:
    slots = await verified(high_risk_customer(crm_env))  # the band is asked from the CRM at the complaint
    sender = conversation()
    messages, events = await run(ActionAcknowledgeComplaint(), sender_id=sender, slots=slots, text="third late parcel!",
                                 intent="complain")
    assert [m["response"] for m in messages][0] == "utter_complaint_ack" and messages[1]["response"] in QUEUED
    assert kinds(events) == ["pause"]
    assert ticket(crm_env, int(slots_of(events)["handoff_ticket_id"]))["reason"] == "complaint"


async def test_the_high_churn_trigger_can_be_turned_off(crm_env: Crm, monkeypatch: pytest.MonkeyPatch) -> None:
    slots = await verified(high_risk_customer(crm_env))
    monkeypatch.setenv("HANDOFF_ON_HIGH_CHURN_COMPLAINT", "false")
    get_action_settings.cache_clear()
    messages, events = await run(ActionAcknowledgeComplaint(), slots=slots, text="awful", intent="complain")
    assert [m["response"] for m in messages] == ["utter_complaint_ack", "utter_offer_human"]
    assert slots_of(events) == {"pending_change": "handoff:complaint"}
    monkeypatch.delenv("HANDOFF_ON_HIGH_CHURN_COMPLAINT")
    get_action_settings.cache_clear()


def churn_band_of(crm: Crm, customer: ShopCustomer) -> str:
    return httpx.get(f"{crm.url}/api/v1/customers/{customer.id}/churn-risk", headers=crm.agent_headers()).json()["band"]


async def test_a_complaint_outside_the_high_band_is_offered_a_person(crm_env: Crm) -> None:
    customer = next(c for c in (customer_where(crm_env, "o.status = 'delivered'") for _ in range(5))
                    if churn_band_of(crm_env, c) != "high")
    for slots in ({}, await verified(customer)):  # not verified, and verified but not at high risk
        messages, _ = await run(ActionAcknowledgeComplaint(), slots=slots, text="awful", intent="complain")
        assert [m["response"] for m in messages] == ["utter_complaint_ack", "utter_offer_human"]


async def test_no_churn_model_means_an_offer_and_no_error(crm_env: Crm, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    customer = high_risk_customer(crm_env)
    with another_crm(crm_env, monkeypatch, tmp_path, CRM_MODELS_DIR=str(tmp_path / "no-models")):
        slots = await verified(customer)
        messages, _ = await run(ActionAcknowledgeComplaint(), slots=slots, text="awful", intent="complain")
    assert slots["verified"] is True
    assert [m["response"] for m in messages] == ["utter_complaint_ack", "utter_offer_human"]
