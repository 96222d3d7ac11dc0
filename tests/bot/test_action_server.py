"""The action server answers only Rasa (shared secret) and its errors never echo the request."""

import httpx

from conftest import ActionServer

CALL = {
    "next_action": "action_handoff_to_human",
    "sender_id": "probe",
    "tracker": {"sender_id": "probe", "slots": {"crm_token": "secret-token-value"}, "events": [], "latest_message": {}},
    "domain": {},
    "version": "3.6.2",
}


def test_health_is_open(action_server: ActionServer) -> None:
    assert httpx.get(f"{action_server.url}/health").json() == {"status": "ok"}


def test_calls_without_the_secret_are_refused(action_server: ActionServer) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong-secret"}, {"Authorization": action_server.secret}):
        response = httpx.post(f"{action_server.url}/webhook", json=CALL, headers=headers)
        assert response.status_code == 401, headers
        assert "secret-token-value" not in response.text
    assert httpx.get(f"{action_server.url}/actions").status_code == 401


def test_errors_do_not_echo_slots_or_body(action_server: ActionServer) -> None:
    headers = {"Authorization": f"Bearer {action_server.secret}"}
    broken = CALL | {"tracker": {"slots": {"crm_token": "secret-token-value"}}}  # no events: the action crashes
    response = httpx.post(f"{action_server.url}/webhook", json=broken, headers=headers)
    assert response.status_code >= 400
    assert "secret-token-value" not in response.text and "request_body" not in response.text
    listing = httpx.get(f"{action_server.url}/actions", headers=headers).json()
    assert {"name": "validate_verify_identity_form"} in listing
