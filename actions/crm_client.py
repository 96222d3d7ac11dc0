"""The only place that talks to the CRM: its HTTP API, with timeouts and typed failures."""

import asyncio
import ssl
import weakref
from typing import Any
from urllib.parse import quote, urlencode

import httpx

from actions.config import ActionSettings, get_action_settings

API = "/api/v1"
# Built once per process: building an SSL context (loading the CA certificates) costs ~20 ms of CPU, every time.
TLS = ssl.create_default_context()
# Idle connections are closed after this, before the CRM's uvicorn drops them (5 s): a request never goes out on a
# connection the server is closing.
IDLE_CONNECTION_SECONDS = 2.0
_clients: "weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[tuple[str, float], httpx.AsyncClient]]" = (
    weakref.WeakKeyDictionary())


def shared_client(settings: ActionSettings) -> httpx.AsyncClient:
    """One client per event loop and CRM address, its connections kept alive between calls (a new connection per
    call was about a quarter of the CPU of a CRM call in the action server, profiled under load)."""
    per_loop = _clients.setdefault(asyncio.get_running_loop(), {})
    key = (settings.crm_url, settings.crm_timeout_seconds)
    client = per_loop.get(key)
    if client is None or client.is_closed:
        client = per_loop[key] = httpx.AsyncClient(
            base_url=settings.crm_url, timeout=settings.crm_timeout_seconds, verify=TLS,
            limits=httpx.Limits(keepalive_expiry=IDLE_CONNECTION_SECONDS))
    return client


class CrmUnavailable(Exception):
    """The CRM did not answer in time, could not be reached, or failed on its side."""


class CrmRefused(Exception):
    """The CRM answered with a client error: ``code`` says which (see the CRM's OpenAPI schema)."""

    def __init__(self, status: int, code: str, details: dict[str, Any]) -> None:
        super().__init__(code)
        self.status = status
        self.code = code
        self.details = details


class CrmClient:
    def __init__(self, settings: ActionSettings | None = None) -> None:
        self.settings = settings or get_action_settings()

    async def _call(self, method: str, path: str, *, token: str | None = None, json: dict[str, Any] | None = None) -> Any:
        headers = {"Authorization": f"Bearer {self.settings.crm_api_key}"}
        if token:
            headers["X-Customer-Token"] = token
        try:
            response = await shared_client(self.settings).request(method, API + path, headers=headers, json=json)
        except httpx.HTTPError as error:
            raise CrmUnavailable(type(error).__name__) from error
        if response.status_code >= 500:
            raise CrmUnavailable(f"status {response.status_code}")
        try:
            body = response.json()
        except ValueError as error:
            raise CrmUnavailable("the answer was not JSON") from error
        if response.status_code >= 400:
            error_body = body.get("error", {}) if isinstance(body, dict) else {}
            raise CrmRefused(response.status_code, error_body.get("code", "error"), error_body)
        return body

    async def verify(self, *, conversation_id: str, identifier: str, postcode: str | None = None, code: str | None = None) -> dict[str, Any]:
        factor = {"postcode": postcode} if postcode is not None else {"code": code}
        return await self._call(
            "POST", "/identity/verify", json={"conversation_id": conversation_id, "identifier": identifier, **factor}
        )

    async def send_one_time_code(self, *, conversation_id: str, identifier: str) -> None:
        await self._call("POST", "/identity/one-time-code", json={"conversation_id": conversation_id, "identifier": identifier})

    async def account_summary(self, *, customer_id: int, token: str) -> dict[str, Any]:
        return await self._call("GET", f"/customers/{customer_id}/summary", token=token)

    async def orders(self, *, customer_id: int, token: str, limit: int = 5) -> dict[str, Any]:
        return await self._call("GET", f"/customers/{customer_id}/orders?limit={limit}", token=token)

    async def order(self, *, customer_id: int, token: str, order_number: str) -> dict[str, Any]:
        return await self._call("GET", f"/customers/{customer_id}/orders/{order_number}", token=token)

    async def cancel_order(self, *, customer_id: int, token: str, order_number: str) -> dict[str, Any]:
        return await self._call("POST", f"/customers/{customer_id}/orders/{order_number}/cancel", token=token, json={})

    async def return_eligibility(self, *, customer_id: int, token: str, order_number: str) -> dict[str, Any]:
        return await self._call("GET", f"/customers/{customer_id}/orders/{order_number}/return-eligibility", token=token)

    async def request_return(self, *, customer_id: int, token: str, order_number: str) -> dict[str, Any]:
        return await self._call("POST", f"/customers/{customer_id}/orders/{order_number}/return", token=token, json={})

    async def refunds(self, *, customer_id: int, token: str) -> list[dict[str, Any]]:
        return await self._call("GET", f"/customers/{customer_id}/refunds?limit=5", token=token)

    async def invoice(self, *, customer_id: int, token: str, order_number: str) -> dict[str, Any]:
        return await self._call("GET", f"/customers/{customer_id}/orders/{order_number}/invoice", token=token)

    async def update_contact(self, *, customer_id: int, token: str, changes: dict[str, Any]) -> dict[str, Any]:
        return await self._call("PATCH", f"/customers/{customer_id}/contact", token=token, json=changes)

    async def close_account(self, *, customer_id: int, token: str, reason: str) -> dict[str, Any]:
        return await self._call("POST", f"/customers/{customer_id}/close", token=token, json={"reason": reason})

    async def record_retention_offer(self, *, customer_id: int, token: str, offer: str, accepted: bool) -> None:
        body = {"offer": offer, "accepted": accepted}
        await self._call("POST", f"/customers/{customer_id}/retention-offers", token=token, json=body)

    async def churn_risk(self, *, customer_id: int, token: str) -> dict[str, Any]:
        return await self._call("GET", f"/customers/{customer_id}/churn-risk", token=token)

    async def segment(self, *, customer_id: int, token: str) -> dict[str, Any]:
        return await self._call("GET", f"/customers/{customer_id}/segment", token=token)

    async def recommendations(self, *, customer_id: int, token: str, k: int) -> dict[str, Any]:
        return await self._call("GET", f"/customers/{customer_id}/recommendations?k={k}", token=token)

    async def popular_products(self, *, category: str | None, k: int) -> dict[str, Any]:
        query = urlencode({"k": k} | ({"category": category} if category else {}))
        return await self._call("GET", f"/recommendations/popular?{query}")

    async def find_products(self, *, query: str) -> list[dict[str, Any]]:
        return await self._call("GET", f"/products?{urlencode({'query': query})}")

    async def similar_products(self, *, product_id: int, k: int) -> dict[str, Any]:
        return await self._call("GET", f"/products/{product_id}/similar?k={k}")

    async def create_handoff(self, *, conversation_id: str, reason: str, channel: str | None, transcript: list[dict[str, str]],
                             token: str | None) -> dict[str, Any]:
        body = {"conversation_id": conversation_id, "reason": reason, "channel": channel, "transcript": transcript}
        return await self._call("POST", "/handoffs", token=token, json=body)

    async def conversation_handoff(self, *, conversation_id: str, after: int) -> dict[str, Any]:
        """The conversation's latest ticket: status, agent, note and its messages after the message id ``after``."""
        return await self._call("GET", f"/conversations/{quote(conversation_id, safe='')}/handoff?after={after}")

    async def rate_handoff(self, *, ticket_id: int, rating: int) -> dict[str, Any]:
        return await self._call("POST", f"/handoffs/{ticket_id}/rating", json={"rating": rating})
