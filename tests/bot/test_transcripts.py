"""The transcript archive of continued sessions (rasa_server/transcripts.py) with Rasa's in-memory tracker store and
with ours in the real Redis of these machines (127.0.0.1:6379; skipped, saying so, where none answers), each wrapped
in Rasa's FailSafeTrackerStore as the agent wraps it."""

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from rasa.core.tracker_store import FailSafeTrackerStore, InMemoryTrackerStore, TrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import (ActionExecuted, BotUttered, Event, Restarted, SessionStarted, SlotSet,
                                     UserUttered)
from rasa.shared.core.trackers import DialogueStateTracker

from rasa_server import long_sessions, scaling, transcripts
from rasa_server.tracker_store import LatestSessionRedisTrackerStore
from test_scaling import redis_or_skip
from trackers import DOMAIN

STARTED = 1_700_000_000.0  # when the conversations here began (Rasa takes a timestamp of 0 for "now")
RATING_BUTTONS = [{"title": str(n), "payload": f'/rate_support{{"rating": {n}}}'} for n in range(1, 6)]


def turns(first: int, count: int) -> list[Event]:
    """``count`` turns of a customer message and the bot's reply, numbered from ``first``, a second apart."""
    events: list[Event] = []
    for turn in range(first, first + count):
        events += [UserUttered(f"message {turn}", {"name": "greet"}, timestamp=STARTED + 2 * turn),
                   BotUttered(f"reply {turn}", timestamp=STARTED + 2 * turn + 1), ActionExecuted(ACTION_LISTEN_NAME)]
    return events


def texts_of_turns(first: int, count: int) -> list[str]:
    return [text for turn in range(first, first + count) for text in (f"message {turn}", f"reply {turn}")]


def texts(messages: list[dict[str, Any]]) -> list[str]:
    return [message["text"] for message in messages]


def new_conversation(*events: Event) -> DialogueStateTracker:
    start = [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted(ACTION_LISTEN_NAME),
             SlotSet("verified", True)]
    return DialogueStateTracker.from_events("someone", start + list(events), slots=DOMAIN.slots)


async def continued(store: TrackerStore, tracker: DialogueStateTracker, *events: Event) -> DialogueStateTracker:
    """What long_sessions does before a message: archive the session, continue it; then the turn's ``events`` and the
    save. Returns the conversation as the next message retrieves it."""
    transcripts.archive_session(store, tracker)
    tracker.update_with_events(long_sessions.continuation(tracker, DOMAIN) + list(events), DOMAIN)
    await store.save(tracker)
    return await store.retrieve(tracker.sender_id)


def redis_store(prefix: str) -> LatestSessionRedisTrackerStore:
    return LatestSessionRedisTrackerStore(DOMAIN, host="127.0.0.1", port=6379, db=0, key_prefix=prefix,
                                          record_exp=scaling.TRACKER_TTL_SECONDS)


@pytest.fixture(params=["in-memory", "redis"])
def stores(request: pytest.FixtureRequest) -> Iterator[tuple[TrackerStore, TrackerStore]]:
    """The store a worker writes through and the one another worker reads through (the same one in memory)."""
    if request.param == "in-memory":
        store = FailSafeTrackerStore(InMemoryTrackerStore(DOMAIN))
        yield store, store
        return
    client = redis_or_skip()
    prefix = f"test{secrets.token_hex(4)}"
    first_worker, second_worker = (FailSafeTrackerStore(redis_store(prefix)) for _ in range(2))
    yield first_worker, second_worker
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)


async def test_every_message_is_shown_after_continuations(stores: tuple[TrackerStore, TrackerStore]) -> None:
    writer, reader = stores
    rating = BotUttered("How did we do?", {"buttons": RATING_BUTTONS}, timestamp=STARTED + 5.5)
    tracker = new_conversation(*turns(0, 3), rating)
    await writer.save(tracker)
    first_session = transcripts.conversation_messages(reader, await reader.retrieve("someone"))
    clicked = UserUttered(RATING_BUTTONS[4]["payload"], {"name": "rate_support"}, timestamp=STARTED + 6)
    tracker = await continued(writer, await writer.retrieve("someone"), clicked,
                              BotUttered("Thanks for rating us 5 out of 5", timestamp=STARTED + 7))
    tracker = await continued(writer, tracker, *turns(4, 2))

    assert long_sessions.turns_in_session(tracker) == 2 and tracker.get_slot("verified") is True
    shown = transcripts.conversation_messages(reader, await reader.retrieve("someone"))
    assert shown[:len(first_session)] == first_session  # exactly as shown before: buttons, timestamps
    assert [m["text"] for m in shown if m["sender"] == "user"] == [
        "message 0", "message 1", "message 2", "5", "message 4", "message 5"]  # the click across the continuation
    assert shown[6]["buttons"] == RATING_BUTTONS
    assert [m["timestamp"] for m in shown] == sorted(m["timestamp"] for m in shown)


async def test_a_continuation_done_again_archives_nothing_twice(stores: tuple[TrackerStore, TrackerStore]) -> None:
    writer, reader = stores
    tracker = await continued(writer, new_conversation(*turns(0, 2)), *turns(2, 2))
    transcripts.archive_session(writer, tracker)  # the second continuation, whose turn then failed before the save
    assert texts(transcripts.conversation_messages(reader, tracker)) == texts_of_turns(0, 4)  # meanwhile, and ...
    await continued(writer, tracker, *turns(4, 1))  # ... when the next message continues the session again
    assert texts(transcripts.archive_of(reader).messages("someone")) == texts_of_turns(0, 4)


async def test_a_restart_starts_the_history_again(stores: tuple[TrackerStore, TrackerStore]) -> None:
    writer, reader = stores
    tracker = await continued(writer, new_conversation(*turns(0, 3)), *turns(3, 3))
    tracker.update_with_events([  # as Rasa restarts: action_restart, then action_session_start at once
        UserUttered("/restart", {"name": "restart"}, timestamp=STARTED + 12.5), ActionExecuted("action_restart"),
        Restarted(), ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted(ACTION_LISTEN_NAME),
        *turns(7, 3)], DOMAIN)
    await writer.save(tracker)
    tracker = await reader.retrieve("someone")
    assert texts(transcripts.conversation_messages(reader, tracker)) == texts_of_turns(7, 3)
    tracker = await continued(writer, tracker, *turns(10, 1))  # the archive starts again too
    assert texts(transcripts.archive_of(reader).messages("someone")) == texts_of_turns(7, 3)
    assert texts(transcripts.conversation_messages(reader, tracker)) == texts_of_turns(7, 4)


async def test_a_conversation_keeps_its_latest_messages(stores: tuple[TrackerStore, TrackerStore]) -> None:
    writer, reader = stores
    tracker = new_conversation(*turns(0, 200))
    for first in (200, 400):
        tracker = await continued(writer, tracker, *turns(first, 200))
    assert texts(transcripts.conversation_messages(reader, tracker)) == texts_of_turns(350, 250)
    assert texts(transcripts.archive_of(reader).messages("someone")) == texts_of_turns(150, 250)


async def test_the_redis_archive_expires_with_the_tracker_record() -> None:
    client = redis_or_skip()
    prefix = f"test{secrets.token_hex(4)}"
    store = redis_store(prefix)
    try:
        await continued(store, new_conversation(*turns(0, 3)), *turns(3, 1))
        archive, tracker_record = f"{prefix}:transcript:someone", f"{prefix}:tracker:someone"
        assert client.llen(archive) == 6
        assert 0 < client.ttl(archive) <= client.ttl(tracker_record) <= scaling.TRACKER_TTL_SECONDS
        assert {key.decode() for key in client.scan_iter(match=f"{prefix}:*")} == {
            archive, tracker_record}  # beside the tracker, not among the store's keys
        assert list(await store.keys()) == [tracker_record]
    finally:
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)
