"""Logs every customer message, with its intent and sentiment, to the CRM's interactions.

Configured in ``endpoints.yml`` as ``event_broker: {type: event_brokers.crm_interactions.CrmInteractionLog}``.
A message is attributed to a customer only once the conversation holds that customer's verification
token (the ``crm_token`` slot), so nothing is tied to an account before identity is verified.
Sending never blocks a reply: messages are posted in the background, those of the same ``BATCH_SECONDS`` together
(``POST /api/v1/interactions/batch``: one request and one transaction for all, instead of one per message, which had
made the log half of the CRM's work under load), and a CRM that is down only costs the log entries (counted and
reported without message contents).
"""

import asyncio
import json
import logging
import os
from typing import Any

import aiohttp
import redis
from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

from event_brokers.verification_tokens import InMemoryTokens, RedisTokens, VerificationTokens
from rasa_server import scaling

logger = logging.getLogger(__name__)

MAX_TEXT = 5000
TOKEN_SLOT = "crm_token"
BATCH_SECONDS = 0.05  # how long a message waits for others to share its request (an agent sees it that much later)
MAX_BATCH = 100  # the CRM's limit per request
MAX_BATCH_BYTES = 48 * 1024  # under the CRM's 64 KB limit on a request body


class CrmInteractionLog(EventBroker):
    def __init__(self, crm_url: str, api_key: str, timeout_seconds: float = 3.0,
                 tokens: VerificationTokens | None = None) -> None:
        self.crm_url = crm_url.rstrip("/")
        self.api_key = api_key
        self.timeout_seconds = timeout_seconds
        self.tokens = tokens or InMemoryTokens()
        self.waiting: list[dict[str, Any]] = []  # interactions not sent yet, oldest first
        self.flush: asyncio.TimerHandle | None = None
        self.pending: set[asyncio.Task[None]] = set()
        self.failures = 0
        # One aiohttp session (Rasa's own HTTP client) for the process, made in the server's event loop at the first
        # message: connections kept alive, no SSL context per message, and a cheap pool under concurrent posts
        # (httpx's cost about 10 % of Rasa's CPU under load, docs/benchmarks-chat.md).
        self.session: aiohttp.ClientSession | None = None

    @classmethod
    async def from_endpoint_config(cls, broker_config: EndpointConfig, event_loop: Any = None) -> "CrmInteractionLog":
        environ = dict(os.environ)
        redis_url = scaling.redis_url(environ)
        return cls(
            crm_url=environ.get("CRM_URL", "http://127.0.0.1:8000"),
            api_key=environ["CRM_ACTIONS_API_KEY"],
            timeout_seconds=float(broker_config.kwargs.get("timeout_seconds", 3.0)),
            tokens=RedisTokens.from_url(redis_url, scaling.key_prefix(environ)) if redis_url else None,
        )

    def publish(self, event: dict[str, Any]) -> None:
        sender_id = event.get("sender_id", "")
        kind = event.get("event")
        if kind == "slot" and event.get("name") == TOKEN_SLOT:
            self._keep_token(sender_id, event.get("value"))
        elif kind in ("session_started", "restart"):
            self._keep_token(sender_id, None)
        elif kind == "user" and event.get("text"):
            interaction = self.interaction(event)
            token = self._token(sender_id)  # as of this message: verifying later does not reach back
            if token:
                interaction["customer_token"] = token
            self.waiting.append(interaction)
            if self.flush is None:
                self.flush = asyncio.get_running_loop().call_later(BATCH_SECONDS, self._send_waiting)

    def _send_waiting(self) -> None:
        self.flush = None
        for batch in batches(self.waiting):
            task = asyncio.get_running_loop().create_task(self._send(batch))
            self.pending.add(task)
            task.add_done_callback(self.pending.discard)
        self.waiting = []

    def _keep_token(self, sender_id: str, token: Any) -> None:
        try:
            if token:
                self.tokens.remember(sender_id, str(token))
            else:
                self.tokens.forget(sender_id)
        except redis.RedisError as error:  # the reply goes on; later messages are logged without the customer
            logger.warning("could not keep a verification token in Redis (%s)", type(error).__name__)

    def _token(self, sender_id: str) -> str | None:
        try:
            return self.tokens.get(sender_id)
        except redis.RedisError as error:  # logged without the customer rather than not at all
            logger.warning("could not read a verification token from Redis (%s)", type(error).__name__)
            return None

    @staticmethod
    def interaction(event: dict[str, Any]) -> dict[str, Any]:
        """The CRM's interaction body for one user event."""
        parse_data = event.get("parse_data") or {}
        intent = parse_data.get("intent") or {}
        sentiment = parse_data.get("sentiment")
        body: dict[str, Any] = {
            "conversation_id": event["sender_id"],
            "channel": (event.get("input_channel") or "unknown").lower()[:40],
            "text": event["text"][:MAX_TEXT],
            "intent": intent.get("name"),
            "intent_confidence": intent.get("confidence"),
        }
        if isinstance(sentiment, dict) and {"label", "score"} <= sentiment.keys():
            body["sentiment"] = {"label": sentiment["label"], "score": float(sentiment["score"])}
        return body

    async def _send(self, batch: list[str]) -> None:
        """Post ``batch``, interactions already in JSON (``batches`` measured them so)."""
        if self.session is None:
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_seconds))
        body = '{"interactions": [' + ", ".join(batch) + "]}"
        try:
            async with self.session.post(f"{self.crm_url}/api/v1/interactions/batch", data=body,
                                         headers={"Authorization": f"Bearer {self.api_key}",
                                                  "Content-Type": "application/json"}) as response:
                response.raise_for_status()
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            self.failures += len(batch)
            logger.warning("could not log %d interactions to the CRM (%s); %d lost so far", len(batch),
                           type(error).__name__, self.failures)

    async def close(self) -> None:
        if self.flush is not None:
            self.flush.cancel()
            self._send_waiting()
        if self.pending:
            await asyncio.wait(self.pending, timeout=self.timeout_seconds)
        if self.session is not None:
            await self.session.close()


def batches(interactions: list[dict[str, Any]]) -> list[list[str]]:
    """``interactions`` in order, in JSON, cut into requests the CRM accepts (``MAX_BATCH`` and ``MAX_BATCH_BYTES``)."""
    cut: list[list[str]] = []
    size = 0
    for interaction in interactions:
        encoded = json.dumps(interaction)
        if not cut or len(cut[-1]) == MAX_BATCH or size + len(encoded) > MAX_BATCH_BYTES:
            cut.append([])
            size = 0
        cut[-1].append(encoded)
        size += len(encoded)
    return cut
