"""Rasa's Redis tracker store, keeping each conversation's latest session only, as its in-memory store does.

Rasa 3.6's ``RedisTrackerStore`` merges every save into all earlier sessions, so a long conversation's stored tracker
keeps growing and is deserialised whole several times per message (measured: turn 300 of one conversation 22 times
slower than turn 10, against equal with this store). Only the latest session is read by the policies anyway; what
the customer was shown in the earlier sessions is kept for the widget's history in a Redis list next to the tracker
(``transcripts.py``), and the customer's messages stay in the CRM's interaction log.
"""

from rasa.core.tracker_store import RedisTrackerStore
from rasa.shared.core.trackers import DialogueStateTracker


class LatestSessionRedisTrackerStore(RedisTrackerStore):
    async def save(self, tracker: DialogueStateTracker, timeout: float | None = None) -> None:
        """Store ``tracker`` (its latest session, as ``retrieve`` returned it, with this turn's events)."""
        await self.stream_events(tracker)
        self.red.set(self.key_prefix + tracker.sender_id, self.serialise_tracker(tracker),
                     ex=timeout or self.record_exp)
