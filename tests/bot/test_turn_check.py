"""Rasa calls ``action_check_turn`` only when it can do something (rasa_server/turn_check.py): the action's own test
decides, the action does nothing when Rasa would skip it, and the negative-run offer still works through real Rasa."""

import itertools
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from rasa.core.actions.action import ActionExtractSlots
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, ConversationPaused, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig
from rasa_sdk.executor import CollectingDispatcher

from actions.config import at_least_one
from actions.parsing import turn_needs_checking
from actions.support import ActionCheckTurn
from conftest import Bot, serving
from rasa_server import turn_check
from trackers import DOMAIN, DOMAIN_DICT, make_tracker

NEGATIVE = {"label": "negative", "score": 0.9}
NEUTRAL = {"label": "neutral", "score": 0.8}


@pytest.fixture
async def action_calls() -> AsyncIterator[tuple[EndpointConfig, list[str]]]:
    """An action server that answers every action with nothing to do, and the names of the actions Rasa asked for."""
    called: list[str] = []

    async def run(request: web.Request) -> web.Response:
        called.append((await request.json())["next_action"])
        return web.json_response({"events": [], "responses": []})

    app = web.Application()
    app.router.add_post("/webhook", run)
    async with serving(app) as url:
        yield EndpointConfig(f"{url}/webhook"), called


def conversation(sentiment: dict[str, Any], *before: Event) -> DialogueStateTracker:
    said = UserUttered("where is my parcel", {"name": "track_order", "confidence": 0.9},
                       parse_data={"sentiment": sentiment})
    return DialogueStateTracker.from_events(f"u-{uuid.uuid4().hex}", [ActionExecuted(ACTION_LISTEN_NAME), *before, said],
                                            slots=DOMAIN.slots)


async def test_rasa_asks_the_action_server_only_when_there_is_something_to_check(action_calls) -> None:
    endpoint, called = action_calls
    turn_check.apply()
    extract = ActionExtractSlots(endpoint)
    nlg = TemplatedNaturalLanguageGenerator(DOMAIN.responses)
    cases = [(conversation(NEUTRAL), False), (conversation(NEGATIVE), True),
             (conversation(NEUTRAL, SlotSet("pending_change", "cancel:SO-1234567")), True),
             (conversation(NEGATIVE, ConversationPaused()), False)]
    for tracker, expected in cases:
        called.clear()
        await extract.run(CollectingOutputChannel(), nlg, tracker, DOMAIN)
        assert (called == ["action_check_turn"]) is expected, (tracker.latest_message.parse_data, called)


@pytest.mark.parametrize("pending, sentiment, history_negative",
                         itertools.product([None, "cancel:SO-1234567"], [NEUTRAL, None], [0, 5]))
async def test_the_action_does_nothing_when_rasa_would_skip_it(pending, sentiment, history_negative) -> None:
    """Whatever came before, a message that is not negative with no question pending changes nothing."""
    history = [{"event": "user", "text": "bad", "parse_data": {"sentiment": NEGATIVE}}] * history_negative
    tracker = make_tracker(text="ok then", intent="faq", slots={"pending_change": pending}, history=history,
                           sentiment=sentiment)
    dispatcher = CollectingDispatcher()
    events = await ActionCheckTurn().run(dispatcher, tracker, DOMAIN_DICT)
    assert turn_needs_checking(False, pending, tracker.latest_message) is bool(pending)
    if not pending:
        assert events == [] and dispatcher.messages == []


def test_a_run_of_zero_messages_is_refused() -> None:
    assert at_least_one("NEGATIVE_MESSAGES_BEFORE_OFFER", "2") == 2
    with pytest.raises(ValueError, match="at least 1"):
        at_least_one("NEGATIVE_MESSAGES_BEFORE_OFFER", "0")


def test_a_run_of_negative_messages_gets_a_person_offered_through_real_rasa(bot: Bot) -> None:
    me = f"u-{uuid.uuid4().hex}"
    replies = [bot.texts(me, text) for text in ("how long does delivery take? I'm fed up waiting",
                                                "stupid website, how do I reset my password",
                                                "ugh, what payment methods do you even accept, this is annoying")]
    assert "take over" not in " ".join(replies[:2])
    # the offer first (Rasa 3.6 dropped it: rasa_server/turn_check.py), then the answer to the question
    assert replies[2].startswith("I'm sorry this has been frustrating. Would you like me to get a person")
    assert "We accept Visa" in replies[2]
    assert "take over" not in bot.texts(me, "why does delivery take so long, this is ridiculous")  # once only
