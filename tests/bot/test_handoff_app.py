"""A handoff seen from an app, end to end: Rasa, the action server and the CRM as real processes, and an agent who
signs in through the CRM's API, claims the conversation, answers and hands it back."""

import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx

from conftest import Bot, Crm
from shop import customer_where


def poll(bot: Bot, user: str, after: int = 0, token: str | None = None) -> httpx.Response:
    return httpx.get(f"{bot.url}/webhooks/app/handoff", params={"after": after},
                     headers={"Authorization": f"Bearer {token or bot.token(user)}"}, timeout=30)


def wait_for(check: Callable[[], Any], what: str, seconds: float = 30) -> Any:
    """The first truthy result of ``check``: the CRM tells Rasa in the background, Rasa runs the action."""
    deadline = time.monotonic() + seconds
    while not (result := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.3)
    return result


def agent(crm: Crm, method: str, path: str, body: dict | None = None) -> dict:
    response = httpx.request(method, f"{crm.url}/api/v1{path}", json=body, headers=crm.agent_headers(), timeout=30)
    assert response.status_code < 300, response.text
    return response.json()


def texts(replies: list[dict]) -> str:
    return " ".join(reply.get("text", "") for reply in replies)


def test_handoff_to_an_app_and_back(bot: Bot, crm: Crm) -> None:
    customer = customer_where(crm, "o.status = 'shipped'")
    user = f"user-{uuid.uuid4().hex[:10]}"
    bot.say(user, "where is my order?")
    bot.say(user, customer.email)
    assert customer.order_number in texts(bot.say(user, customer.postcode))  # verified

    replies = bot.say(user, "I want to talk to a real person")
    assert "ticket" in texts(replies)
    assert {"handoff": {"event": "offline"}} in [r.get("custom") for r in replies] or \
           {"handoff": {"event": "waiting"}} in [r.get("custom") for r in replies]
    assert bot.say(user, "hello? is anyone there?") == []  # the bot is silent: this message is for the agent
    [ticket] = [t for t in agent(crm, "GET", "/handoffs")["tickets"] if t["conversation_id"] == f"app-{user}"]
    assert ticket["customer_id"] == customer.id
    waiting = poll(bot, user).json()
    assert waiting["ticket"] == {"id": ticket["id"], "status": "waiting", "agent": None} and waiting["messages"] == []
    wait_for(lambda: any(m["sender"] == "customer" and m["text"] == "hello? is anyone there?"
                         for m in agent(crm, "GET", f"/handoffs/{ticket['id']}")["messages"]), "the message in the ticket")
    # the message that asked for a person is logged after the ticket opened: the transcript has it (by Rasa's id), once
    assert [(m["sender"], m["text"]) for m in agent(crm, "GET", f"/handoffs/{ticket['id']}")["messages"]] == [
        ("customer", "hello? is anyone there?")]
    asked = [entry for entry in ticket["transcript"] if entry["sender"] == "customer"]
    assert asked[-1]["text"] == "I want to talk to a real person" and all(len(entry["message_id"]) == 32 for entry in asked)

    agent(crm, "POST", f"/handoffs/{ticket['id']}/claim")
    agent(crm, "POST", f"/handoffs/{ticket['id']}/messages", {"text": "Hi, I'm Alice. Let me look at your parcel."})
    first = poll(bot, user).json()
    assert [(m["sender"], m["author"]) for m in first["messages"]] == [("system", "Alice"), ("agent", "Alice")]
    assert first["ticket"]["status"] == "claimed" and first["messages"][1]["text"] == "Hi, I'm Alice. Let me look at your parcel."
    cursor = first["messages"][-1]["id"]
    assert poll(bot, user, cursor).json()["messages"] == []  # each message once, however often the app polls
    agent(crm, "POST", f"/handoffs/{ticket['id']}/messages", {"text": "It is with the courier and arrives tomorrow."})
    [second] = poll(bot, user, cursor).json()["messages"]
    assert second["text"] == "It is with the courier and arrives tomorrow."
    assert bot.say(user, "great, thank you") == []  # still with the agent

    agent(crm, "POST", f"/handoffs/{ticket['id']}/resolve", {"note": "Parcel arrives tomorrow."})
    resolved = wait_for(lambda: (answer := poll(bot, user, second["id"]).json()).get("handback") and answer,
                        "the bot's handback", seconds=60)
    assert resolved["ticket"]["status"] == "resolved" and resolved["messages"] == []
    handback = resolved["handback"]
    assert "Alice" in handback[0]["text"] and "Parcel arrives tomorrow." in handback[0]["text"]
    assert [b["title"] for b in handback[-1]["buttons"]] == ["1", "2", "3", "4", "5"]

    assert "rating us 4 out of 5" in texts(bot.say(user, handback[-1]["buttons"][3]["payload"]))
    assert agent(crm, "GET", f"/handoffs/{ticket['id']}")["rating"] == 4
    reply = texts(bot.say(user, "where is my order?"))
    assert customer.order_number in reply and "confirm it's you" not in reply  # still verified, the bot works as before


def test_a_typed_rating_outside_1_to_5_is_asked_again(bot: Bot, crm: Crm) -> None:
    user = f"user-{uuid.uuid4().hex[:10]}"
    bot.say(user, "let me talk to someone")
    [ticket] = [t for t in agent(crm, "GET", "/handoffs")["tickets"] if t["conversation_id"] == f"app-{user}"]
    agent(crm, "POST", f"/handoffs/{ticket['id']}/claim")
    agent(crm, "POST", f"/handoffs/{ticket['id']}/resolve", {"note": ""})
    wait_for(lambda: poll(bot, user).json().get("handback"), "the bot's handback", seconds=60)
    assert "from 1 (poor) to 5" in texts(bot.say(user, "10 out of 10"))
    assert "rating us 5 out of 5" in texts(bot.say(user, "5"))
    assert agent(crm, "GET", f"/handoffs/{ticket['id']}")["rating"] == 5


def test_handoff_polls_need_the_users_own_valid_token(bot: Bot, crm: Crm) -> None:
    owner, other = f"user-{uuid.uuid4().hex[:10]}", f"user-{uuid.uuid4().hex[:10]}"
    bot.say(owner, "get me a human")
    [ticket] = [t for t in agent(crm, "GET", "/handoffs")["tickets"] if t["conversation_id"] == f"app-{owner}"]
    agent(crm, "POST", f"/handoffs/{ticket['id']}/claim")
    agent(crm, "POST", f"/handoffs/{ticket['id']}/messages", {"text": "Only for the owner."})
    assert len(poll(bot, owner).json()["messages"]) == 2

    for token in ("", "not-a-jwt", bot.token(owner, secret="x" * 40), bot.token(owner, lifetime=timedelta(minutes=-1))):
        refused = httpx.get(f"{bot.url}/webhooks/app/handoff", headers={"Authorization": f"Bearer {token}"} if token else {})
        assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthenticated"
    strangers = poll(bot, other)  # another user sees their own (absent) handoff, never the owner's
    assert strangers.status_code == 404 and "Only for the owner." not in strangers.text
    assert poll(bot, owner, token=bot.token(owner)).status_code == 200
    assert poll(bot, owner, after="-1").status_code == 422  # type: ignore[arg-type]
    agent(crm, "POST", f"/handoffs/{ticket['id']}/resolve", {"note": ""})
