"""Whole conversations over Rasa's REST channel: Rasa, the action server and the CRM, all real processes."""

import sqlite3
import time
import uuid

import httpx

from conftest import Bot, Crm


def shipped_order_customer(crm: Crm, offset: int) -> tuple[int, str, str, str, str]:
    with sqlite3.connect(crm.database_url.removeprefix("sqlite:///")) as db:
        return db.execute(
            "SELECT c.id, c.email, c.postcode, o.order_number, o.tracking_number FROM customers c JOIN orders o ON o.customer_id = c.id "
            "WHERE o.status = 'shipped' AND c.email IS NOT NULL AND c.closed_at IS NULL ORDER BY c.id DESC LIMIT 1 OFFSET ?",
            (offset,),
        ).fetchone()


def test_greeting(bot: Bot) -> None:
    assert "assistant" in bot.texts(f"u-{uuid.uuid4().hex}", "hello")


def test_track_order_with_verification(bot: Bot, crm: Crm) -> None:
    customer_id, email, postcode, order_number, tracking = shipped_order_customer(crm, 0)
    me = f"u-{uuid.uuid4().hex}"
    assert "confirm it's you" in bot.texts(me, "hi, where is my order?")
    assert "postcode" in bot.texts(me, f"my email is {email}")
    reply = bot.texts(me, postcode)
    assert "is shipped" in reply and tracking in reply, reply
    bot.texts(me, "thanks a lot")
    logged = logged_interactions(crm, customer_id, expected=1)
    # attributed once verified, to the conversation the app channel binds to the signed user
    assert [(i["conversation_id"], i["intent"]) for i in logged] == [(f"app-{me}", "thank")]


def logged_interactions(crm: Crm, customer_id: int, expected: int) -> list[dict]:
    """The customer's messages logged by the bot (not the demo data's), waiting briefly: the broker posts in the background."""
    deadline = time.monotonic() + 10
    while True:
        logged = [i for i in httpx.get(f"{crm.url}/api/v1/customers/{customer_id}/interactions",
                                       headers=crm.agent_headers()).json()
                  if not i["conversation_id"].startswith("demo-")]
        if len(logged) >= expected or time.monotonic() > deadline:
            return logged
        time.sleep(0.2)


def test_wrong_postcode_then_right_one(bot: Bot, crm: Crm) -> None:
    _, email, postcode, order_number, _ = shipped_order_customer(crm, 1)
    me = f"u-{uuid.uuid4().hex}"
    bot.texts(me, f"what's the status of {order_number}")
    bot.texts(me, email)
    assert "don't match" in bot.texts(me, "ZZ9 9ZZ")
    assert "postcode" in bot.texts(me, email)
    assert order_number in bot.texts(me, postcode)


def test_ask_for_a_human(bot: Bot) -> None:
    assert "colleague" in bot.texts(f"u-{uuid.uuid4().hex}", "I want to talk to a real person")


def test_long_rambling_message_still_gets_an_answer(bot: Bot) -> None:
    assert bot.texts(f"u-{uuid.uuid4().hex}", "hello, " + "so I was wondering about my parcel and " * 100 + "where is it?")
