"""What the customer was shown in the sessions that ``long_sessions`` closed, kept so the widget can show it again.

A long conversation continues in a new session every ``SESSION_MAX_TURNS`` customer messages (``long_sessions.py``)
and the tracker stores keep only the latest session, so that a reply costs the same at turn 300 as at turn 10. The
website widget shows the whole conversation after a reload or in a new tab (``channels/web_channel.py``), so when a
session is continued its messages, as the widget shows them, go to an archive kept with the tracker store: in Redis
for ``LatestSessionRedisTrackerStore`` (one list per conversation under the store's key prefix, expiring like the
tracker record, so every worker reads it), in the process's memory for any other store (Rasa's in-memory store, as
``make run`` uses it). A conversation keeps its last ``MAX_KEPT_MESSAGES`` messages. The archive is written once per
continuation and read for a widget's ``history``; other turns never touch it.

The archive is about continuations only: it holds the sessions before the current one as long as each was continued
from the one before (a continuation marks its ``SessionStarted``). A session Rasa starts itself (the first one, after
``/restart``, or after ``session_expiration_time`` of silence, which here forgets the slots too) begins the
conversation again: the history then starts with it, as the tracker store's does, and the next continuation replaces
the archive instead of adding to it.
"""

import json
from collections import deque
from typing import Any, Protocol

import redis
from rasa.core.tracker_store import DEFAULT_REDIS_TRACKER_STORE_KEY_PREFIX, FailSafeTrackerStore, TrackerStore
from rasa.shared.core.events import SessionStarted
from rasa.shared.core.trackers import DialogueStateTracker

from channels.messages import shown_messages
from rasa_server.tracker_store import LatestSessionRedisTrackerStore

MAX_KEPT_MESSAGES = 500  # per conversation: the archive and the widget's history keep the latest ones
ARCHIVE = "_transcript_archive"  # attribute of a tracker store: the archive kept with it
REDIS_KEY = "transcript:"  # after the user's key prefix, where Rasa's Redis store puts "tracker:"
CONTINUED = "continued"  # in the metadata of a continuation's SessionStarted: the sessions before it are archived


class TranscriptArchive(Protocol):
    """Per conversation, the messages of its archived sessions as the widget shows them, oldest first."""

    def messages(self, conversation_id: str) -> list[dict[str, Any]]: ...

    def last_message(self, conversation_id: str) -> dict[str, Any] | None: ...

    def add(self, conversation_id: str, messages: list[dict[str, Any]], start_over: bool) -> None:
        """Append ``messages`` to the conversation's, or with ``start_over`` replace those."""


class MemoryTranscriptArchive:
    """In this process, as Rasa's in-memory tracker store keeps the conversations."""

    def __init__(self) -> None:
        self.kept: dict[str, deque[dict[str, Any]]] = {}

    def messages(self, conversation_id: str) -> list[dict[str, Any]]:
        return list(self.kept.get(conversation_id, ()))

    def last_message(self, conversation_id: str) -> dict[str, Any] | None:
        kept = self.kept.get(conversation_id)
        return kept[-1] if kept else None

    def add(self, conversation_id: str, messages: list[dict[str, Any]], start_over: bool) -> None:
        if start_over or conversation_id not in self.kept:
            self.kept[conversation_id] = deque(maxlen=MAX_KEPT_MESSAGES)
        self.kept[conversation_id].extend(messages)


class RedisTranscriptArchive:
    """A Redis list of JSON messages per conversation, trimmed to the cap, expiring with the tracker record."""

    def __init__(self, client: redis.Redis, key_prefix: str, expiry_seconds: float | None) -> None:
        self.client = client
        self.key_prefix = key_prefix
        self.expiry_seconds = expiry_seconds

    def key(self, conversation_id: str) -> str:
        return self.key_prefix + conversation_id

    def messages(self, conversation_id: str) -> list[dict[str, Any]]:
        return [json.loads(message) for message in self.client.lrange(self.key(conversation_id), 0, -1)]

    def last_message(self, conversation_id: str) -> dict[str, Any] | None:
        last = self.client.lindex(self.key(conversation_id), -1)
        return json.loads(last) if last else None

    def add(self, conversation_id: str, messages: list[dict[str, Any]], start_over: bool) -> None:
        """One atomic round trip; the expiry restarts, as the tracker record's does at the save that follows."""
        key = self.key(conversation_id)
        with self.client.pipeline() as pipeline:
            if start_over:
                pipeline.delete(key)
            if messages:
                pipeline.rpush(key, *(json.dumps(message) for message in messages))
                pipeline.ltrim(key, -MAX_KEPT_MESSAGES, -1)
                if self.expiry_seconds:
                    pipeline.expire(key, int(self.expiry_seconds))
            pipeline.execute()


def new_archive(store: TrackerStore) -> TranscriptArchive:
    if isinstance(store, LatestSessionRedisTrackerStore):
        user_prefix = store.key_prefix.removesuffix(DEFAULT_REDIS_TRACKER_STORE_KEY_PREFIX)
        return RedisTranscriptArchive(store.red, user_prefix + REDIS_KEY, store.record_exp)
    return MemoryTranscriptArchive()


def archive_of(store: TrackerStore) -> TranscriptArchive:
    """The archive kept with ``store``; for Rasa's ``FailSafeTrackerStore`` (the agent's and the processor's store),
    with the store it wraps."""
    kept_with = store._tracker_store if isinstance(store, FailSafeTrackerStore) else store
    if ARCHIVE not in kept_with.__dict__:
        kept_with.__dict__[ARCHIVE] = new_archive(kept_with)
    return kept_with.__dict__[ARCHIVE]


def buttons_on_screen(last_message: dict[str, Any] | None) -> list[dict[str, Any]]:
    """The widget's quick replies belong to the latest message only."""
    return last_message.get("buttons", []) if last_message else []


def is_continued(tracker: DialogueStateTracker) -> bool:
    """Whether ``tracker``'s latest session is a continuation, rather than one Rasa started."""
    started = next((event for event in reversed(tracker.events) if isinstance(event, SessionStarted)), None)
    return started is not None and bool(started.metadata.get(CONTINUED))


def shown_after(last_archived: dict[str, Any] | None, tracker: DialogueStateTracker) -> list[dict[str, Any]]:
    """The messages of ``tracker``'s latest session that came after the last archived one. Those archived already are
    left out: a continuation whose turn failed before the tracker was saved is done again at the next message."""
    messages = shown_messages(tracker.events, buttons_on_screen(last_archived))
    return [message for message in messages
            if last_archived is None or message["timestamp"] > last_archived["timestamp"]]


def archive_session(store: TrackerStore, tracker: DialogueStateTracker) -> None:
    """Keep what the customer was shown in ``tracker``'s latest session, which is being continued in a new one: after
    the archived messages if it is itself a continuation, else instead of them."""
    archive = archive_of(store)
    last = archive.last_message(tracker.sender_id) if is_continued(tracker) else None
    archive.add(tracker.sender_id, shown_after(last, tracker), start_over=last is None)


def conversation_messages(store: TrackerStore, tracker: DialogueStateTracker) -> list[dict[str, Any]]:
    """Every message the customer was shown in ``tracker``'s conversation, oldest first, up to the cap: the archived
    ones if its latest session is a continuation, then those of that session."""
    archived = archive_of(store).messages(tracker.sender_id) if is_continued(tracker) else []
    return (archived + shown_after(archived[-1] if archived else None, tracker))[-MAX_KEPT_MESSAGES:]
