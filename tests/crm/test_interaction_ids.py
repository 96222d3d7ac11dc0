"""Logging customer messages by Rasa's message id through the real app on SQLite and PostgreSQL: each id once per
conversation, whatever is sent again or at the same time (the unique index of migration 0006), and only new ones
reach the agent."""

from functools import partial

import pytest
from alembic import command
from httpx import Response
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.core.db import make_engine, make_session_factory
from app.models import Interaction, TicketMessage
from conftest import Desk, alembic_config, at_once

CALLERS = 8
BATCH = "/api/v1/interactions/batch"


def message(text: str, message_id: str | None = None, conversation: str = "conv-ids") -> dict[str, str]:
    body = {"conversation_id": conversation, "channel": "web", "text": text}
    return body | ({"message_id": message_id} if message_id else {})


def logged(desk: Desk, conversation: str = "conv-ids") -> list[tuple[str, str | None]]:
    with desk.session() as session:
        rows = session.execute(select(Interaction.text, Interaction.message_id)
                               .where(Interaction.conversation_id == conversation).order_by(Interaction.id)).all()
    return [tuple(row) for row in rows]


def ticket_messages(desk: Desk, ticket_id: int) -> list[str]:
    with desk.session() as session:
        return list(session.scalars(select(TicketMessage.text).where(TicketMessage.ticket_id == ticket_id)
                                    .order_by(TicketMessage.id)))


def test_a_message_id_logged_twice_gives_one_row(desk: Desk) -> None:
    first = desk.client.post("/api/v1/interactions", headers=desk.actions, json=message("hello", "m1"))
    again = desk.client.post("/api/v1/interactions", headers=desk.actions, json=message("hello", "m1"))
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json() == first.json() and first.json()["message_id"] == "m1"
    same_id_elsewhere = desk.client.post("/api/v1/interactions", headers=desk.actions,
                                         json=message("hello", "m1", conversation="conv-other"))
    assert same_id_elsewhere.status_code == 201  # ids are unique per conversation
    assert logged(desk) == [("hello", "m1")]


def test_a_batch_may_mix_logged_and_new_messages(desk: Desk) -> None:
    first = desk.client.post(BATCH, headers=desk.actions, json={"interactions": [message("one", "m1"), message("two", "m2")]})
    assert first.status_code == 201 and first.json() == {"logged": 2, "already_logged": 0, "attributed": 0}
    batch = [message("one", "m1"), message("two", "m2"), message("three", "m3"), message("no id"), message("no id"),
             message("three", "m3")]  # sent again after a timeout, with what came since; one id twice in one batch
    again = desk.client.post(BATCH, headers=desk.actions, json={"interactions": batch})
    assert again.status_code == 201 and again.json() == {"logged": 3, "already_logged": 3, "attributed": 0}
    assert logged(desk) == [("one", "m1"), ("two", "m2"), ("three", "m3"), ("no id", None), ("no id", None)]


def test_only_new_messages_reach_the_agent(desk: Desk) -> None:
    ticket_id = desk.client.post("/api/v1/handoffs", headers=desk.actions,
                                 json={"conversation_id": "conv-ids", "reason": "customer_request"}).json()["id"]
    batch = {"interactions": [message("is anyone there?", "m1"), message("hello?", "m2")]}
    for _ in range(2):
        assert desk.client.post(BATCH, headers=desk.actions, json=batch).status_code == 201
    assert ticket_messages(desk, ticket_id) == ["is anyone there?", "hello?"]


def post_at_once(desk: Desk, path: str, body: dict) -> list[Response]:
    """``CALLERS`` identical posts released together, each from its own thread."""
    return at_once([partial(desk.client.post, path, headers=desk.actions, json=body)] * CALLERS)


def test_identical_posts_at_once_log_the_message_once(desk: Desk) -> None:
    ticket_id = desk.client.post("/api/v1/handoffs", headers=desk.actions,
                                 json={"conversation_id": "conv-ids", "reason": "customer_request"}).json()["id"]
    for round_number in range(3):
        batches = post_at_once(desk, BATCH, {"interactions": [message(f"batch {round_number}", f"b{round_number}")]})
        assert {response.status_code for response in batches} == {201}
        assert sorted(response.json()["logged"] for response in batches) == [0] * (CALLERS - 1) + [1]
        singles = post_at_once(desk, "/api/v1/interactions", message(f"single {round_number}", f"s{round_number}"))
        assert sorted(response.status_code for response in singles) == [200] * (CALLERS - 1) + [201]
    assert logged(desk) == [(f"{kind} {n}", f"{kind[0]}{n}") for n in range(3) for kind in ("batch", "single")]
    assert ticket_messages(desk, ticket_id) == [f"{kind} {n}" for n in range(3) for kind in ("batch", "single")]


BAD_IDS = ["", "has space", "a" * 65, "ünïcode", "line\nbreak", "semi;colon", 42]


def test_bad_message_ids_are_refused(desk: Desk) -> None:
    for message_id in BAD_IDS:
        bad = message("hello") | {"message_id": message_id}
        assert desk.client.post("/api/v1/interactions", headers=desk.actions, json=bad).status_code == 422, message_id
        batch = {"interactions": [message("fine", "m1"), bad]}
        assert desk.client.post(BATCH, headers=desk.actions, json=batch).status_code == 422, message_id
        handoff = {"conversation_id": "conv-ids", "reason": "customer_request",
                   "transcript": [{"sender": "customer", "text": "hello", "message_id": message_id}]}
        assert desk.client.post("/api/v1/handoffs", headers=desk.actions, json=handoff).status_code == 422, message_id
    assert logged(desk) == []


def test_the_migration_keeps_logged_messages_and_then_refuses_a_second_row_per_id(database_url: str) -> None:
    config = alembic_config(database_url)
    command.downgrade(config, "0005")
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("INSERT INTO interactions (conversation_id, channel, text, created_at) "
                                       "VALUES ('old', 'web', 'hello', CURRENT_TIMESTAMP)")
        command.upgrade(config, "head")
        with make_session_factory(engine)() as session:
            assert session.execute(select(Interaction.text, Interaction.message_id)).all() == [("hello", None)]
            session.add_all([Interaction(conversation_id="old", channel="web", text="hi", message_id=None),
                             Interaction(conversation_id="old", channel="web", text="hi", message_id="m1")])
            session.commit()
            session.add(Interaction(conversation_id="old", channel="web", text="hi", message_id="m1"))
            with pytest.raises(IntegrityError):
                session.commit()
    finally:
        engine.dispose()
