"""Rasa's Redis lock store with one atomic round trip to take a conversation's lock and one to give it back.

Rasa 3.6's ``RedisLockStore`` reads a conversation's lock, changes it in Python and writes it back: seven round trips
per message (issue a ticket: get, set; acquire: get; release: get, set, get, delete), each stopping the worker's event
loop (its Redis client is synchronous), and two workers issuing a ticket for the same conversation at the same instant
could both read the same lock and overwrite each other's ticket, then both handle the conversation at once. Here each
step is a Lua script, which Redis runs atomically. The semantics are Rasa's ticket lock: tickets are served in the
order issued, a ticket expires after the lock lifetime (so a worker that died does not block the conversation), and a
waiting message polls until its ticket is served. It polls every ``POLL_SECONDS`` rather than every second, so that a
customer's second message, sent while the first is being answered, waits for the first and no longer.

A conversation's lock is one Redis hash: field ``last`` holds the last ticket issued, one field per waiting ticket
holds its expiry (milliseconds, Redis's clock), and the hash expires with its newest ticket.
"""

import asyncio
import time
from collections import deque
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from rasa.core.lock import Ticket, TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, RedisLockStore
from rasa.utils.endpoints import EndpointConfig

POLL_SECONDS = 0.05

# The ticket served now: the lowest unexpired one; expired tickets are removed on the way.
_SERVING = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local fields = redis.call('HGETALL', KEYS[1])
local serving = false
for i = 1, #fields, 2 do
    if fields[i] ~= 'last' then
        local ticket = tonumber(fields[i])
        if tonumber(fields[i + 1]) < now then
            redis.call('HDEL', KEYS[1], fields[i])
        elseif not serving or ticket < serving then
            serving = ticket
        end
    end
end
"""

# KEYS[1] the lock, ARGV[1] lifetime in ms -> {ticket, ticket served now}
ISSUE_TICKET = _SERVING + """
local ticket = redis.call('HINCRBY', KEYS[1], 'last', 1)
redis.call('HSET', KEYS[1], ticket, now + tonumber(ARGV[1]))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return {ticket, serving or ticket}
"""

# KEYS[1] the lock -> the ticket served now, or -1 when no ticket waits
NOW_SERVING = _SERVING + """
return serving or -1
"""

# KEYS[1] the lock, ARGV[1] the ticket served -> 1 when the lock was deleted (no one else waits)
FINISH_SERVING = """
redis.call('HDEL', KEYS[1], ARGV[1])
if redis.call('HLEN', KEYS[1]) <= 1 then
    redis.call('DEL', KEYS[1])
    return 1
end
return 0
"""


class AtomicRedisLockStore(RedisLockStore):
    """Configured in endpoints.yml as ``lock_store: type: rasa_server.lock_store.AtomicRedisLockStore`` with the
    options of Rasa's ``redis`` lock store (``url``, ``port``, ``db``, ``password``, ``key_prefix``, ...)."""

    def __init__(self, endpoint_config: EndpointConfig) -> None:
        super().__init__(host=endpoint_config.url, **endpoint_config.kwargs)
        self._issue_ticket = self.red.register_script(ISSUE_TICKET)
        self._now_serving = self.red.register_script(NOW_SERVING)
        self._finish_serving = self.red.register_script(FINISH_SERVING)

    def _key(self, conversation_id: str) -> str:
        return self.key_prefix + conversation_id

    @asynccontextmanager
    async def lock(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME,
                   wait_time_in_seconds: float = 1) -> AsyncGenerator[TicketLock, None]:
        """The conversation's lock, once every ticket issued before this one is served or expired."""
        key = self._key(conversation_id)
        ticket, serving = self._issue_ticket(keys=[key], args=[int(lock_lifetime * 1000)])
        expires = time.time() + lock_lifetime
        try:
            while serving != ticket:
                if serving == -1 or serving > ticket:  # this ticket expired while it waited
                    raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")
                await asyncio.sleep(min(wait_time_in_seconds, POLL_SECONDS))
                serving = self._now_serving(keys=[key])
            yield TicketLock(conversation_id, deque([Ticket(ticket, expires)]))
        finally:
            self.finish_serving(conversation_id, ticket)

    def issue_ticket(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME) -> int:
        ticket, _ = self._issue_ticket(keys=[self._key(conversation_id)], args=[int(lock_lifetime * 1000)])
        return ticket

    def finish_serving(self, conversation_id: str, ticket_number: int) -> None:
        """Remove the ticket, and the lock with it when no other ticket waits."""
        self._finish_serving(keys=[self._key(conversation_id)], args=[ticket_number])

    def cleanup(self, conversation_id: str, ticket_number: int) -> None:
        self.finish_serving(conversation_id, ticket_number)

    def get_lock(self, conversation_id: str) -> TicketLock | None:
        fields = {name.decode(): value for name, value in self.red.hgetall(self._key(conversation_id)).items()}
        fields.pop("last", None)
        if not fields:
            return None
        tickets = sorted((int(number), int(expires) / 1000) for number, expires in fields.items())
        return TicketLock(conversation_id, deque(Ticket(number, expires) for number, expires in tickets))

    def save_lock(self, lock: TicketLock) -> None:
        key = self._key(lock.conversation_id)
        with self.red.pipeline() as transaction:
            transaction.delete(key)
            if lock.tickets:
                expiries = {str(ticket.number): int(ticket.expires * 1000) for ticket in lock.tickets}
                transaction.hset(key, mapping={"last": lock.last_issued, **expiries})
                transaction.pexpireat(key, max(expiries.values()))
            transaction.execute()
