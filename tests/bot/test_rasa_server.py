"""How we start Rasa (rasa_server): its API secret kept off the command line, the speed-ups doing what Rasa did, and
long conversations continuing in a new session that keeps what the slots hold."""

import asyncio
import subprocess
import uuid
from pathlib import Path

import dask
import httpx
import pytest
from aiohttp import web
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.core.agent import Agent
from rasa.core.brokers.broker import EventBroker
from rasa.core.tracker_store import FailSafeTrackerStore, InMemoryTrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import (ActionExecuted, ActiveLoop, ConversationPaused, Event, SessionStarted, SlotSet,
                                     UserUttered)
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.utils.common import all_subclasses
from rasa.utils.endpoints import EndpointConfig

from conftest import MODEL, Bot, Crm, serving
from rasa_server import long_sessions, speedups
from rasa_server.__main__ import rasa_arguments
from test_app_channel import api_token
from test_conversations import logged_interactions, shipped_order_customer
from trackers import DOMAIN


def test_the_api_secret_comes_from_the_environment_only() -> None:
    assert rasa_arguments(["--enable-api", "--port", "5005"], {"RASA_JWT_SECRET": "-s" * 20}) == [
        "rasa", "run", "--enable-api", "--port", "5005", "--jwt-secret=" + "-s" * 20, "--jwt-method", "HS256"]
    assert rasa_arguments(["--port", "5005"], {}) == ["rasa", "run", "--port", "5005"]  # no API, no secret needed
    with pytest.raises(SystemExit, match="RASA_JWT_SECRET is not set"):
        rasa_arguments(["--enable-api"], {})
    with pytest.raises(SystemExit, match="not on the command line"):
        rasa_arguments(["--enable-api", "--jwt-secret", "s" * 40], {"RASA_JWT_SECRET": "s" * 40})
    with pytest.raises(SystemExit, match="not on the command line"):
        rasa_arguments(["--enable-api", "--jwt-secret=" + "s" * 40], {"RASA_JWT_SECRET": "s" * 40})


def test_action_results_are_checked_as_rasa_checks_them() -> None:
    speedups.apply()
    action = RemoteAction("action_check_turn", EndpointConfig("http://127.0.0.1:1"))
    assert action._validate_action_result({"events": [{"event": "slot", "name": "x", "value": 1}], "responses": []})
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        action._validate_action_result({"events": "not a list"})
    with pytest.raises(ValidationError):
        action._validate_action_result({"events": [{"no": "event name"}]})


async def test_an_endpoint_keeps_its_connection_until_it_idles(monkeypatch) -> None:
    """Requests through one endpoint share a connection; one left idle is closed by us, before the server would."""
    peers: list[tuple[str, int]] = []

    async def answer(request: web.Request) -> web.Response:
        peers.append(request.transport.get_extra_info("peername"))
        return web.json_response({"headers": {"token": request.headers.get("token")}, "body": await request.json()})

    app = web.Application()
    app.router.add_post("/webhook", answer)
    monkeypatch.setattr(speedups, "IDLE_CONNECTION_SECONDS", 0.3)
    speedups.apply()
    async with serving(app) as url:
        endpoint = EndpointConfig(f"{url}/webhook", headers={"token": "t"})
        answers = [await endpoint.request(json={"n": n}) for n in range(3)]
        assert answers == [{"headers": {"token": "t"}, "body": {"n": n}} for n in range(3)]  # Rasa's request, as before
        assert len(peers) == 3 and len(set(peers)) == 1
        await asyncio.sleep(0.6)
        await endpoint.request(json={"n": 3})
        assert len(set(peers)) == 2
        await endpoint.session().session.close()


def test_event_classes_are_found_as_rasa_finds_them() -> None:
    speedups.apply()
    for event_class in all_subclasses(Event):
        if getattr(event_class, "type_name", None) and not event_class.__name__.startswith("Definition"):
            assert Event.resolve_by_type(event_class.type_name) is speedups._rasa_resolve_by_type(event_class.type_name)
    assert Event.resolve_by_type("no such event", default=SlotSet) is SlotSet
    with pytest.raises(ValueError, match="Unknown event name"):
        Event.resolve_by_type("no such event")
    assert Event.from_parameters({"event": "slot", "name": "verified", "value": True}) == SlotSet("verified", True)


class RecordingBroker(EventBroker):
    def __init__(self) -> None:
        self.published: list[dict] = []

    def publish(self, event: dict) -> None:
        self.published.append(event)


async def test_a_save_streams_the_events_added_since_the_retrieval(monkeypatch) -> None:
    """What Rasa's diff against the stored tracker sends the broker, without reading the stored tracker back."""
    speedups.apply()
    broker = RecordingBroker()
    memory = InMemoryTrackerStore(DOMAIN, event_broker=broker)
    store = FailSafeTrackerStore(memory)
    await store.save(conversation_of(2))  # made here, not retrieved: Rasa's own diff, every event is new
    assert len(broker.published) == len(conversation_of(2).events)
    tracker = await store.retrieve("someone")
    assert tracker is not None
    broker.published.clear()
    reads: list[str] = []
    monkeypatch.setattr(memory, "deserialise_tracker", lambda *args: reads.append("read"))
    asked = [UserUttered("where is my order?", {"name": "order_status"}), ActionExecuted("utter_ask_email")]
    tracker.update_with_events(asked, DOMAIN)
    await store.save(tracker)
    listening = ActionExecuted(ACTION_LISTEN_NAME)
    tracker.update(listening)
    await store.save(tracker)  # saved again: only what came after the first save
    assert broker.published == [{"sender_id": "someone", **event.as_dict()} for event in [*asked, listening]]
    assert reads == []


async def test_the_model_runs_as_with_rasas_scheduler(monkeypatch) -> None:
    agent = Agent.load(str(MODEL))
    texts = ["hi", "where is my order?", "this is ridiculous, I want my money back", "my email is jane@example.com",
             "how long does delivery take?"]
    monkeypatch.setattr(dask, "get", speedups._rasa_dask_get)
    expected = [await agent.parse_message(text) for text in texts]
    speedups.apply()
    assert dask.get is not speedups._rasa_dask_get
    assert [await agent.parse_message(text) for text in texts] == expected


def conversation_of(turns: int, *extra: Event) -> DialogueStateTracker:
    events: list[Event] = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted(ACTION_LISTEN_NAME),
                           SlotSet("verified", True), SlotSet("customer_first_name", "Jane")]
    for turn in range(turns):
        events += [UserUttered(f"message {turn}", {"name": "greet"}), ActionExecuted("utter_greet"),
                   ActionExecuted(ACTION_LISTEN_NAME)]
    return DialogueStateTracker.from_events("someone", events + list(extra), slots=DOMAIN.slots)


def test_a_long_session_continues_only_at_a_quiet_point() -> None:
    assert long_sessions.turns_in_session(conversation_of(5)) == 5
    assert not long_sessions.should_continue_in_new_session(conversation_of(4), limit=5)
    assert long_sessions.should_continue_in_new_session(conversation_of(5), limit=5)
    assert not long_sessions.should_continue_in_new_session(conversation_of(5, ActiveLoop("verify_identity_form")), 5)
    assert not long_sessions.should_continue_in_new_session(conversation_of(5, ConversationPaused()), limit=5)
    assert not long_sessions.should_continue_in_new_session(conversation_of(5, SlotSet("pending_change", "close")), 5)


def test_the_continuation_keeps_every_slot() -> None:
    tracker = conversation_of(6)
    before = tracker.current_slot_values()
    tracker.update_with_events(long_sessions.continuation(tracker, DOMAIN), DOMAIN)
    assert tracker.current_slot_values() == before and tracker.get_slot("verified") is True
    assert long_sessions.turns_in_session(tracker) == 0


def test_the_api_secret_is_not_on_rasas_command_line(short_sessions: tuple[Bot, "subprocess.Popen[bytes]"]) -> None:
    bot, process = short_sessions
    command_line = Path(f"/proc/{process.pid}/cmdline").read_bytes().decode()
    assert "rasa_server" in command_line and bot.api_secret not in command_line


def test_a_verified_customer_stays_verified_across_the_continuation(
        short_sessions: tuple[Bot, "subprocess.Popen[bytes]"], crm: Crm) -> None:
    bot, _ = short_sessions
    customer_id, email, postcode, order_number, tracking = shipped_order_customer(crm, 2)
    me = f"u-{uuid.uuid4().hex}"
    assert "confirm it's you" in bot.texts(me, "hi, where is my order?")
    assert "postcode" in bot.texts(me, f"my email is {email}")
    assert tracking in bot.texts(me, postcode)
    bot.texts(me, "thanks a lot")  # the fourth message: the session is continued first
    reply = bot.texts(me, "where is my order?")
    assert "confirm it's you" not in reply and tracking in reply, reply

    admin = {"Authorization": f"Bearer {api_token(bot.api_secret)}"}
    events = httpx.get(f"{bot.url}/conversations/app-{me}/tracker", headers=admin).json()["events"]
    kinds = [event["event"] for event in events]
    assert kinds.count("session_started") == 1 and kinds.count("user") == 2  # only the continued session is kept
    carried = {e["name"]: e["value"] for e in events[kinds.index("session_started"):kinds.index("user")] if e["event"] == "slot"}
    assert carried["verified"] is True and carried["customer_id"] == customer_id
    # the interaction log still attributes the customer's messages after the continuation
    assert sorted(i["intent"] for i in logged_interactions(crm, customer_id, expected=2)) == ["thank", "track_order"]
