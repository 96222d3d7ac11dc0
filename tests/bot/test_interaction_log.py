"""The interaction log (event_brokers/crm_interactions.py) against real CRM processes: nothing is lost while the CRM is
down, messages arrive in order and once, a refused batch does not block the next ones, and the bound on what waits
drops the oldest."""

import asyncio
import logging
import socket
import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from rasa.shared.core.events import UserUttered

from conftest import Crm, free_port, start_crm
from event_brokers import crm_interactions
from event_brokers.crm_interactions import CrmInteractionLog
from ops.processes import stop


def said(conversation: str, text: str, message_id: str | None = None) -> dict:
    """A customer message as Rasa's tracker store publishes it."""
    event = UserUttered(text, {"intent": {"name": "greet", "confidence": 0.9}}, input_channel="app",
                        message_id=message_id or uuid.uuid4().hex)
    return {"sender_id": conversation, **event.as_dict()}


def logged(crm: Crm, conversation: str) -> list[tuple[str, str | None]]:
    with sqlite3.connect(crm.database_url.removeprefix("sqlite:///")) as db:
        return db.execute("SELECT text, message_id FROM interactions WHERE conversation_id = ? ORDER BY id",
                          (conversation,)).fetchall()


async def eventually(check: Callable[[], bool], what: str, seconds: float = 30) -> None:
    """Wait for ``check`` while the broker's sender runs in this event loop."""
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"waited {seconds} s for {what}")
        await asyncio.sleep(0.05)


def conversation() -> str:
    return f"log-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Retry at most a second apart, so that the tests need not wait out a long backoff."""
    monkeypatch.setattr(crm_interactions, "MAX_RETRY_SECONDS", 1.0)


async def test_messages_sent_while_the_crm_is_stopped_reach_it_in_order_and_once(
        crm: Crm, tmp_path: Path, quick_retries: None, caplog: pytest.LogCaptureFixture) -> None:
    port = free_port()
    broker = CrmInteractionLog(f"http://127.0.0.1:{port}", crm.actions_key, timeout_seconds=2)
    chat = conversation()
    events = [said(chat, f"message {n}") for n in range(260)]  # more than two full batches
    process = start_crm(crm, port, tmp_path / "crm.log")
    try:
        broker.publish(events[0])
        await eventually(lambda: len(logged(crm, chat)) == 1, "the first message")
        stop(process)
        with caplog.at_level(logging.WARNING, logger=crm_interactions.__name__):
            for event in events[1:250]:
                broker.publish(event)
            await eventually(lambda: "waiting to be sent again" in caplog.text, "a failed delivery")
            process = await asyncio.to_thread(start_crm, crm, port, tmp_path / "crm.log")
            for event in events[250:]:
                broker.publish(event)
            await eventually(lambda: len(logged(crm, chat)) == len(events), "every message")
        await broker.close()
    finally:
        stop(process)
    assert logged(crm, chat) == [(event["text"], event["message_id"]) for event in events]
    assert broker.dropped == 0 and not broker.waiting
    assert "message " not in caplog.text  # no message text in the logs


async def test_a_refused_batch_is_dropped_and_the_next_ones_go_on(crm: Crm, caplog: pytest.LogCaptureFixture) -> None:
    broker = CrmInteractionLog(crm.url, crm.actions_key)
    chat = conversation()
    with caplog.at_level(logging.WARNING, logger=crm_interactions.__name__):
        broker.publish(said("not a conversation id!", "refused whole"))  # the CRM answers 422
        await eventually(lambda: broker.dropped == 1 and not broker.waiting, "the refused batch dropped")
        for text in ("after", "the refusal"):
            broker.publish(said(chat, text))
        await eventually(lambda: len(logged(crm, chat)) == 2, "the next messages")
    await broker.close()
    assert [text for text, _ in logged(crm, chat)] == ["after", "the refusal"]
    assert "refused 1 interactions (status 422)" in caplog.text and "refused whole" not in caplog.text


@pytest.fixture
def hanging_url() -> Iterator[str]:
    """An address that accepts connections and never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"


async def test_beyond_the_bound_the_oldest_messages_are_dropped(crm: Crm, hanging_url: str, quick_retries: None,
                                                                monkeypatch: pytest.MonkeyPatch,
                                                                caplog: pytest.LogCaptureFixture) -> None:
    monkeypatch.setattr(crm_interactions, "MAX_WAITING", 5)
    broker = CrmInteractionLog(hanging_url, crm.actions_key, timeout_seconds=0.5)
    chat = conversation()
    events = [said(chat, f"message {n}") for n in range(8)]
    with caplog.at_level(logging.WARNING, logger=crm_interactions.__name__):
        for event in events[:5]:
            broker.publish(event)
        await eventually(lambda: broker.in_flight == 5, "the first batch posted")
        for event in events[5:]:  # the three oldest go while their batch is being posted
            broker.publish(event)
        broker.crm_url = crm.url  # the CRM answers again
        await eventually(lambda: len(logged(crm, chat)) == 5, "the newest messages")
    await broker.close()
    assert logged(crm, chat) == [(event["text"], event["message_id"]) for event in events[3:]]
    assert broker.dropped == 3
    assert "dropped the 3 oldest interactions" in caplog.text and "message " not in caplog.text


async def test_closing_delivers_what_waits_once_more(crm: Crm) -> None:
    broker = CrmInteractionLog(crm.url, crm.actions_key)
    chat = conversation()
    broker.publish(said(chat, "just before shutting down"))
    await broker.close()  # without waiting for the batch's 50 ms
    assert [text for text, _ in logged(crm, chat)] == ["just before shutting down"]


async def test_closing_while_the_crm_is_down_takes_at_most_the_timeout(hanging_url: str) -> None:
    broker = CrmInteractionLog(hanging_url, "key", timeout_seconds=0.5)
    broker.publish(said(conversation(), "lost at shutdown"))
    started = time.monotonic()
    await broker.close()
    assert time.monotonic() - started < 1.5 and len(broker.waiting) == 1


async def test_an_id_the_crm_would_refuse_is_left_out_rather_than_the_message_lost(crm: Crm) -> None:
    broker = CrmInteractionLog(crm.url, crm.actions_key)
    chat = conversation()
    broker.publish(said(chat, "from an odd channel", message_id="not/an id"))
    broker.publish(said(chat, "from Rasa", message_id="0f" * 16))
    broker.publish(said(chat, "from Rasa", message_id="0f" * 16))  # published again: logged once
    await broker.close()
    assert logged(crm, chat) == [("from an odd channel", None), ("from Rasa", "0f" * 16)]
