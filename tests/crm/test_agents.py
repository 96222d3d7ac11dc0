"""Agents as people: sign-in with a lockout, agent tokens kept apart from service keys and customer tokens, the CLI."""

import io
import secrets
from datetime import datetime, timedelta, timezone

import jwt
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from app.cli import main as crm
from app.cli import seed_support
from app.core.config import Settings
from app.core.db import make_engine, make_session_factory
from app.core.security import AGENT_AUDIENCE, issue_agent_token, issue_customer_token
from app.data.support_seed import CANNED_REPLIES
from app.main import create_app
from app.models import Agent, AgentLoginFailure, AuditEntry, CannedReply
from conftest import PASSWORD, Desk

# --- signing in ---------------------------------------------------------------------------------------------------


def test_login_gives_an_agent_token_and_me_tells_who(desk: Desk) -> None:
    response = desk.login("  ALICE ")  # user names are case-insensitive
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["agent"]["username"] == "alice" and body["agent"]["display_name"] == "Alice"
    assert body["agent"]["online"] is True  # signing in counts as being seen
    expires = datetime.fromisoformat(body["expires_at"])
    assert timedelta(hours=7, minutes=59) < expires - datetime.now(timezone.utc) <= timedelta(hours=8)
    claims = jwt.decode(body["token"], desk.settings.token_secret.get_secret_value(), algorithms=["HS256"],
                        audience=AGENT_AUDIENCE)
    assert claims["typ"] == "agent"
    me = desk.client.get("/api/v1/agents/me", headers={"Authorization": f"Bearer {body['token']}"})
    assert me.status_code == 200 and me.json()["username"] == "alice"
    assert "password" not in me.text and "scrypt" not in me.text


def test_wrong_password_and_unknown_user_fail_alike(desk: Desk) -> None:
    wrong = desk.login("alice", "not the password at all")
    unknown = desk.login("mallory", PASSWORD)
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.json()["error"]["message"] == unknown.json()["error"]["message"]
    assert wrong.json()["error"]["code"] == "login_failed" and wrong.json()["error"]["remaining_attempts"] == 4
    with desk.session() as session:  # the user name is kept only as a keyed hash
        stored = session.scalars(select(AgentLoginFailure.username_hash)).all()
    assert len(stored) == 2 and not any("alice" in value or "mallory" in value for value in stored)


def test_lockout_after_repeated_failures_per_user_name(desk: Desk) -> None:
    remaining = [desk.login("alice", f"guess number {i}").json()["error"]["remaining_attempts"] for i in range(4)]
    assert remaining == [4, 3, 2, 1]
    fifth = desk.login("alice", "guess number 5")
    assert fifth.status_code == 429 and fifth.json()["error"]["code"] == "login_locked"
    assert 0 < int(fifth.headers["Retry-After"]) <= desk.settings.lockout_window_seconds
    locked_out_right = desk.login("alice")
    assert locked_out_right.status_code == 429  # even the right password waits out the window
    assert desk.login("ben").status_code == 200  # other agents are not affected
    with desk.session() as session:  # the window passes
        session.execute(update(AgentLoginFailure).values(created_at=datetime.now(timezone.utc) - timedelta(hours=1)))
        session.commit()
    assert desk.login("alice").status_code == 200


def test_inactive_agents_can_neither_sign_in_nor_use_their_token(desk: Desk) -> None:
    headers = desk.bearer("ben")
    with desk.session() as session:
        session.execute(update(Agent).where(Agent.username == "ben").values(is_active=False))
        session.commit()
    assert desk.login("ben").status_code == 401
    refused = desk.client.get("/api/v1/agents/me", headers=headers)
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthenticated"


def test_login_input_is_validated(desk: Desk) -> None:
    assert desk.client.post("/api/v1/agents/login", json={"username": "alice"}).status_code == 422
    assert desk.client.post("/api/v1/agents/login", json={"username": "a" * 41, "password": "x"}).status_code == 422
    extra = desk.client.post("/api/v1/agents/login", json={"username": "alice", "password": PASSWORD, "admin": True})
    assert extra.status_code == 422


# --- tokens and keys kept apart -----------------------------------------------------------------------------------


def test_agent_routes_need_an_agent_token(desk: Desk) -> None:
    agent_routes = [("get", "/api/v1/handoffs"), ("get", "/api/v1/canned-replies"), ("get", "/api/v1/agents/me"),
                    ("post", "/api/v1/agents/me/heartbeat"), ("get", "/api/v1/churn/high-risk"),
                    ("get", "/api/v1/segments")]
    for method, path in agent_routes:
        assert desk.client.request(method, path).status_code == 401, path
        refused = desk.client.request(method, path, headers=desk.actions)
        assert refused.status_code == 403 and refused.json()["error"]["code"] == "forbidden", path


def test_agent_tokens_are_refused_on_actions_only_routes(desk: Desk) -> None:
    agent = desk.bearer("alice")
    actions_only = [
        ("post", "/api/v1/identity/verify", {"conversation_id": "c", "identifier": "cara@example.com", "postcode": "BS1 5TR"}),
        ("post", "/api/v1/interactions", {"conversation_id": "c", "channel": "web", "text": "hello"}),
        ("post", "/api/v1/handoffs", {"conversation_id": "c", "reason": "customer_request"}),
        ("get", "/api/v1/conversations/c/handoff", None),
    ]
    for method, path, body in actions_only:
        response = desk.client.request(method, path, headers=agent, json=body)
        assert response.status_code == 403, path


def test_agents_open_any_customer_and_changes_name_them_in_the_audit(desk: Desk) -> None:
    agent = desk.bearer("alice")
    summary = desk.client.get(f"/api/v1/customers/{desk.customer_id}/summary", headers=agent)
    assert summary.status_code == 200 and summary.json()["name"] == "Cara Jones"
    changed = desk.client.patch(f"/api/v1/customers/{desk.customer_id}/contact", headers=agent, json={"phone": "+44 117 496 0000"})
    assert changed.status_code == 200
    with desk.session() as session:
        assert session.scalars(select(AuditEntry.actor)).all() == ["agent:alice"]


def test_forged_expired_and_customer_tokens_are_not_agent_tokens(desk: Desk) -> None:
    secret = desk.settings.token_secret.get_secret_value()
    with desk.session() as session:
        alice_id = session.scalar(select(Agent.id).where(Agent.username == "alice"))
    now = datetime.now(timezone.utc)
    customer_token = issue_customer_token(secret, desk.customer_id, "conv-1", 600)[0]
    forged = issue_agent_token(secrets.token_urlsafe(32), alice_id, 600)[0]
    expired = jwt.encode({"typ": "agent", "sub": str(alice_id), "aud": AGENT_AUDIENCE, "exp": now - timedelta(seconds=5)},
                         secret, "HS256")
    no_audience = jwt.encode({"typ": "agent", "sub": str(alice_id), "exp": now + timedelta(minutes=5)}, secret, "HS256")
    for token in (customer_token, forged, expired, no_audience, "x" * 43):
        response = desk.client.get("/api/v1/handoffs", headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, token
    # and an agent token is no customer verification
    agent_token = issue_agent_token(secret, alice_id, 600)[0]
    as_customer = desk.client.get(f"/api/v1/customers/{desk.customer_id}/summary",
                                  headers=desk.actions | {"X-Customer-Token": agent_token})
    assert as_customer.status_code == 401 and as_customer.json()["error"]["code"] == "customer_verification_required"


def test_the_old_shared_agent_key_is_harmless(monkeypatch: pytest.MonkeyPatch, desk: Desk) -> None:
    old_key = secrets.token_urlsafe(32)
    monkeypatch.setenv("CRM_AGENT_API_KEY", old_key)
    settings = Settings(token_secret=secrets.token_urlsafe(32), actions_api_key=secrets.token_urlsafe(32))
    assert not hasattr(settings, "agent_api_key")
    assert desk.client.get("/api/v1/handoffs", headers={"Authorization": f"Bearer {old_key}"}).status_code == 401


# --- online, heartbeat ----------------------------------------------------------------------------------------------


def test_heartbeat_keeps_an_agent_online(desk: Desk) -> None:
    headers = desk.bearer("alice")
    availability = desk.client.get("/api/v1/support/availability", headers=desk.actions).json()
    assert availability["agents_online"] == 1
    with desk.session() as session:  # two minutes without a heartbeat
        session.execute(update(Agent).values(last_seen_at=datetime.now(timezone.utc) - timedelta(minutes=2)))
        session.commit()
    assert desk.client.get("/api/v1/support/availability", headers=desk.actions).json()["agents_online"] == 0
    assert desk.client.get("/api/v1/agents/me", headers=headers).json()["online"] is False
    beat = desk.client.post("/api/v1/agents/me/heartbeat", headers=headers)
    assert beat.status_code == 200 and beat.json()["online"] is True
    assert desk.client.get("/api/v1/support/availability", headers=headers).json()["agents_online"] == 1


# --- the command line -----------------------------------------------------------------------------------------------


def test_create_agent_takes_the_password_from_the_environment(sqlite_url: str, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("CRM_NEW_AGENT_PASSWORD", PASSWORD)
    assert crm(["--database-url", sqlite_url, "create-agent", "--username", "Priya", "--display-name", "Priya"]) == 0
    assert "agent priya (Priya) created" in capsys.readouterr().out
    with pytest.raises(SystemExit, match="already exists"):
        crm(["--database-url", sqlite_url, "create-agent", "--username", "priya", "--display-name", "P"])
    monkeypatch.setenv("CRM_NEW_AGENT_PASSWORD", "short")
    with pytest.raises(SystemExit, match="at least 12 characters"):
        crm(["--database-url", sqlite_url, "create-agent", "--username", "tom", "--display-name", "Tom"])
    with pytest.raises(SystemExit, match="user names are"):
        crm(["--database-url", sqlite_url, "create-agent", "--username", "no spaces", "--display-name", "X"])
    engine = make_engine(sqlite_url)
    with make_session_factory(engine)() as session:
        agent = session.scalar(select(Agent).where(Agent.username == "priya"))
        assert agent is not None and agent.password_hash.startswith("scrypt$") and PASSWORD not in agent.password_hash
        assert session.scalar(select(Agent).where(Agent.username == "tom")) is None
    engine.dispose()


def test_create_agent_has_no_password_argument(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CRM_NEW_AGENT_PASSWORD", raising=False)
    with pytest.raises(SystemExit):  # argparse refuses the unknown option
        crm(["--database-url", sqlite_url, "create-agent", "--username", "x1", "--display-name", "X", "--password", PASSWORD])
    monkeypatch.setattr("sys.stdin", io.StringIO())  # not a terminal: no prompt possible
    with pytest.raises(SystemExit, match="CRM_NEW_AGENT_PASSWORD"):
        crm(["--database-url", sqlite_url, "create-agent", "--username", "x1", "--display-name", "X"])


def test_init_seeds_canned_replies_and_the_demo_agents(sqlite_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(sqlite_url)
    monkeypatch.delenv("CRM_DEMO_AGENT_PASSWORD", raising=False)
    seed_support(engine)
    with make_session_factory(engine)() as session:
        assert session.scalar(select(Agent.id)) is None  # no demo password, no demo agents
    monkeypatch.setenv("CRM_DEMO_AGENT_PASSWORD", PASSWORD)
    seed_support(engine)
    seed_support(engine)  # twice changes nothing
    with make_session_factory(engine)() as session:
        assert sorted(session.execute(select(Agent.username, Agent.display_name)).tuples()) == [("alice", "Alice"), ("ben", "Ben")]
        assert len(session.scalars(select(CannedReply)).all()) == len(CANNED_REPLIES) >= 8
    engine.dispose()
    settings = Settings(database_url=sqlite_url, token_secret=secrets.token_urlsafe(32), actions_api_key=secrets.token_urlsafe(32))
    app = create_app(settings)
    with TestClient(app) as client:
        login = client.post("/api/v1/agents/login", json={"username": "ben", "password": PASSWORD})
        assert login.status_code == 200 and login.json()["agent"]["display_name"] == "Ben"
        replies = client.get("/api/v1/canned-replies", headers={"Authorization": f"Bearer {login.json()['token']}"}).json()
        assert [r["title"] for r in replies] == [title for title, _ in CANNED_REPLIES] and all(r["text"] for r in replies)
    app.state.engine.dispose()
