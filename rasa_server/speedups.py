"""Five of Rasa 3.6's per-message costs removed, without changing what it does (docs/benchmarks-chat.md).

- ``RemoteAction._validate_action_result`` calls ``jsonschema.validate``, which checks Rasa's action-response schema
  against the JSON Schema meta-schema before every use: ~24 ms of CPU per custom action call. Here the schema is
  checked once and its validator kept; an invalid answer still goes through Rasa's own check, for its error message.
- ``Event.resolve_by_type`` walks every subclass of ``Event`` for each event it deserialises; here each type name is
  looked up once.
- ``EndpointConfig.request`` opens a new aiohttp session, so a new connection, for every request: for the action
  server that is every custom action call. Here each endpoint keeps one session per event loop. Its idle connections
  close after ``IDLE_CONNECTION_SECONDS``, before the action server's Sanic drops them (5 s), so a request never goes
  out on a connection the server is closing.
- ``TrackerStore.stream_events`` (every save, with an event broker) retrieves and deserialises the stored
  conversation again only to count its events and send the broker the ones after them: 8 % of a worker's CPU under
  bench-chat. Here a tracker retrieved through the agent's store (Rasa wraps every store in a ``FailSafeTrackerStore``)
  notes how many events it had, and a save sends the events after those; a tracker that wasn't retrieved (made new,
  or from the HTTP API's events) goes through Rasa's own diff.
- Rasa runs its model graph (the NLU pipeline for each message, the policies for each action) with ``dask.get``,
  dask's local scheduler, whose bookkeeping (ordering heuristics, task states, callbacks) for a graph of about ten
  nodes run on one thread cost ~7 % of a worker's CPU. Here it is dask's plain reference scheduler ``dask.core.get``:
  the same graph and results, each node run once in dependency order on the same thread.
"""

import asyncio
import itertools
from functools import cache
from typing import Any

import aiohttp
import dask
import dask.core
from jsonschema.protocols import Validator
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT
from rasa.core.tracker_store import FailSafeTrackerStore, TrackerStore
from rasa.shared.core.events import Event
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig

_rasa_validate_action_result = RemoteAction._validate_action_result
_rasa_resolve_by_type = Event.resolve_by_type
_rasa_retrieve = FailSafeTrackerStore.retrieve
_rasa_stream_events = TrackerStore.stream_events
_rasa_dask_get = dask.get
STORED_EVENTS = "_events_in_store"  # attribute of a tracker: how many of its events the store holds
IDLE_CONNECTION_SECONDS = 2.0
_event_classes: dict[str, type[Event]] = {}


@cache
def action_response_validator() -> Validator:
    schema = RemoteAction.action_response_format_spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


def validate_action_result(self: RemoteAction, result: dict[str, Any]) -> bool:
    if action_response_validator().is_valid(result):
        return True
    return _rasa_validate_action_result(self, result)  # raises Rasa's ValidationError


def resolve_by_type(type_name: str, default: type[Event] | None = None) -> type[Event] | None:
    if type_name in _event_classes:
        return _event_classes[type_name]
    resolved = _rasa_resolve_by_type(type_name, default)
    if resolved is not None and resolved is not default:
        _event_classes[type_name] = resolved
    return resolved


class KeptSession:
    """What ``EndpointConfig.session()`` returns here: ``async with`` gives the endpoint's session without closing it."""

    def __init__(self, session: aiohttp.ClientSession) -> None:
        self.session = session

    async def __aenter__(self) -> aiohttp.ClientSession:
        return self.session

    async def __aexit__(self, *exc_info: object) -> None:
        return None


def new_session(endpoint: EndpointConfig) -> aiohttp.ClientSession:
    """A session with the settings of Rasa's ``EndpointConfig.session`` and connections kept alive briefly."""
    auth = aiohttp.BasicAuth(endpoint.basic_auth["username"], endpoint.basic_auth["password"]) \
        if endpoint.basic_auth else None
    return aiohttp.ClientSession(headers=endpoint.headers, auth=auth,
                                 timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
                                 connector=aiohttp.TCPConnector(keepalive_timeout=IDLE_CONNECTION_SECONDS))


def kept_session(self: EndpointConfig) -> KeptSession:
    """The endpoint's session in the running event loop, made the first time it is needed there."""
    loop = asyncio.get_running_loop()
    kept: tuple[asyncio.AbstractEventLoop, aiohttp.ClientSession] | None = self.__dict__.get("_kept_session")
    if kept is None or kept[0] is not loop or kept[1].closed:
        kept = (loop, new_session(self))
        self.__dict__["_kept_session"] = kept
    return KeptSession(kept[1])


async def retrieve_noting_stored_events(self: FailSafeTrackerStore, sender_id: str
                                        ) -> DialogueStateTracker | None:
    tracker = await _rasa_retrieve(self, sender_id)
    if tracker is not None:
        tracker.__dict__[STORED_EVENTS] = len(tracker.events)
    return tracker


async def stream_new_events(self: TrackerStore, tracker: DialogueStateTracker) -> None:
    """Send the broker the events added since the tracker was retrieved (or last saved)."""
    stored = tracker.__dict__.get(STORED_EVENTS)
    if self.event_broker is None or stored is None:
        await _rasa_stream_events(self, tracker)
    else:
        new_events = list(itertools.islice(tracker.events, stored, None))
        await self._stream_new_events(self.event_broker, new_events, tracker.sender_id)
    tracker.__dict__[STORED_EVENTS] = len(tracker.events)


def apply() -> None:
    RemoteAction._validate_action_result = validate_action_result  # type: ignore[method-assign]
    Event.resolve_by_type = staticmethod(resolve_by_type)  # type: ignore[method-assign,assignment]
    EndpointConfig.session = kept_session  # type: ignore[method-assign,assignment]
    FailSafeTrackerStore.retrieve = retrieve_noting_stored_events  # type: ignore[method-assign]
    TrackerStore.stream_events = stream_new_events  # type: ignore[method-assign]
    dask.get = dask.core.get  # Rasa's DaskGraphRunner calls dask.get; nothing else in the server does
