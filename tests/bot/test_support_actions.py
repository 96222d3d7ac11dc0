"""When a person is offered (complaints, misunderstandings, negative messages), one-time codes, recommendations."""

import re

import httpx
import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.config import get_action_settings
from actions.confirmation import ActionAnswerConfirmation
from actions.recommendations import ActionRecommend
from actions.support import ActionAcknowledgeComplaint, ActionCheckTurn, ActionRephraseOrOfferHuman
from conftest import Crm
from shop import agent_get, customer_where, route_missing
from test_actions import conversation, validate
from trackers import DOMAIN_DICT, make_tracker

NEGATIVE = {"label": "negative", "score": 0.9}


def user_said(text: str, intent: str = "track_order", sentiment: dict | None = None) -> dict:
    parse_data = {"text": text, "intent": {"name": intent, "confidence": 0.9}} | ({"sentiment": sentiment} if sentiment else {})
    return {"event": "user", "text": text, "parse_data": parse_data}


async def check_turn(history: list[dict], slots: dict | None = None, intent: str = "track_order") -> tuple[list[str], dict]:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(slots=slots, text="still nothing!!", intent=intent, history=history, sentiment=NEGATIVE)
    events = await ActionCheckTurn().run(dispatcher, tracker, DOMAIN_DICT)
    return [m["response"] for m in dispatcher.messages], {e["name"]: e["value"] for e in events if e["event"] == "slot"}


async def test_a_run_of_negative_messages_offers_a_person_once() -> None:
    run = get_action_settings().negative_messages_before_offer
    said, slots = await check_turn([user_said("where is my parcel", sentiment=NEGATIVE)] * (run - 2))
    assert said == [] and slots == {}  # one message short of the run
    angry = [user_said("where is my parcel", sentiment=NEGATIVE)] * (run - 1)
    said, slots = await check_turn(angry)
    assert said == ["utter_offer_human_negative"] and slots == {"pending_change": "handoff:negative_sentiment"}
    offered = angry + [{"event": "bot", "text": "...", "metadata": {"utter_action": "utter_offer_human_negative"}}]
    said, _ = await check_turn(offered + [user_said("no", "deny", NEGATIVE)])
    assert said == []  # never twice in one conversation
    assert (await check_turn(angry, intent="complain"))[0] == []  # the complaint offers a person itself
    calm = [user_said("where is my parcel", sentiment=NEGATIVE), user_said("ok", sentiment={"label": "neutral", "score": 0.8})]
    assert (await check_turn(calm))[0] == []


async def test_an_unanswered_question_is_dropped_when_the_customer_moves_on() -> None:
    _, slots = await check_turn([], slots={"pending_change": "cancel:SO-1234567"}, intent="faq")
    assert slots == {"pending_change": None}
    _, slots = await check_turn([], slots={"pending_change": "cancel:SO-1234567"}, intent="affirm")
    assert slots == {}


async def test_complaint_then_yes_queues_a_complaint_ticket(crm_env: Crm) -> None:
    dispatcher = CollectingDispatcher()
    events = await ActionAcknowledgeComplaint().run(dispatcher, make_tracker(text="worst service ever", intent="complain"), DOMAIN_DICT)
    assert [m["response"] for m in dispatcher.messages] == ["utter_complaint_ack", "utter_offer_human"]
    assert events[0]["value"] == "handoff:complaint"
    sender = conversation()
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(sender_id=sender, slots={"pending_change": "handoff:complaint"}, text="yes", intent="affirm",
                           history=[user_said("worst service ever", "complain")])
    await ActionAnswerConfirmation().run(dispatcher, tracker, DOMAIN_DICT)
    assert dispatcher.messages[0]["response"] in ("utter_handoff_waiting", "utter_handoff_nobody_online")
    queue = httpx.get(f"{crm_env.url}/api/v1/handoffs", headers=crm_env.agent_headers()).json()
    [ticket] = [t for t in queue["tickets"] if t["conversation_id"] == sender]
    assert ticket["reason"] == "complaint"


async def test_no_to_a_person_and_yes_to_nothing() -> None:
    dispatcher = CollectingDispatcher()
    await ActionAnswerConfirmation().run(dispatcher, make_tracker(slots={"pending_change": "handoff:complaint"}, intent="deny"), DOMAIN_DICT)
    await ActionAnswerConfirmation().run(dispatcher, make_tracker(intent="affirm"), DOMAIN_DICT)
    assert [m["response"] for m in dispatcher.messages] == ["utter_anything_else", "utter_nothing_to_confirm"]


async def test_rephrase_first_then_offer_a_person() -> None:
    dispatcher = CollectingDispatcher()
    await ActionRephraseOrOfferHuman().run(dispatcher, make_tracker(text="blorp", intent="nlu_fallback"), DOMAIN_DICT)
    history = [user_said("flarp", "nlu_fallback")]
    events = await ActionRephraseOrOfferHuman().run(dispatcher, make_tracker(text="blorp", intent="nlu_fallback", history=history), DOMAIN_DICT)
    assert [m["response"] for m in dispatcher.messages] == ["utter_ask_rephrase", "utter_offer_human_fallback"]
    assert events[0]["value"] == "handoff:repeated_fallback"


async def test_one_time_code_instead_of_the_postcode(crm_env: Crm) -> None:
    customer = customer_where(crm_env, "o.status = 'delivered'")
    sender = conversation()
    slots, messages = await validate({"customer_identifier": customer.email}, {"customer_postcode": "can you send me a code"}, sender)
    assert slots == {"customer_postcode": None, "one_time_code_sent": True} and messages[0]["response"] == "utter_code_sent"
    [mail] = [path for path in crm_env.outbox.iterdir() if customer.email in path.read_text()]
    code = re.search(r"code is (\d{6})", mail.read_text()).group(1)
    asked = {"customer_identifier": customer.email, "one_time_code_sent": True}
    slots, messages = await validate(asked, {"customer_postcode": "hmm"}, sender)
    assert messages[0]["response"] == "utter_code_not_understood"
    slots, _ = await validate(asked, {"customer_postcode": f"it's {code[:3]} {code[3:]}"}, sender)
    assert slots["verified"] is True and slots["customer_id"] == customer.id and slots["one_time_code_sent"] is False


def recommendations_answer(crm: Crm, path: str) -> int:
    """The CRM's status for a recommendation endpoint; skips the test when the endpoint doesn't exist."""
    if route_missing(crm, path):
        pytest.skip(f"the CRM has no GET {path.split('?')[0]} (404 route not found)")
    return agent_get(crm, path).status_code


async def test_popular_products_without_verification(crm_env: Crm) -> None:
    status = recommendations_answer(crm_env, "/recommendations/popular?k=3")
    dispatcher = CollectingDispatcher()
    await ActionRecommend().run(dispatcher, make_tracker(text="what's popular", intent="ask_recommendation"), DOMAIN_DICT)
    expected = "utter_recommend_popular" if status == 200 else "utter_recommend_unavailable"  # 503: model not trained
    assert dispatcher.messages[0]["response"] == expected


async def test_personal_recommendations_with_the_reason(crm_env: Crm) -> None:
    customer = customer_where(crm_env, "o.status = 'delivered'")
    if recommendations_answer(crm_env, f"/customers/{customer.id}/recommendations?k=3") != 200:
        pytest.skip("the test CRM has no trained recommendation model (503)")
    slots, _ = await validate({"customer_identifier": customer.email}, {"customer_postcode": customer.postcode})
    dispatcher = CollectingDispatcher()
    await ActionRecommend().run(dispatcher, make_tracker(slots=slots, text="any ideas for me?", intent="ask_recommendation"), DOMAIN_DICT)
    assert dispatcher.messages[0]["response"] == "utter_recommend_personal" and "(" in dispatcher.messages[0]["products"]


async def test_recommendations_missing_or_down_are_said_plainly(crm_down: None) -> None:
    dispatcher = CollectingDispatcher()
    await ActionRecommend().run(dispatcher, make_tracker(text="something like the desk lamp", intent="ask_recommendation"), DOMAIN_DICT)
    assert [m["response"] for m in dispatcher.messages] == ["utter_recommend_unavailable"]
