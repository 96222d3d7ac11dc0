"""Long conversations continue in a new session, so that a turn costs the same at turn 300 as at turn 10.

Rasa 3.6 works over the whole session on every turn (tracker (de)serialisation, the policies' past states, the
tracker sent to the action server), so without a bound a reply at turn 300 takes several times as long as at turn 10.
Before a new message, a session of ``SESSION_MAX_TURNS`` customer messages or more is continued in a new session
that carries every slot over (the verification too), the way Rasa starts a session after ``session_expiration_time``
but without forgetting anything the slots hold. Only at a quiet point: not while a form runs, a person has the
conversation (paused), or the bot waits for a yes or no (``pending_change``). The conversation id does not change;
the in-memory and Redis tracker stores then keep only the latest session, as after an expired one, so what the
customer was shown in the session being closed goes to the transcript archive first (``transcripts.py``), from which
the widget's history shows the whole conversation after a reload. The continuation's ``SessionStarted`` is marked, so
that a session Rasa starts itself (``/restart``, an expired session) starts the history again.
"""

import functools
import os
from typing import Any

from rasa.core.channels.channel import OutputChannel
from rasa.core.processor import MessageProcessor
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from rasa_server import transcripts

DEFAULT_MAX_TURNS = 40
_rasa_update_tracker_session = MessageProcessor._update_tracker_session


@functools.cache
def max_turns() -> int:
    """Read once per process: it is asked before every message."""
    return int(os.environ.get("SESSION_MAX_TURNS", DEFAULT_MAX_TURNS))


def turns_in_session(tracker: DialogueStateTracker) -> int:
    turns = 0
    for event in reversed(tracker.events):
        if isinstance(event, SessionStarted):
            break
        turns += isinstance(event, UserUttered)
    return turns


def should_continue_in_new_session(tracker: DialogueStateTracker, limit: int) -> bool:
    return (turns_in_session(tracker) >= limit and tracker.active_loop_name is None and not tracker.is_paused()
            and not tracker.get_slot("pending_change"))


def continuation(tracker: DialogueStateTracker, domain: Domain) -> list[Event]:
    """A session start as Rasa's ``action_session_start`` writes it (the tracker store splits sessions at that action),
    marked as a continuation for the transcript archive, carrying every slot whose value differs from its initial
    value."""
    carried = [SlotSet(slot.name, tracker.get_slot(slot.name)) for slot in domain.slots
               if tracker.get_slot(slot.name) != slot.initial_value]
    return [ActionExecuted(ACTION_SESSION_START_NAME), SessionStarted(metadata={transcripts.CONTINUED: True}), *carried,
            ActionExecuted(ACTION_LISTEN_NAME)]


async def update_tracker_session(self: MessageProcessor, tracker: DialogueStateTracker, output_channel: OutputChannel,
                                 metadata: dict[str, Any] | None = None) -> None:
    if should_continue_in_new_session(tracker, max_turns()):
        transcripts.archive_session(self.tracker_store, tracker)
        tracker.update_with_events(continuation(tracker, self.domain), self.domain)
    await _rasa_update_tracker_session(self, tracker, output_channel, metadata)


def apply() -> None:
    MessageProcessor._update_tracker_session = update_tracker_session  # type: ignore[method-assign]
