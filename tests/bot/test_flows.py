"""Whole conversations for the account flows: Rasa, the action server and the CRM, all real processes."""

import uuid

import httpx

from conftest import Bot, Crm
from shop import agent_get, customer_where


def me() -> str:
    return f"u-{uuid.uuid4().hex}"


def verify(bot: Bot, sender: str, email: str, postcode: str) -> str:
    assert "postcode" in bot.texts(sender, f"it's {email}")
    return bot.texts(sender, postcode)


def test_cancel_an_order_with_a_confirmation(bot: Bot, crm: Crm) -> None:
    customer = customer_where(crm, "o.status = 'paid'")  # placed orders are few: left to the tests that need one
    sender = me()
    assert "confirm it's you" in bot.texts(sender, f"hi, I want to cancel my order {customer.order_number} please")
    assert "Shall I cancel it now?" in verify(bot, sender, customer.email, customer.postcode)
    assert "is cancelled" in bot.texts(sender, "yes please")
    assert agent_get(crm, f"/customers/{customer.id}/orders/{customer.order_number}").json()["status"] == "cancelled"


def test_return_a_delivered_order(bot: Bot, crm: Crm) -> None:
    customer = customer_where(crm, "o.status = 'delivered' AND o.delivered_at > datetime('now', '-25 days')")
    sender = me()
    bot.texts(sender, f"the lamp from {customer.order_number} arrived broken, I want to send it back")
    assert "Shall I start the return?" in verify(bot, sender, customer.email, customer.postcode)
    reply = bot.texts(sender, "yes")
    assert "refund reference RF-" in reply and "post office" in reply


def test_update_the_phone_number(bot: Bot, crm: Crm) -> None:
    customer = customer_where(crm, "NOT EXISTS (SELECT 1 FROM orders x WHERE x.customer_id = c.id AND x.status = 'shipped')")
    sender = me()
    assert "confirm it's you" in bot.texts(sender, "I need to change my phone number to 07700 900999")
    assert "+44 7700 900999. Is that right?" in verify(bot, sender, customer.email, customer.postcode)
    assert "now +44 7700 900999" in bot.texts(sender, "yes that's right")
    assert agent_get(crm, f"/customers/{customer.id}/summary").json()["phone"] == "+44 7700 900999"


def test_complaint_then_a_person(bot: Bot, crm: Crm) -> None:
    sender = me()
    reply = bot.texts(sender, "this is the worst service ever, the courier threw my parcel over the fence")
    assert "sorry" in reply and "person from our team" in reply
    assert "ticket" in bot.texts(sender, "yes please")
    queue = httpx.get(f"{crm.url}/api/v1/handoffs", headers=crm.agent_headers()).json()
    assert [t["reason"] for t in queue["tickets"] if t["conversation_id"] == f"app-{sender}"] == ["complaint"]


def test_faq_during_verification_then_back(bot: Bot, crm: Crm) -> None:
    customer = customer_where(crm, "o.status = 'delivered'")
    sender = me()
    bot.texts(sender, "show me my account")
    reply = bot.texts(sender, "what payment methods do you accept?")
    assert "email address on your account" in reply, reply  # the form asks again after the answer
    assert "Customer since" in verify(bot, sender, customer.email, customer.postcode)


def test_password_help_never_asks_for_the_password(bot: Bot) -> None:
    reply = bot.texts(me(), "i forgot my password and cant log in")
    assert "Forgot password" in reply and "never ask" in reply


def test_action_server_down_still_answers(bot_without_actions: Bot) -> None:
    reply = bot_without_actions.texts(me(), "I want to talk to a real person")
    assert "isn't answering" in reply and "Traceback" not in reply
    assert "assistant" in bot_without_actions.texts(me(), "hello")  # what needs no action still works
