"""The website chat widget's socket.io channel (protocol in docs/handoff.md).

Rasa's socket.io channel, with sessions that always persist: a tab asks for a session (``session_request``, keeping
the id it was given before) and joins that session's room; every tab of the session gets each bot message as one
``bot_uttered`` event and each customer message as ``user_echo``. ``history_request`` answers with the whole
conversation (up to its last 500 messages): those of the sessions a long conversation was continued from, kept in the
transcript archive (rasa_server/transcripts.py), then the current session's from the tracker store, so a reload or a
new tab shows it (a restart or an expired session starts it again). Empty or too long messages get ``chat_error``
and never reach the bot. Session ids are random (32 hex digits, made here when a tab has none), so no one can pick
another conversation's id, and a tab may only write to or read the session it joined.
With ``RASA_REDIS_URL`` (several Rasa workers, rasa_server/scaling.py) a session's room spans the workers: what one
worker sends to it goes through Redis to the session's tabs connected to the others, so any worker may answer a tab,
and the CRM's agent messages (Rasa's HTTP API, any worker) reach every tab. A socket stays with the worker it connected
to: the widget connects over a websocket, which needs nothing more; its fallback to HTTP long-polling would need a
load balancer that keeps a client on one worker.
Configured in credentials.yml as ``channels.web_channel.WebInput``.
"""

import logging
import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.socketio import SocketBlueprint, SocketIOInput
from rasa.core.tracker_store import TrackerStore
from rasa.shared.core.events import BotUttered
from rasa.shared.core.trackers import DialogueStateTracker
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse
from socketio import AsyncManager, AsyncRedisManager, AsyncServer

from channels.api_guard import install_api_guard
from channels.messages import client_message, message_problem, shown_text
from rasa_server import scaling, transcripts

logger = logging.getLogger(__name__)

SESSION_ID = re.compile(r"^[0-9a-f]{32}$")
CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def latest_buttons(tracker: DialogueStateTracker | None) -> list[dict[str, Any]]:
    for event in reversed(tracker.events if tracker else []):
        if isinstance(event, BotUttered):
            return event.data.get("buttons") or []
    return []


def conversation_history(store: TrackerStore | None, tracker: DialogueStateTracker | None) -> dict[str, Any]:
    """The ``history`` event: every customer and bot message of the conversation, and whether a person has it."""
    slots = tracker.current_slot_values() if tracker else {}
    return {"messages": transcripts.conversation_messages(store, tracker) if store and tracker else [],
            "handoff": {"active": bool(slots.get("handoff_active")), "agent": slots.get("handoff_agent")}}


def room_manager(environ: dict[str, str]) -> AsyncManager:
    """Rooms of this process only, or with Redis, rooms that every worker shares (one pub/sub channel per deployment)."""
    url = scaling.redis_url(environ)
    return AsyncRedisManager(url, channel=f"{scaling.key_prefix(environ)}:socketio") if url else AsyncManager()


class WebOutput(OutputChannel):
    """Sends every bot message to the session's room as one event (Rasa's socket.io output splits them)."""

    @classmethod
    def name(cls) -> str:
        return "web"

    def __init__(self, sio: AsyncServer, bot_message_evt: str) -> None:
        self.sio = sio
        self.bot_message_evt = bot_message_evt

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        await self.sio.emit(self.bot_message_evt, client_message(message), room=recipient_id)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self.send_response(recipient_id, {"text": text})


class WebInput(SocketIOInput):
    @classmethod
    def name(cls) -> str:
        return "web"

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> "WebInput":
        credentials = credentials or {}
        return cls(credentials.get("user_message_evt", "user_uttered"), credentials.get("bot_message_evt", "bot_uttered"),
                   socketio_path=credentials.get("socketio_path", "/socket.io"))

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.app: Sanic | None = None  # set when the server starts; its ``ctx.agent`` holds the conversations

    def get_output_channel(self) -> OutputChannel | None:
        return WebOutput(self.sio, self.bot_message_evt) if self.sio else None

    def _tracker_store(self) -> TrackerStore | None:
        agent = getattr(self.app.ctx, "agent", None) if self.app else None
        return agent.tracker_store if agent else None

    async def _tracker(self, session_id: str) -> DialogueStateTracker | None:
        store = self._tracker_store()
        return await store.retrieve(session_id) if store else None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        # CORS is Sanic's (rasa run --cors)
        sio = AsyncServer(async_mode="sanic", cors_allowed_origins=[], client_manager=room_manager(dict(os.environ)))
        web = SocketBlueprint(sio, self.socketio_path, "web_socketio", __name__)
        self.sio = sio

        @web.listener("before_server_start")
        async def remember_app(app: Sanic, _loop: Any) -> None:
            self.app = app
            install_api_guard(app)
            if isinstance(sio.manager, AsyncRedisManager):
                # Sanic forks the workers after this server was made: each needs its own id on the pub/sub channel,
                # or it would take the others' messages for its own and drop them
                sio.manager.host_id = uuid.uuid4().hex

        @web.route("/", methods=["GET"])
        async def health(_request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        async def refuse(sid: str, code: str, message: str) -> None:
            await sio.emit("chat_error", {"code": code, "message": message}, room=sid)

        async def joined_session(sid: str) -> str | None:
            return (await sio.get_session(sid)).get("session_id")

        @sio.on("session_request")
        async def session_request(sid: str, data: Any) -> None:
            wanted = data.get("session_id") if isinstance(data, dict) else None
            session_id = wanted if isinstance(wanted, str) and SESSION_ID.fullmatch(wanted) else uuid.uuid4().hex
            previous = await joined_session(sid)
            if previous and previous != session_id:
                await sio.leave_room(sid, previous)
            await sio.save_session(sid, {"session_id": session_id})
            await sio.enter_room(sid, session_id)
            await sio.emit("session_confirm", session_id, room=sid)

        @sio.on(self.user_message_evt)
        async def handle_message(sid: str, data: Any) -> None:
            session_id = await joined_session(sid)
            if session_id is None:
                await refuse(sid, "no_session", "send session_request first")
                return
            data = data if isinstance(data, dict) else {}
            text = data.get("message")
            if problem := message_problem(text):
                await refuse(sid, *problem)
                return
            client_id = data.get("client_id") if isinstance(data.get("client_id"), str) and CLIENT_ID.fullmatch(data["client_id"]) else sid
            shown = shown_text(text, latest_buttons(await self._tracker(session_id)))
            await sio.emit("user_echo", {"text": shown, "client_id": client_id, "timestamp": time.time()}, room=session_id)
            metadata = data.get(self.metadata_key)
            message = UserMessage(text, WebOutput(sio, self.bot_message_evt), session_id, input_channel=self.name(),
                                  metadata=metadata if isinstance(metadata, dict) else None)
            try:
                await on_new_message(message)
            except Exception:
                logger.exception("the assistant failed on a message of a web chat")  # no message text: personal data
                await refuse(sid, "assistant_unavailable", "The assistant could not answer. Please try again shortly.")

        @sio.on("history_request")
        async def history_request(sid: str, data: Any) -> None:
            session_id = await joined_session(sid)
            wanted = data.get("session_id") if isinstance(data, dict) else None
            if session_id is None or wanted not in (None, session_id):
                await refuse(sid, "no_session", "ask for the history of the session this tab joined")
                return
            store = self._tracker_store()
            tracker = await store.retrieve(session_id) if store else None
            await sio.emit("history", conversation_history(store, tracker), room=sid)

        return web
