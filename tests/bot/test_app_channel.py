"""The apps' REST channel: only signed users get in, and each only into their own conversation."""

import uuid
from datetime import datetime, timedelta, timezone

import httpx
import jwt

from channels.api_guard import is_local_client, is_model_route
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


def api_token(secret: str, role: str = "admin") -> str:
    """What the CRM signs to call Rasa's HTTP API (docs/handoff.md)."""
    claims = {"user": {"username": "crm", "role": role}, "exp": datetime.now(timezone.utc) + timedelta(minutes=1)}
    return jwt.encode(claims, secret, algorithm="HS256")


def test_rasa_http_api_needs_a_token_signed_with_its_secret(bot: Bot) -> None:
    tracker = f"{bot.url}/conversations/app-someone/tracker"
    for headers in ({}, {"Authorization": f"Bearer {api_token('x' * 40)}"}, {"Authorization": "Bearer not-a-jwt"}):
        for url in (tracker, f"{bot.url}/status"):
            assert httpx.get(url, headers=headers).status_code == 401, (url, headers)
    execute = httpx.post(f"{bot.url}/conversations/app-someone/execute", json={"name": "action_handback"},
                         headers={"Authorization": f"Bearer {api_token('x' * 40)}"})
    assert execute.status_code == 401
    assert httpx.get(tracker, headers={"Authorization": f"Bearer {api_token(bot.api_secret)}"}).status_code == 200


def test_model_routes_are_refused_to_remote_clients(bot: Bot) -> None:
    admin = {"Authorization": f"Bearer {api_token(bot.api_secret)}"}
    for forwarded in ({"X-Forwarded-For": "203.0.113.7"}, {"Forwarded": "for=203.0.113.7"}, {"X-Real-IP": "203.0.113.7"}):
        for method, path in (("POST", "/model/parse"), ("POST", "/model/train"), ("PUT", "/model"), ("DELETE", "/model"),
                             ("POST", "/model/../model/parse")):
            refused = httpx.request(method, f"{bot.url}{path}", headers=admin | forwarded, json={"text": "hi"})
            assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden", (method, path, forwarded)
    assert httpx.post(f"{bot.url}/model/parse", json={"text": "hi"}).status_code == 401  # local, but no token
    assert httpx.post(f"{bot.url}/model/parse", headers=admin, json={"text": "hi"}).status_code == 200  # the machine itself


def test_who_counts_as_local() -> None:
    assert is_local_client("127.0.0.1", {}) and is_local_client("::1", {})
    assert not is_local_client("10.0.0.5", {}) and not is_local_client("203.0.113.7", {}) and not is_local_client("", {})
    assert not is_local_client("127.0.0.1", {"x-forwarded-for": "203.0.113.7"})
    assert is_model_route("/model") and is_model_route("//model/parse") and is_model_route("/Model/%2e%2e/model/train")
    assert not is_model_route("/models-page") and not is_model_route("/conversations/model/tracker")
