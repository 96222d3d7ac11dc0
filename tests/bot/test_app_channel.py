"""The apps' REST channel: only signed users get in, and each only into their own conversation."""

import uuid
from datetime import timedelta

import httpx

from conftest import Bot


def test_signed_user_gets_answers(bot: Bot) -> None:
    response = bot.post({"message": "hello"}, f"Bearer {bot.token('user-1')}")
    assert response.status_code == 200 and "assistant" in response.json()[0]["text"]


def test_missing_forged_expired_and_malformed_tokens_are_refused(bot: Bot) -> None:
    forged = bot.token("user-1", secret="x" * 40)
    expired = bot.token("user-1", lifetime=timedelta(minutes=-1))
    for authorization in (None, "Bearer", f"Bearer {forged}", f"Bearer {expired}", "Bearer not-a-jwt", f"Basic {bot.token('u')}"):
        response = bot.post({"message": "hello"}, authorization)
        assert response.status_code == 401, authorization
        assert response.json()["error"]["code"] == "unauthenticated"
    assert "expired" in bot.post({"message": "hi"}, f"Bearer {expired}").json()["error"]["message"]


def test_conversation_is_bound_to_the_signed_user(bot: Bot) -> None:
    """A request naming another sender still lands in the signed user's own conversation."""
    alice, mallory = f"alice-{uuid.uuid4().hex[:8]}", f"mallory-{uuid.uuid4().hex[:8]}"
    bot.say(alice, "where is my order?")  # alice's conversation now waits for her email
    hijack = bot.post({"message": "SO-1234567", "sender": alice}, f"Bearer {bot.token(mallory)}")
    assert hijack.status_code == 200
    assert "postcode" not in " ".join(m.get("text", "") for m in hijack.json())  # mallory's own, fresh conversation


def test_empty_huge_and_malformed_bodies_get_clear_errors(bot: Bot) -> None:
    authorization = f"Bearer {bot.token('user-2')}"
    assert bot.post({"message": ""}, authorization).status_code == 422
    assert bot.post({"message": "   "}, authorization).status_code == 422
    assert bot.post({"text": "hi"}, authorization).status_code == 422
    assert bot.post(["hi"], authorization).status_code == 422
    too_long = bot.post({"message": "refund " * 2000}, authorization)
    assert too_long.status_code == 413 and too_long.json()["error"]["code"] == "message_too_long"


def test_rasa_http_api_is_not_exposed(bot: Bot) -> None:
    for path in ("/model/parse", "/conversations/someone/tracker", "/status"):
        assert httpx.get(f"{bot.url}{path}").status_code in (403, 404, 405), path
