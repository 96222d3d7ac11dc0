"""The CRM tells the assistant about a claim, agent messages and the hand-back: checked against a real HTTP server that
verifies the JWT the way Rasa's sanic-jwt does (HS256 with the shared secret, ``exp`` required, admin role)."""

import json
import logging
import secrets
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from app.core.config import Settings
from conftest import Desk, open_desk


@dataclass
class FakeRasa:
    """A real HTTP server on localhost that records each request and whether its token verified."""

    url: str
    secret: str
    requests: list[dict[str, Any]] = field(default_factory=list)


def _recording_handler(rasa: FakeRasa) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            token = self.headers.get("Authorization", "").removeprefix("Bearer ")
            try:
                claims = jwt.decode(token, rasa.secret, algorithms=["HS256"], options={"require": ["exp"]})
            except jwt.PyJWTError as error:
                claims = {"invalid": type(error).__name__}
            target = urlsplit(self.path)
            rasa.requests.append({"path": target.path, "query": parse_qs(target.query), "body": body, "claims": claims})
            status = 403 if "invalid" in claims or claims.get("user", {}).get("role") != "admin" else 200
            payload = json.dumps({"tracker": {}}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@pytest.fixture
def fake_rasa() -> Iterator[FakeRasa]:
    rasa = FakeRasa(url="", secret=secrets.token_urlsafe(32))
    server = ThreadingHTTPServer(("127.0.0.1", 0), _recording_handler(rasa))
    rasa.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield rasa
    server.shutdown()
    server.server_close()


def _notifying(sqlite_url: str, tmp_path, rasa_url: str, secret: str) -> Settings:  # type: ignore[no-untyped-def]
    return Settings(database_url=sqlite_url, token_secret=secrets.token_urlsafe(32), actions_api_key=secrets.token_urlsafe(32),
                    outbox_dir=tmp_path / "outbox", models_dir=tmp_path / "models", rasa_url=rasa_url, rasa_jwt_secret=secret)


@pytest.fixture
def desk(sqlite_url: str, tmp_path, fake_rasa: FakeRasa) -> Iterator[Desk]:  # type: ignore[no-untyped-def]
    with open_desk(_notifying(sqlite_url, tmp_path, fake_rasa.url, fake_rasa.secret)) as desk:
        yield desk


def test_claim_replies_and_resolve_ask_the_assistant_to_act(desk: Desk, fake_rasa: FakeRasa) -> None:
    alice = desk.bearer("alice")
    ticket = desk.client.post("/api/v1/handoffs", headers=desk.actions,
                              json={"conversation_id": "web:abc@1", "reason": "customer_request"}).json()
    assert fake_rasa.requests == []  # queuing alone tells nobody
    path = f"/api/v1/handoffs/{ticket['id']}"
    assert desk.client.post(f"{path}/claim", headers=alice).status_code == 200
    assert desk.client.post(f"{path}/messages", headers=alice, json={"text": "Hello, Alice here"}).status_code == 201
    assert desk.client.post(f"{path}/resolve", headers=alice, json={"note": "all done"}).status_code == 200

    assert [request["body"] for request in fake_rasa.requests] == [
        {"name": "action_deliver_agent_messages"}, {"name": "action_deliver_agent_messages"}, {"name": "action_handback"}]
    for request in fake_rasa.requests:
        assert request["path"] == "/conversations/web:abc@1/execute"  # as Rasa matches it: it does not unquote
        assert request["query"] == {"output_channel": ["latest"]}
        claims = request["claims"]
        assert claims["user"] == {"username": "crm", "role": "admin"}
        lifetime = datetime.fromtimestamp(claims["exp"], timezone.utc) - datetime.now(timezone.utc)
        assert 0 < lifetime.total_seconds() <= 60


def test_refused_claims_and_replies_tell_nobody(desk: Desk, fake_rasa: FakeRasa) -> None:
    alice, ben = desk.bearer("alice"), desk.bearer("ben")
    ticket_id = desk.client.post("/api/v1/handoffs", headers=desk.actions,
                                 json={"conversation_id": "c-2", "reason": "complaint"}).json()["id"]
    desk.client.post(f"/api/v1/handoffs/{ticket_id}/claim", headers=alice)
    assert desk.client.post(f"/api/v1/handoffs/{ticket_id}/claim", headers=ben).status_code == 409
    assert desk.client.post(f"/api/v1/handoffs/{ticket_id}/messages", headers=ben, json={"text": "hi"}).status_code == 403
    assert len(fake_rasa.requests) == 1


def test_a_token_signed_with_another_secret_is_refused_by_the_server(sqlite_url: str, tmp_path, fake_rasa: FakeRasa) -> None:  # type: ignore[no-untyped-def]
    """The recording server really checks signatures: a CRM with the wrong secret gets 403 (and its agent is unaffected)."""
    with open_desk(_notifying(sqlite_url, tmp_path, fake_rasa.url, secrets.token_urlsafe(32))) as desk:
        ticket_id = desk.client.post("/api/v1/handoffs", headers=desk.actions,
                                     json={"conversation_id": "c-3", "reason": "complaint"}).json()["id"]
        assert desk.client.post(f"/api/v1/handoffs/{ticket_id}/claim", headers=desk.bearer("alice")).status_code == 200
    assert [request["claims"] for request in fake_rasa.requests] == [{"invalid": "InvalidSignatureError"}]


def test_an_unreachable_assistant_never_fails_the_agent_and_logs_no_personal_data(
        sqlite_url: str, tmp_path, caplog: pytest.LogCaptureFixture) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as probe:  # a port with nobody listening
        probe.bind(("127.0.0.1", 0))
        closed_port = probe.getsockname()[1]
    settings = _notifying(sqlite_url, tmp_path, f"http://127.0.0.1:{closed_port}", secrets.token_urlsafe(32))
    with open_desk(settings) as desk, caplog.at_level(logging.WARNING, logger="app.services.assistant"):
        alice = desk.bearer("alice")
        ticket_id = desk.client.post("/api/v1/handoffs", headers=desk.as_customer("conv-secret-77"),
                                     json={"conversation_id": "conv-secret-77", "reason": "complaint"}).json()["id"]
        assert desk.client.post(f"/api/v1/handoffs/{ticket_id}/claim", headers=alice).status_code == 200
        reply = desk.client.post(f"/api/v1/handoffs/{ticket_id}/messages", headers=alice,
                                 json={"text": "Your new card ending 4242 is on its way"})
        assert reply.status_code == 201
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 2 and all("action_deliver_agent_messages" in w and f"ticket {ticket_id}" in w for w in warnings)
    logged = " ".join(warnings)
    for private in ("4242", "conv-secret-77", "Cara", "cara@example.com", "Alice"):
        assert private not in logged


def test_without_the_jwt_secret_nobody_is_told(sqlite_url: str, tmp_path, fake_rasa: FakeRasa) -> None:  # type: ignore[no-untyped-def]
    settings = _notifying(sqlite_url, tmp_path, fake_rasa.url, fake_rasa.secret).model_copy(update={"rasa_jwt_secret": None})
    with open_desk(settings) as desk:
        ticket_id = desk.client.post("/api/v1/handoffs", headers=desk.actions,
                                     json={"conversation_id": "c-4", "reason": "complaint"}).json()["id"]
        assert desk.client.post(f"/api/v1/handoffs/{ticket_id}/claim", headers=desk.bearer("alice")).status_code == 200
    assert fake_rasa.requests == []
