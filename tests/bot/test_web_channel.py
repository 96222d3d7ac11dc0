"""The website widget's socket.io channel (docs/handoff.md) with a real socket.io client against the real Rasa."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import suppress
from typing import Any

import httpx
import pytest
import socketio

from conftest import Bot, Crm
from test_app_channel import api_token
from test_handoff_app import agent

WAIT_SECONDS = 30


class Tab:
    """One browser tab of the widget: a socket.io client that records every event it receives."""

    def __init__(self) -> None:
        self.client = socketio.AsyncClient(reconnection=False)
        self.events: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()
        self.session_id = ""
        for name in ("session_confirm", "bot_uttered", "user_echo", "history", "chat_error"):
            self.client.on(name, self._recorder(name))

    def _recorder(self, name: str):  # type: ignore[no-untyped-def]
        async def record(data: Any) -> None:
            await self.events.put((name, data))
        return record

    async def open(self, url: str, session_id: str | None = None) -> "Tab":
        await self.client.connect(url, transports=["polling"], wait_timeout=WAIT_SECONDS)
        await self.client.emit("session_request", {"session_id": session_id})
        self.session_id = await self.next("session_confirm")
        return self

    async def next(self, wanted: str) -> Any:
        """The next event named ``wanted``; other events before it are dropped."""
        return (await self.until(wanted))[-1][1]

    async def until(self, wanted: str) -> list[tuple[str, Any]]:
        """Every event up to and including the next one named ``wanted``."""
        async def collect() -> list[tuple[str, Any]]:
            seen = []
            while not seen or seen[-1][0] != wanted:
                seen.append(await self.events.get())
            return seen
        return await asyncio.wait_for(collect(), WAIT_SECONDS)

    async def say(self, text: str) -> None:
        await self.client.emit("user_uttered", {"message": text, "session_id": self.session_id})

    async def close(self) -> None:
        """Close like a browser tab: say goodbye, without waiting for the pending long-poll to run out."""
        await close_quickly(self.client)


async def close_quickly(client: socketio.AsyncClient) -> None:
    """The polling transport's disconnect waits up to a ping interval (25 s) for its open request; drop it instead.
    (Websockets are not an option for the test client: this engineio needs a newer aiohttp than Rasa allows.)"""
    reader = client.eio.read_loop_task
    await client.eio.disconnect(abort=True)
    if reader:
        reader.cancel()
        with suppress(asyncio.CancelledError):
            await reader


@pytest.fixture
async def tabs() -> AsyncIterator[list[Tab]]:
    opened: list[Tab] = []
    yield opened
    for tab in opened:
        await tab.close()


async def open_tab(bot: Bot, tabs: list[Tab], session_id: str | None = None) -> Tab:
    tab = await Tab().open(bot.url, session_id)
    tabs.append(tab)
    return tab


async def test_greeting_is_answered_with_one_event_per_message(bot: Bot, tabs: list[Tab]) -> None:
    tab = await open_tab(bot, tabs)
    assert len(tab.session_id) == 32
    await tab.say("hello")
    echo = await tab.next("user_echo")
    assert echo["text"] == "hello" and echo["client_id"] == tab.client.get_sid() and echo["timestamp"] > 0
    reply = await tab.next("bot_uttered")
    assert "assistant" in reply["text"] and reply["timestamp"] > 0 and "custom" not in reply


async def test_markup_sent_as_text_comes_back_as_text(bot: Bot, tabs: list[Tab]) -> None:
    tab = await open_tab(bot, tabs)
    markup = '<img src=x onerror="alert(1)"><b>where is my order?</b>'
    await tab.say(markup)
    assert (await tab.next("user_echo"))["text"] == markup  # neither escaped nor stripped: the widget shows it as text
    assert isinstance((await tab.next("bot_uttered"))["text"], str)


async def test_empty_and_huge_messages_get_chat_error_and_never_reach_the_bot(bot: Bot, tabs: list[Tab]) -> None:
    tab = await open_tab(bot, tabs)
    for message, code in (("", "invalid_message"), ("   ", "invalid_message"), ("x" * 5001, "message_too_long")):
        await tab.say(message)
        error = await tab.next("chat_error")
        assert error["code"] == code and error["message"]
    await tab.client.emit("user_uttered", {"message": 42, "session_id": tab.session_id})
    assert (await tab.next("chat_error"))["code"] == "invalid_message"
    await tab.say("hello")
    seen = await tab.until("bot_uttered")
    assert [data["text"] for name, data in seen if name == "user_echo"] == ["hello"]  # none of the refused ones
    await tab.client.emit("history_request", {"session_id": tab.session_id})
    assert [m["text"] for m in (await tab.next("history"))["messages"] if m["sender"] == "user"] == ["hello"]


async def test_history_after_reconnecting_with_the_same_session(bot: Bot, tabs: list[Tab]) -> None:
    first = await open_tab(bot, tabs)
    await first.say("hello")
    greeting = (await first.next("bot_uttered"))["text"]
    await first.close()
    tabs.remove(first)

    again = await open_tab(bot, tabs, first.session_id)
    assert again.session_id == first.session_id
    await again.client.emit("history_request", {"session_id": again.session_id})
    history = await again.next("history")
    assert [(m["sender"], m["text"]) for m in history["messages"]] == [("user", "hello"), ("bot", greeting)]
    assert history["handoff"] == {"active": False, "agent": None}


async def history_after(tab: Tab, turns: int) -> list[dict[str, Any]]:
    """The history's messages once the conversation holds ``turns`` customer messages (a turn is saved, with all its
    replies, after they were sent)."""
    for _ in range(int(WAIT_SECONDS / 0.2)):
        await tab.client.emit("history_request", {"session_id": tab.session_id})
        messages = (await tab.next("history"))["messages"]
        if sum(message["sender"] == "user" for message in messages) == turns:
            return messages
        await asyncio.sleep(0.2)
    pytest.fail(f"the history never held {turns} customer messages: {messages}")


async def test_history_keeps_every_message_of_a_continued_conversation(
        short_sessions: tuple[Bot, Any], tabs: list[Tab]) -> None:
    bot, _ = short_sessions  # sessions continued after 3 customer messages: before the 4th and the 7th here
    said = ["hello", "what payment methods do you accept?", "how long does delivery take?", "thanks",
            "what is your return policy?", "hi again", "thank you"]
    tab = await open_tab(bot, tabs)
    shown: list[dict[str, Any]] = []
    for turn, text in enumerate(said, 1):
        await tab.say(text)
        before, shown = shown, await history_after(tab, turn)
        assert shown[:len(before)] == before  # every earlier message still there, exactly as it was shown
    assert [m["text"] for m in shown if m["sender"] == "user"] == said
    admin = {"Authorization": f"Bearer {api_token(bot.api_secret)}"}
    stored = httpx.get(f"{bot.url}/conversations/{tab.session_id}/tracker", headers=admin).json()["events"]
    assert [e["text"] for e in stored if e["event"] == "user"] == said[3:]  # the first session is gone from the store

    newcomer = await open_tab(bot, tabs, tab.session_id)
    assert await history_after(newcomer, len(said)) == shown

    await tab.say("/restart")  # the conversation starts again, and so does its history
    assert await history_after(newcomer, 0) == []
    await tab.say("hello")
    assert [m["text"] for m in await history_after(newcomer, 1) if m["sender"] == "user"] == ["hello"]


async def test_two_tabs_of_a_session_both_get_the_echo_and_the_answers(bot: Bot, tabs: list[Tab]) -> None:
    first = await open_tab(bot, tabs)
    second = await open_tab(bot, tabs, first.session_id)
    await first.say("what payment methods do you accept?")
    for tab in (first, second):
        echo = await tab.next("user_echo")
        assert echo["text"] == "what payment methods do you accept?" and echo["client_id"] == first.client.get_sid()
        assert "PayPal" in (await tab.next("bot_uttered"))["text"]


async def test_sessions_are_random_and_only_the_joined_one_is_reachable(bot: Bot, tabs: list[Tab]) -> None:
    chosen = await open_tab(bot, tabs, "app-demo-user")  # an app conversation's id is never a web session
    assert chosen.session_id != "app-demo-user" and len(chosen.session_id) == 32
    other = await open_tab(bot, tabs)
    await chosen.client.emit("history_request", {"session_id": other.session_id})
    assert (await chosen.next("chat_error"))["code"] == "no_session"
    await chosen.client.emit("user_uttered", {"message": "hi", "session_id": other.session_id})
    assert (await chosen.next("user_echo"))["text"] == "hi"  # went to the tab's own session ...
    await other.client.emit("history_request", {"session_id": other.session_id})
    assert (await other.next("history"))["messages"] == []  # ... not into the other one
    stranger = socketio.AsyncClient(reconnection=False)
    errors: asyncio.Queue[Any] = asyncio.Queue()
    stranger.on("chat_error", errors.put)
    await stranger.connect(bot.url, transports=["polling"])
    try:
        await stranger.emit("user_uttered", {"message": "hi", "session_id": other.session_id})
        assert (await asyncio.wait_for(errors.get(), WAIT_SECONDS))["code"] == "no_session"
    finally:
        await close_quickly(stranger)


async def test_handoff_in_the_widget(bot: Bot, crm: Crm, tabs: list[Tab]) -> None:
    tab = await open_tab(bot, tabs)
    await tab.say("I want to talk to a real person")
    queued = await tab.next("bot_uttered")
    assert "ticket" in queued["text"] and queued["custom"]["handoff"]["event"] in ("waiting", "offline")  # one event
    [ticket] = [t for t in agent(crm, "GET", "/handoffs")["tickets"] if t["conversation_id"] == tab.session_id]
    assert ticket["channel"] == "web"

    agent(crm, "POST", f"/handoffs/{ticket['id']}/claim")
    joined = await tab.next("bot_uttered")
    assert joined["custom"] == {"handoff": {"event": "agent_joined", "agent": "Alice"}} and "Alice" in joined["text"]
    agent(crm, "POST", f"/handoffs/{ticket['id']}/messages", {"text": "Hello from Alice."})
    said = await tab.next("bot_uttered")
    assert (said["text"], said["custom"]["handoff"]["event"]) == ("Hello from Alice.", "agent_message")
    newcomer = await open_tab(bot, tabs, tab.session_id)
    await newcomer.client.emit("history_request", {"session_id": tab.session_id})
    history = await newcomer.next("history")
    assert history["handoff"] == {"active": True, "agent": "Alice"}
    assert history["messages"][-1]["text"] == "Hello from Alice." and history["messages"][-1]["custom"] == said["custom"]

    agent(crm, "POST", f"/handoffs/{ticket['id']}/resolve", {"note": "All sorted."})
    handback = await tab.next("bot_uttered")
    assert "Alice" in handback["text"] and "All sorted." in handback["text"]
    assert handback["custom"] == {"handoff": {"event": "handed_back", "agent": "Alice"}}
    rating = await tab.next("bot_uttered")
    assert [b["title"] for b in rating["buttons"]] == ["1", "2", "3", "4", "5"]
    await tab.say(rating["buttons"][4]["payload"])
    assert (await tab.next("user_echo"))["text"] == "5"  # the button's title, not its payload
    assert "rating us 5 out of 5" in (await tab.next("bot_uttered"))["text"]
    assert httpx.get(f"{crm.url}/api/v1/handoffs/{ticket['id']}", headers=crm.agent_headers()).json()["rating"] == 5
    await tab.client.emit("history_request", {"session_id": tab.session_id})
    shown = [m["text"] for m in (await tab.next("history"))["messages"] if m["sender"] == "user"]
    assert shown == ["I want to talk to a real person", "5"]
