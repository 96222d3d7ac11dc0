"""Handoff tickets through the real app on SQLite and PostgreSQL: context, priority, claiming, the conversation,
the customer's messages, the assistant's cursor, ratings and availability."""

from datetime import datetime, timedelta, timezone
from functools import partial
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import update

from app.core.config import Settings
from app.core.support_hours import DAY_NAMES
from app.data.support_seed import seed_canned_replies
from app.models import HandoffTicket
from conftest import Desk, at_once, open_desk


def handoff(desk: Desk, conversation: str, reason: str = "customer_request", verified: bool = False, **extra: object):  # type: ignore[no-untyped-def]
    headers = desk.as_customer(conversation) if verified else desk.actions
    return desk.client.post("/api/v1/handoffs", headers=headers, json={"conversation_id": conversation, "reason": reason, **extra})


def say(desk: Desk, conversation: str, text: str, sentiment: str | None = None, channel: str = "web",
        message_id: str | None = None) -> None:
    body: dict[str, object] = {"conversation_id": conversation, "channel": channel, "text": text}
    if sentiment:
        body["sentiment"] = {"label": sentiment, "score": 0.9}
    if message_id:
        body["message_id"] = message_id
    assert desk.client.post("/api/v1/interactions", headers=desk.actions, json=body).status_code in (200, 201)


def claimed(desk: Desk, conversation: str, agent: dict[str, str]) -> int:
    ticket_id = handoff(desk, conversation).json()["id"]
    assert desk.client.post(f"/api/v1/handoffs/{ticket_id}/claim", headers=agent).status_code == 200
    return ticket_id


# --- creating a ticket ---------------------------------------------------------------------------------------------


def test_a_verified_customers_ticket_carries_the_context_the_crm_built(desk: Desk) -> None:
    say(desk, "conv-1", "where is my lamp", "neutral", channel="app")
    say(desk, "conv-1", "this is useless", "negative", channel="app")
    response = handoff(desk, "conv-1", "negative_sentiment", verified=True,
                       transcript=[{"sender": "customer", "text": "this is useless"}, {"sender": "bot", "text": "Sorry!"}])
    assert response.status_code == 201, response.text
    receipt = response.json()
    assert receipt["status"] == "waiting" and receipt["reason"] == "negative_sentiment"
    assert "context" not in receipt and "transcript" not in receipt  # the assistant gets no account data back
    assert set(receipt["availability"]) == {"within_hours", "agents_online", "hours", "next_opening"}

    ticket = desk.client.get(f"/api/v1/handoffs/{receipt['id']}", headers=desk.bearer("alice")).json()
    context = ticket["context"]
    assert context["identity"] == {"verified": True, "customer_id": desk.customer_id, "name": "Cara Jones",
                                   "email": "cara@example.com"}
    assert context["account"]["order_count"] == 1 and context["account"]["total_spent"] == "50.00"
    assert context["churn"] is None  # no churn model trained here: no risk, and no error
    assert context["sentiment"]["label"] == "negative" and context["sentiment"]["negative"] == 1
    assert context["sentiment"]["labelled"] == 2 and [m["label"] for m in context["sentiment"]["recent"]] == ["negative", "neutral"]
    assert context["trigger"] == "negative_sentiment" and ticket["channel"] == context["channel"] == "app"
    assert ticket["customer_id"] == desk.customer_id
    assert [entry["sender"] for entry in ticket["transcript"]] == ["customer", "bot"]
    assert ticket["priority"] == pytest.approx(2.5 + 1.5 * 0.5)  # reason + half of the recent messages negative


def test_an_anonymous_ticket_has_no_identity_and_the_bot_cannot_supply_context(desk: Desk) -> None:
    ticket = handoff(desk, "conv-2", channel="web").json()
    body = desk.client.get(f"/api/v1/handoffs/{ticket['id']}", headers=desk.bearer("alice")).json()
    assert body["context"]["identity"] == {"verified": False} and body["context"]["account"] is None
    assert body["customer_id"] is None and body["context"]["sentiment"]["label"] is None
    assert body["priority"] == 1.0
    smuggled = handoff(desk, "conv-3", context={"identity": {"verified": True, "name": "Someone Else"}})
    assert smuggled.status_code == 422
    assert handoff(desk, "conv-3", "world_peace").status_code == 422


def test_asking_twice_queues_once(desk: Desk) -> None:
    first = handoff(desk, "conv-4").json()
    again = handoff(desk, "conv-4", "complaint").json()
    assert again["id"] == first["id"] and again["reason"] == "customer_request"


# --- the queue ---------------------------------------------------------------------------------------------------


def test_the_queue_is_ordered_by_priority_then_waiting_time(desk: Desk) -> None:
    alice = desk.bearer("alice")
    request = handoff(desk, "q-request").json()["id"]
    fallback = handoff(desk, "q-fallback", "repeated_fallback").json()["id"]
    say(desk, "q-angry", "awful", "negative")
    angry_request = handoff(desk, "q-angry").json()["id"]  # 1.0 + 1.5 for its negative message
    complaint = handoff(desk, "q-complaint", "complaint").json()["id"]
    second_request = handoff(desk, "q-request-2").json()["id"]
    queue = desk.client.get("/api/v1/handoffs", headers=alice).json()["tickets"]
    assert [t["id"] for t in queue] == [complaint, angry_request, fallback, request, second_request]
    assert [t["priority"] for t in queue] == [3.0, 2.5, 1.5, 1.0, 1.0]
    assert all(t["effective_priority"] >= t["priority"] and t["waiting_seconds"] >= 0 for t in queue)

    # an hour later the first plain request has waited long enough to go first
    with desk.session() as session:
        ticket = session.get(HandoffTicket, request)
        assert ticket is not None
        session.execute(update(HandoffTicket).where(HandoffTicket.id == request).values(
            created_at=ticket.created_at - timedelta(hours=1), queue_at=ticket.queue_at - timedelta(hours=1)))
        session.commit()
    queue = desk.client.get("/api/v1/handoffs", headers=alice).json()["tickets"]
    assert queue[0]["id"] == request and queue[0]["effective_priority"] == pytest.approx(7.0, abs=0.1)
    assert queue[0]["waiting_seconds"] >= 3600

    claimed_by_alice = desk.client.post(f"/api/v1/handoffs/{complaint}/claim", headers=alice).json()["id"]
    assert complaint not in [t["id"] for t in desk.client.get("/api/v1/handoffs", headers=alice).json()["tickets"]]
    mine = desk.client.get("/api/v1/handoffs?status=claimed&mine=true", headers=alice).json()["tickets"]
    bens = desk.client.get("/api/v1/handoffs?status=claimed&mine=true", headers=desk.bearer("ben")).json()["tickets"]
    assert [t["id"] for t in mine] == [claimed_by_alice] and bens == []


# --- claiming and working a conversation ---------------------------------------------------------------------------


def claim_at_once(desk: Desk, ticket_id: int, agents: dict[str, dict[str, str]]) -> dict[str, tuple[int, dict]]:
    """Every agent claims the ticket at the same moment, each from its own thread; status and body per agent."""
    responses = at_once([partial(desk.client.post, f"/api/v1/handoffs/{ticket_id}/claim", headers=headers)
                         for headers in agents.values()])
    return {name: (response.status_code, response.json()) for name, response in zip(agents, responses)}


def test_of_two_agents_claiming_at_once_exactly_one_wins(desk: Desk) -> None:
    agents = {"Alice": desk.bearer("alice"), "Ben": desk.bearer("ben")}
    for round_number in range(4):
        ticket_id = handoff(desk, f"race-{round_number}").json()["id"]
        results = claim_at_once(desk, ticket_id, agents)
        assert sorted(status for status, _ in results.values()) == [200, 409], results
        winner = next(name for name, (status, _) in results.items() if status == 200)
        loser_error = next(body for status, body in results.values() if status == 409)["error"]
        assert loser_error["code"] == "already_claimed" and loser_error["agent"] == winner
        ticket = desk.client.get(f"/api/v1/handoffs/{ticket_id}", headers=agents[winner]).json()
        assert ticket["agent"] == winner
        assert [(m["sender"], m["text"]) for m in ticket["messages"]] == [("system", f"{winner} joined the conversation")]


def test_only_the_claiming_agent_may_reply_or_resolve(desk: Desk) -> None:
    alice, ben = desk.bearer("alice"), desk.bearer("ben")
    ticket_id = handoff(desk, "conv-5").json()["id"]
    path = f"/api/v1/handoffs/{ticket_id}"
    early = desk.client.post(f"{path}/messages", headers=alice, json={"text": "Hi!"})
    assert early.status_code == 409 and early.json()["error"]["code"] == "not_claimed"
    claim = desk.client.post(f"{path}/claim", headers=alice, json={"agent_name": "Mallory"})  # a name in the body is ignored
    assert claim.status_code == 200 and claim.json()["agent"] == "Alice" and claim.json()["agent_id"] is not None
    for attempt in (desk.client.post(f"{path}/messages", headers=ben, json={"text": "Ben here"}),
                    desk.client.post(f"{path}/resolve", headers=ben, json={"note": "done"})):
        assert attempt.status_code == 403 and attempt.json()["error"]["code"] == "not_your_ticket"
    reply = desk.client.post(f"{path}/messages", headers=alice, json={"text": "Hi, Alice here."})
    assert reply.status_code == 201 and reply.json()["sender"] == "agent" and reply.json()["author"] == "Alice"
    assert desk.client.post(f"{path}/messages", headers=alice, json={"text": ""}).status_code == 422
    resolved = desk.client.post(f"{path}/resolve", headers=alice, json={"note": "Refund issued"})
    assert resolved.status_code == 200
    assert resolved.json()["status"] == "resolved" and resolved.json()["resolution_note"] == "Refund issued"
    after = desk.client.post(f"{path}/messages", headers=alice, json={"text": "one more thing"})
    assert after.status_code == 409 and after.json()["error"]["code"] == "ticket_resolved"
    assert desk.client.post(f"{path}/resolve", headers=alice, json={"note": ""}).status_code == 409
    assert desk.client.post(f"{path}/claim", headers=ben).status_code == 409
    assert desk.client.get("/api/v1/handoffs/424242", headers=alice).status_code == 404


def test_customer_messages_reach_the_open_ticket_through_interactions(desk: Desk) -> None:
    alice = desk.bearer("alice")
    say(desk, "conv-6", "before the handoff")
    ticket_id = claimed(desk, "conv-6", alice)
    say(desk, "conv-6", "are you there?", "neutral")
    say(desk, "other-conversation", "not for this ticket")
    desk.client.post(f"/api/v1/handoffs/{ticket_id}/messages", headers=alice, json={"text": "Yes, I'm here."})
    say(desk, "conv-6", "great, my lamp is broken")
    thread = desk.client.get(f"/api/v1/handoffs/{ticket_id}/messages", headers=alice).json()
    assert [(m["sender"], m["text"]) for m in thread] == [
        ("system", "Alice joined the conversation"), ("customer", "are you there?"), ("agent", "Yes, I'm here."),
        ("customer", "great, my lamp is broken")]
    cursor = thread[1]["id"]
    later = desk.client.get(f"/api/v1/handoffs/{ticket_id}/messages?after={cursor}", headers=alice).json()
    assert [m["text"] for m in later] == ["Yes, I'm here.", "great, my lamp is broken"]
    desk.client.post(f"/api/v1/handoffs/{ticket_id}/resolve", headers=alice, json={"note": "replacement sent"})
    say(desk, "conv-6", "thanks!")  # back with the assistant: logged, not added to the closed ticket
    assert len(desk.client.get(f"/api/v1/handoffs/{ticket_id}/messages", headers=alice).json()) == 4
    assert desk.client.get(f"/api/v1/handoffs/{ticket_id}/messages", headers=desk.actions).status_code == 403


def agent_sees(desk: Desk, ticket_id: int, agent: dict[str, str]) -> list[tuple[str, str]]:
    """The conversation as the console shows it: the transcript the ticket was opened with, then its messages."""
    ticket = desk.client.get(f"/api/v1/handoffs/{ticket_id}", headers=agent).json()
    return ([(entry["sender"], entry["text"]) for entry in ticket["transcript"]]
            + [(message["sender"], message["text"]) for message in ticket["messages"]])


def said(*messages: tuple[str, str, str | None]) -> list[dict[str, str]]:
    """A transcript as the bot sends it: (sender, text, Rasa's message id of a customer message or None)."""
    return [{"sender": sender, "text": text} | ({"message_id": message_id} if message_id else {})
            for sender, text, message_id in messages]


def test_the_message_that_triggers_the_handoff_is_shown_once(desk: Desk) -> None:
    """Rasa publishes a turn's customer message only after the turn's actions ran, so the interaction log gets the
    message that triggered the handoff after the ticket exists, when the ticket's transcript already has it."""
    alice = desk.bearer("alice")
    say(desk, "conv-12", "my lamp flickers", message_id="a1")
    transcript = said(("customer", "my lamp flickers", "a1"), ("bot", "Have you tried another bulb?", None),
                      ("customer", "a person please", "a2"))
    ticket_id = handoff(desk, "conv-12", transcript=transcript).json()["id"]
    say(desk, "conv-12", "a person please", message_id="a2")  # the triggering message, logged after its turn
    say(desk, "conv-12", "a person please", message_id="a2")  # and again (a retry): still logged once
    assert desk.client.post(f"/api/v1/handoffs/{ticket_id}/claim", headers=alice).status_code == 200
    say(desk, "conv-12", "a person please", message_id="a3")  # the same text said again, to the agent: a new message
    say(desk, "conv-12", "my lamp flickers", message_id="a4")  # an older text, sent again: new too
    assert agent_sees(desk, ticket_id, alice) == [(entry["sender"], entry["text"]) for entry in transcript] + [
        ("system", "Alice joined the conversation"), ("customer", "a person please"), ("customer", "my lamp flickers")]


def test_every_transcript_message_the_log_receives_late_is_shown_once_whatever_the_order(desk: Desk) -> None:
    alice = desk.bearer("alice")
    transcript = said(("customer", "hello", "b1"), ("bot", "Hi! How can I help?", None), ("customer", "hello", "b2"),
                      ("customer", "a human", "b3"))
    ticket_id = handoff(desk, "conv-13", transcript=transcript).json()["id"]
    for text, message_id in (("hello", "b2"), ("a human", "b3"), ("hello", "b4"), ("hello", "b1")):
        say(desk, "conv-13", text, message_id=message_id)  # the log behind by the whole transcript, out of order
    assert agent_sees(desk, ticket_id, alice) == [(entry["sender"], entry["text"]) for entry in transcript] + [
        ("customer", "hello")]


def test_a_message_without_an_id_is_shown_even_if_the_transcript_has_its_text(desk: Desk) -> None:
    """An old client sends no ids: the agent may then read a message twice, but never misses one."""
    alice = desk.bearer("alice")
    ticket_id = handoff(desk, "conv-14", transcript=said(("customer", "a person please", None))).json()["id"]
    say(desk, "conv-14", "a person please")
    assert agent_sees(desk, ticket_id, alice) == [("customer", "a person please"), ("customer", "a person please")]


# --- what the assistant reads, and the rating ---------------------------------------------------------------------


def test_the_assistants_cursor_delivers_each_agent_message_once(desk: Desk) -> None:
    alice = desk.bearer("alice")
    path = "/api/v1/conversations/conv-7/handoff"
    assert desk.client.get(path, headers=desk.actions).status_code == 404
    ticket_id = handoff(desk, "conv-7").json()["id"]
    waiting = desk.client.get(path, headers=desk.actions).json()
    assert waiting["ticket"]["status"] == "waiting" and waiting["messages"] == []
    desk.client.post(f"/api/v1/handoffs/{ticket_id}/claim", headers=alice)
    say(desk, "conv-7", "hello?")
    desk.client.post(f"/api/v1/handoffs/{ticket_id}/messages", headers=alice, json={"text": "Hello Cara"})

    delivered: list[tuple[str, str]] = []
    cursor = 0
    for _ in range(3):  # polling again and again delivers nothing twice
        batch = desk.client.get(f"{path}?after={cursor}", headers=desk.actions).json()
        delivered += [(m["sender"], m["text"]) for m in batch["messages"]]
        cursor = batch["messages"][-1]["id"] if batch["messages"] else cursor
    assert delivered == [("system", "Alice joined the conversation"), ("agent", "Hello Cara")]  # not the customer's own

    desk.client.post(f"/api/v1/handoffs/{ticket_id}/messages", headers=alice, json={"text": "Sorted!"})
    desk.client.post(f"/api/v1/handoffs/{ticket_id}/resolve", headers=alice, json={"note": "New lamp on its way"})
    final = desk.client.get(f"{path}?after={cursor}", headers=desk.actions).json()
    assert [m["text"] for m in final["messages"]] == ["Sorted!"]
    assert final["ticket"]["status"] == "resolved" and final["ticket"]["agent"] == "Alice"
    assert final["ticket"]["resolution_note"] == "New lamp on its way" and final["ticket"]["resolved_at"]
    assert "context" not in final["ticket"]
    assert desk.client.get(f"{path}?after=-1", headers=desk.actions).status_code == 422


def test_a_resolved_conversation_is_rated_once(desk: Desk) -> None:
    alice = desk.bearer("alice")
    ticket_id = claimed(desk, "conv-8", alice)
    rating = f"/api/v1/handoffs/{ticket_id}/rating"
    early = desk.client.post(rating, headers=desk.actions, json={"rating": 5})
    assert early.status_code == 409 and early.json()["error"]["code"] == "not_resolved"
    desk.client.post(f"/api/v1/handoffs/{ticket_id}/resolve", headers=alice, json={"note": "done"})
    for bad in ({"rating": 0}, {"rating": 6}, {"rating": 4.5}, {"rating": 3, "comment": "x" * 2001}, {}):
        assert desk.client.post(rating, headers=desk.actions, json=bad).status_code == 422, bad
    assert desk.client.post(rating, headers=alice, json={"rating": 5}).status_code == 403
    rated = desk.client.post(rating, headers=desk.actions, json={"rating": 4, "comment": "quick and kind"})
    assert rated.status_code == 200 and rated.json()["rating"] == 4 and rated.json()["rated_at"]
    again = desk.client.post(rating, headers=desk.actions, json={"rating": 1})
    assert again.status_code == 409 and again.json()["error"]["code"] == "already_rated"
    ticket = desk.client.get(f"/api/v1/handoffs/{ticket_id}", headers=alice).json()
    assert ticket["rating"] == 4 and ticket["rating_comment"] == "quick and kind"
    assert desk.client.post("/api/v1/handoffs/424242/rating", headers=desk.actions, json={"rating": 3}).status_code == 404


def test_canned_replies_are_for_agents(desk: Desk) -> None:
    with desk.session() as session:
        seed_canned_replies(session)
    replies = desk.client.get("/api/v1/canned-replies", headers=desk.bearer("alice")).json()
    assert len(replies) >= 8 and {"id", "title", "text"} == set(replies[0])
    assert desk.client.get("/api/v1/canned-replies", headers=desk.actions).status_code == 403


# --- availability ------------------------------------------------------------------------------------------------


def _with_hours(settings: Settings, hours: str) -> Settings:
    return settings.model_copy(update={"support_hours": hours, "support_timezone": "Europe/London"})


def test_availability_inside_hours_with_and_without_agents(settings: Settings) -> None:
    with open_desk(_with_hours(settings, "Mon-Sun 00:00-24:00")) as desk:
        nobody = desk.client.get("/api/v1/support/availability", headers=desk.actions).json()
        assert nobody == {"within_hours": True, "agents_online": 0, "hours": "every day, all day", "next_opening": None}
        desk.bearer("ben")  # signing in counts as a heartbeat
        receipt = handoff(desk, "conv-9").json()
        assert receipt["availability"]["within_hours"] is True and receipt["availability"]["agents_online"] == 1


def test_availability_outside_hours_names_the_next_opening(settings: Settings) -> None:
    london = ZoneInfo("Europe/London")
    in_three_days = datetime.now(london).date() + timedelta(days=3)
    day_name = DAY_NAMES[in_three_days.weekday()]
    with open_desk(_with_hours(settings, f"{day_name} 10:00-11:30")) as desk:
        body = desk.client.get("/api/v1/support/availability", headers=desk.bearer("alice")).json()
        assert body["within_hours"] is False and body["agents_online"] == 1
        assert body["hours"] == f"{day_name} 10:00-11:30 (Europe/London time)"
        expected = datetime(in_three_days.year, in_three_days.month, in_three_days.day, 10, 0, tzinfo=london)
        assert datetime.fromisoformat(body["next_opening"]) == expected
        receipt = handoff(desk, "conv-10").json()
        assert receipt["status"] == "waiting" and receipt["availability"]["within_hours"] is False
        assert desk.client.get("/api/v1/support/availability").status_code == 401


def test_tickets_are_stamped_in_utc(desk: Desk) -> None:
    created = datetime.fromisoformat(handoff(desk, "conv-11").json()["created_at"])
    assert created.utcoffset() == timedelta(0) and abs(datetime.now(timezone.utc) - created) < timedelta(minutes=1)
