"""Each conversation's current verification token, as the interaction log saw it set: in this process, or in Redis
when several Rasa workers handle the same conversations (rasa_server/scaling.py)."""

from collections import OrderedDict
from typing import Protocol

import redis

MAX_CONVERSATIONS = 10_000
TOKEN_TTL_SECONDS = 3600  # longer than a verification lives (CRM_CUSTOMER_TOKEN_TTL_SECONDS, 30 minutes by default)


class VerificationTokens(Protocol):
    def remember(self, conversation_id: str, token: str) -> None: ...

    def forget(self, conversation_id: str) -> None: ...

    def get(self, conversation_id: str) -> str | None: ...


class InMemoryTokens:
    """The latest ``MAX_CONVERSATIONS`` conversations' tokens, in this process."""

    def __init__(self) -> None:
        self.tokens: OrderedDict[str, str] = OrderedDict()

    def remember(self, conversation_id: str, token: str) -> None:
        self.tokens[conversation_id] = token
        self.tokens.move_to_end(conversation_id)
        while len(self.tokens) > MAX_CONVERSATIONS:
            self.tokens.popitem(last=False)

    def forget(self, conversation_id: str) -> None:
        self.tokens.pop(conversation_id, None)

    def get(self, conversation_id: str) -> str | None:
        return self.tokens.get(conversation_id)


class RedisTokens:
    """Tokens shared by every worker, under ``{prefix}:crm-token:<conversation>``, expiring with the verification.

    Synchronous calls: the broker must know a message's token when Rasa publishes it, and a Redis round trip on
    the machine or the local network is a fraction of a millisecond.
    """

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix

    @classmethod
    def from_url(cls, url: str, prefix: str) -> "RedisTokens":
        return cls(redis.Redis.from_url(url, socket_timeout=1.0, decode_responses=True), prefix)

    def _key(self, conversation_id: str) -> str:
        return f"{self.prefix}:crm-token:{conversation_id}"

    def remember(self, conversation_id: str, token: str) -> None:
        self.client.set(self._key(conversation_id), token, ex=TOKEN_TTL_SECONDS)

    def forget(self, conversation_id: str) -> None:
        self.client.delete(self._key(conversation_id))

    def get(self, conversation_id: str) -> str | None:
        return self.client.get(self._key(conversation_id))
