"""Logs every customer message, with its intent, sentiment and Rasa's message id, to the CRM's interactions.

Configured in ``endpoints.yml`` as ``event_broker: {type: event_brokers.crm_interactions.CrmInteractionLog}``.
A message is attributed to a customer only once the conversation holds that customer's verification
token (the ``crm_token`` slot), so nothing is tied to an account before identity is verified.
Sending never blocks a reply: one sender per process posts the messages in the background, those of the same
``BATCH_SECONDS`` together (``POST /api/v1/interactions/batch``: one request and one transaction for all, instead of
one per message, which had made the log half of the CRM's work under load), oldest first. What the CRM could not take
(down, timing out, failing with 5xx) waits and is sent again with backoff, never overtaken by newer messages; the
CRM logs each message id once, so sending again is safe. Only a batch the CRM refuses (4xx), and the oldest messages
beyond ``MAX_WAITING``, are dropped, counted in warnings without message contents.
"""

import asyncio
import contextlib
import json
import logging
import os
from collections import deque
from typing import Any

import aiohttp
import redis
from rasa.core.brokers.broker import EventBroker
from rasa.utils.endpoints import EndpointConfig

from event_brokers.message_ids import crm_message_id
from event_brokers.verification_tokens import InMemoryTokens, RedisTokens, VerificationTokens
from rasa_server import scaling

logger = logging.getLogger(__name__)

MAX_TEXT = 5000
TOKEN_SLOT = "crm_token"
BATCH_SECONDS = 0.05  # how long a message waits for others to share its request (an agent sees it that much later)
MAX_BATCH = 100  # the CRM's limit per request
MAX_BATCH_BYTES = 48 * 1024  # under the CRM's 64 KB limit on a request body
MAX_WAITING = 10_000  # messages kept while the CRM can't take them (a few MB of usual ones); beyond, the oldest go
FIRST_RETRY_SECONDS = 0.5  # then doubling, up to
MAX_RETRY_SECONDS = 30.0
RETRY_LATER = frozenset({408, 429})  # client errors that are not about the content


class CrmInteractionLog(EventBroker):
    def __init__(self, crm_url: str, api_key: str, timeout_seconds: float = 3.0,
                 tokens: VerificationTokens | None = None) -> None:
        self.crm_url = crm_url.rstrip("/")
        self.api_key = api_key
        self.timeout_seconds = timeout_seconds
        self.tokens = tokens or InMemoryTokens()
        self.waiting: deque[str] = deque()  # interactions in JSON not delivered yet, oldest first
        self.in_flight = 0  # how many of the oldest waiting ones are being posted
        self.sender: asyncio.Task[None] | None = None
        self.dropped = 0  # messages given up on (refused by the CRM, or beyond MAX_WAITING), since the start
        self.dropped_unreported = 0  # of those beyond MAX_WAITING, not in a warning yet
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
            self._wait(json.dumps(interaction))  # in JSON once: measured for the batch, then sent as it is

    def _wait(self, encoded: str) -> None:
        """Queue an interaction for the sender (started if it is not running); beyond ``MAX_WAITING``, the oldest goes."""
        if len(self.waiting) == MAX_WAITING:
            self.waiting.popleft()
            self.in_flight = max(0, self.in_flight - 1)
            self.dropped += 1
            self.dropped_unreported += 1
        self.waiting.append(encoded)
        if self.sender is None:
            self.sender = asyncio.get_running_loop().create_task(self._deliver())

    async def _deliver(self) -> None:
        """The process's one sender: the oldest waiting messages first, those of ``BATCH_SECONDS`` together (a backlog
        at once), and what the CRM could not take again after a pause that doubles, until nothing waits."""
        retry_seconds = FIRST_RETRY_SECONDS
        try:
            await asyncio.sleep(BATCH_SECONDS)
            while self.waiting:
                if not await self._send_oldest():
                    await asyncio.sleep(retry_seconds)
                    retry_seconds = min(2 * retry_seconds, MAX_RETRY_SECONDS)
                    continue
                retry_seconds = FIRST_RETRY_SECONDS
                if 0 < len(self.waiting) < MAX_BATCH:  # no backlog: let the next messages gather
                    await asyncio.sleep(BATCH_SECONDS)
        finally:
            self.sender = None

    async def _send_oldest(self) -> bool:
        """Post the oldest waiting batch; False when the CRM could not take it now (it keeps waiting). A batch the CRM
        refuses for its content (4xx) is dropped: sending it again would not change the answer."""
        batch = oldest_batch(self.waiting)
        self.in_flight = len(batch)
        try:
            outcome = await self._post(batch)
        finally:
            done_with, self.in_flight = self.in_flight, 0  # fewer if the oldest were dropped meanwhile
        self._report_dropped()
        if isinstance(outcome, str) or outcome >= 500 or outcome in RETRY_LATER:
            logger.warning("could not log %d interactions to the CRM (%s); %d waiting to be sent again", len(batch),
                           outcome if isinstance(outcome, str) else f"status {outcome}", len(self.waiting))
            return False
        if outcome >= 400:
            self.dropped += done_with
            logger.warning("the CRM refused %d interactions (status %d): dropped; %d dropped so far", done_with,
                           outcome, self.dropped)
        for _ in range(done_with):
            self.waiting.popleft()
        return True

    async def _post(self, batch: list[str]) -> int | str:
        """Post ``batch`` (interactions in JSON); the answer's status, or the name of the error that kept it from one."""
        if self.session is None:
            self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=self.timeout_seconds))
        body = '{"interactions": [' + ", ".join(batch) + "]}"
        try:
            async with self.session.post(f"{self.crm_url}/api/v1/interactions/batch", data=body,
                                         headers={"Authorization": f"Bearer {self.api_key}",
                                                  "Content-Type": "application/json"}) as response:
                return response.status
        except (aiohttp.ClientError, asyncio.TimeoutError) as error:
            return type(error).__name__

    def _report_dropped(self) -> None:
        if self.dropped_unreported:
            logger.warning("dropped the %d oldest interactions not yet logged: more than %d were waiting; %d dropped "
                           "so far", self.dropped_unreported, MAX_WAITING, self.dropped)
            self.dropped_unreported = 0

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
        message_id = crm_message_id(event)
        if message_id:
            body["message_id"] = message_id
        if isinstance(sentiment, dict) and {"label", "score"} <= sentiment.keys():
            body["sentiment"] = {"label": sentiment["label"], "score": float(sentiment["score"])}
        return body

    async def close(self) -> None:
        """Try once more, within the timeout, to deliver what waits (in order), then close the connections."""
        if self.sender is not None:
            self.sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.sender
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._send_all_once(), self.timeout_seconds)
        if self.waiting:
            logger.warning("%d interactions could not be logged before shutting down", len(self.waiting))
        if self.session is not None:
            await self.session.close()

    async def _send_all_once(self) -> None:
        while self.waiting and await self._send_oldest():
            pass


def oldest_batch(waiting: deque[str]) -> list[str]:
    """The oldest interactions (in JSON) that fit in one request the CRM accepts (``MAX_BATCH``, ``MAX_BATCH_BYTES``)."""
    batch: list[str] = []
    size = 0
    for encoded in waiting:
        if len(batch) == MAX_BATCH or (batch and size + len(encoded) > MAX_BATCH_BYTES):
            break
        batch.append(encoded)
        size += len(encoded)
    return batch
