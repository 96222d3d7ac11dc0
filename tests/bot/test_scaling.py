"""Several Rasa workers sharing Redis (rasa_server/scaling.py): the configuration, the interaction log's tokens in
Redis, and whole conversations over the app channel whichever worker answers. Needs the Redis server of these
machines (127.0.0.1:6379); skipped, saying so, where none answers."""

import asyncio
import json
import re
import secrets
import subprocess
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import aiohttp
import pytest
import redis
from rasa.core.lock import TicketLock
from rasa.core.lock_store import LockError
from rasa.utils.endpoints import EndpointConfig

from conftest import ActionServer, Bot, Crm, REPO, free_port, start_bot
from event_brokers.verification_tokens import RedisTokens
from ops.processes import READY_DIR_VARIABLE, stop, wait_for_workers
from rasa_server import long_sessions, scaling, transcripts
from rasa_server.lock_store import AtomicRedisLockStore
from rasa_server.tracker_store import LatestSessionRedisTrackerStore
from test_rasa_server import conversation_of
from trackers import DOMAIN
from test_conversations import logged_interactions
from test_flows import verify
from shop import customer_where

REDIS_URL = "redis://127.0.0.1:6379/0"


def redis_or_skip() -> redis.Redis:
    client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.RedisError as error:
        pytest.skip(f"no Redis server at {REDIS_URL} ({type(error).__name__}): the scaled set-up cannot be tested here")
    return client


def test_several_workers_need_redis(tmp_path: Path) -> None:
    assert scaling.scaled_options(["--endpoints", "endpoints.yml"], {}, tmp_path) == (["--endpoints", "endpoints.yml"], {})
    with pytest.raises(SystemExit, match="needs RASA_REDIS_URL"):
        scaling.scaled_options(["--endpoints", "endpoints.yml"], {"RASA_WORKERS": "2"}, tmp_path)
    with pytest.raises(SystemExit, match="letters and digits"):
        scaling.scaled_options(["--endpoints", "endpoints.yml"],
                               {"RASA_REDIS_URL": REDIS_URL, "RASA_REDIS_KEY_PREFIX": "a:b"}, tmp_path)
    with pytest.raises(SystemExit, match="redis://host:port/db"):
        scaling.scaled_options(["--endpoints", "endpoints.yml"], {"RASA_REDIS_URL": "127.0.0.1:6379"}, tmp_path)


def test_the_redis_stores_are_added_to_the_endpoints(tmp_path: Path) -> None:
    environ = {"RASA_WORKERS": "2", "RASA_REDIS_URL": "redis://:pw@redis.internal:6380/3"}
    options, extra = scaling.scaled_options(["--port", "5005", "--endpoints", str(REPO / "endpoints.yml")], environ,
                                            tmp_path)
    assert options[:3] == ["--port", "5005", "--endpoints"] and extra == {"SANIC_WORKERS": "2", "RASA_REDIS_PASSWORD": "pw"}
    written = Path(options[3]).read_text()
    assert written.startswith((REPO / "endpoints.yml").read_text())
    for store in ("tracker_store:", "lock_store:"):
        section = written.split(store)[1]
        assert "  url: redis.internal\n  port: 6380\n  db: 3\n  key_prefix: shopassistant" in section
    assert "type: rasa_server.tracker_store.LatestSessionRedisTrackerStore" in written.split("tracker_store:")[1]
    assert "type: rasa_server.lock_store.AtomicRedisLockStore" in written.split("lock_store:")[1]
    assert "pw" not in written and "password: ${RASA_REDIS_PASSWORD}" in written  # the secret stays in the environment


def test_tokens_in_redis_are_shared_and_expire() -> None:
    client = redis_or_skip()
    prefix = f"test{secrets.token_hex(4)}"
    first, second = RedisTokens.from_url(REDIS_URL, prefix), RedisTokens.from_url(REDIS_URL, prefix)  # two workers
    try:
        first.remember("app-someone", "token-1")
        assert second.get("app-someone") == "token-1" and second.get("app-nobody") is None
        assert 0 < client.ttl(f"{prefix}:crm-token:app-someone") <= 3600
        second.forget("app-someone")
        assert first.get("app-someone") is None
    finally:
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)


class Workers(NamedTuple):
    bot: Bot
    prefix: str  # of the run's keys in Redis
    pid: int  # Rasa's main process
    ready_dir: Path  # where each worker noted that it is serving (rasa_server/readiness.py)


@pytest.fixture(scope="module")
def two_workers(crm: Crm, action_server: ActionServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Workers]:
    """The assistant as two worker processes sharing conversations, locks and tokens in Redis under a prefix, with
    sessions continued after 3 customer messages; both serving (a health check passes once the first one is)."""
    client = redis_or_skip()
    prefix = f"test{secrets.token_hex(4)}"
    workdir = tmp_path_factory.mktemp("rasa-workers")
    ready_dir = workdir / "ready"
    ready_dir.mkdir()
    bot, process = start_bot(crm, f"{action_server.url}/webhook", action_server.secret, workdir, free_port(),
                             secrets.token_urlsafe(32),
                             extra_env={"RASA_WORKERS": "2", "RASA_REDIS_URL": REDIS_URL, "RASA_REDIS_KEY_PREFIX": prefix,
                                        "SESSION_MAX_TURNS": "3", READY_DIR_VARIABLE: str(ready_dir)})
    wait_for_workers(process, ready_dir, 2)
    yield Workers(bot, prefix, process.pid, ready_dir)
    stop(process)
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)


def rasa_workers(rasa_pid: int) -> list[str]:
    """The worker processes Sanic forked from Rasa's main process."""
    children = subprocess.run(["pgrep", "-P", str(rasa_pid)], capture_output=True, text=True).stdout.split()
    return [pid for pid in children if "rasa_server" in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")]


def test_every_worker_says_when_it_is_serving(two_workers: Workers) -> None:
    assert sorted(path.name for path in two_workers.ready_dir.iterdir()) == sorted(rasa_workers(two_workers.pid))


def test_conversations_go_on_whichever_worker_answers(two_workers: Workers, crm: Crm) -> None:
    bot, prefix = two_workers.bot, two_workers.prefix
    assert len(rasa_workers(two_workers.pid)) == 2
    customers = [customer_where(crm, "o.status IN ('shipped', 'delivered')") for _ in range(3)]
    senders = [f"u-{uuid.uuid4().hex}" for _ in customers]
    for customer, me in zip(customers, senders):  # each message may go to either worker
        assert "confirm it's you" in bot.texts(me, "hi, where is my order?")
        assert "SO-" in verify(bot, me, customer.email, customer.postcode)
        assert "confirm it's you" not in bot.texts(me, "and what's the status of my order?")  # still verified
        bot.texts(me, "thanks a lot")
    stored = {key.decode() for key in redis.Redis.from_url(REDIS_URL).scan_iter(match=f"{prefix}:*")}
    assert all(any(me in key for key in stored) for me in senders), "the conversations should live in Redis"
    for customer in customers:  # logged with the customer whichever worker saw the verification
        assert "thank" in {i["intent"] for i in logged_interactions(crm, customer.id, expected=2)}


async def test_a_continued_conversation_is_shown_whole_by_any_worker(two_workers: Workers) -> None:
    bot, prefix = two_workers.bot, two_workers.prefix
    me = f"u-{uuid.uuid4().hex}"
    said = ["hello", "what payment methods do you accept?", "how long does delivery take?", "thanks", "thank you"]
    for text in said:  # each message may go to either worker; the session is continued before the 4th
        bot.texts(me, text)
    store = LatestSessionRedisTrackerStore(DOMAIN, host="127.0.0.1", port=6379, db=0, key_prefix=prefix)
    tracker = await store.retrieve(f"app-{me}")
    assert tracker is not None and long_sessions.turns_in_session(tracker) == 2
    shown = transcripts.conversation_messages(store, tracker)  # what the widget of any worker shows
    assert [m["text"] for m in shown if m["sender"] == "user"] == said
    assert 0 < redis.Redis.from_url(REDIS_URL).ttl(f"{prefix}:transcript:app-{me}") <= scaling.TRACKER_TTL_SECONDS


async def test_the_redis_tracker_store_keeps_the_latest_session_only() -> None:
    client = redis_or_skip()
    prefix = f"test{secrets.token_hex(4)}"
    store = LatestSessionRedisTrackerStore(DOMAIN, host="127.0.0.1", port=6379, db=0, key_prefix=prefix)
    try:
        tracker = conversation_of(5)
        await store.save(tracker)
        tracker.update_with_events(long_sessions.continuation(tracker, DOMAIN), DOMAIN)  # a long session continued
        await store.save(tracker)
        latest = await store.retrieve("someone")
        assert latest is not None and long_sessions.turns_in_session(latest) == 0 and latest.get_slot("verified") is True
        await store.save(latest)
        kept = await store.retrieve_full_tracker("someone")
        assert kept is not None and [type(e).__name__ for e in kept.events].count("SessionStarted") == 1
    finally:
        for key in client.scan_iter(match=f"{prefix}:*"):
            client.delete(key)


@pytest.fixture
def lock_stores() -> Iterator[tuple[AtomicRedisLockStore, AtomicRedisLockStore]]:
    """Two workers' lock stores on the same Redis, under a prefix of their own."""
    client = redis_or_skip()
    prefix = f"test{secrets.token_hex(4)}"
    config = EndpointConfig(url="127.0.0.1", port=6379, db=0, key_prefix=prefix)
    yield AtomicRedisLockStore(config), AtomicRedisLockStore(config)
    for key in client.scan_iter(match=f"{prefix}:*"):
        client.delete(key)


async def test_messages_of_one_conversation_take_turns_in_order(
        lock_stores: tuple[AtomicRedisLockStore, AtomicRedisLockStore]) -> None:
    first, second = lock_stores
    handled: list[tuple[str, int]] = []

    async def handle(store: AtomicRedisLockStore, message: int) -> None:
        async with store.lock("app-someone"):
            handled.append(("start", message))
            await asyncio.sleep(0.05)  # answering takes a while: later messages wait
            handled.append(("end", message))

    tasks = []
    for message in range(6):  # each message taken by one of the two workers, in the order they arrived
        tasks.append(asyncio.create_task(handle((first, second)[message % 2], message)))
        await asyncio.sleep(0)
    async with first.lock("app-someone-else"):  # another conversation does not wait for this one
        assert len(handled) == 1
    await asyncio.gather(*tasks)
    assert handled == [(step, message) for message in range(6) for step in ("start", "end")]
    assert first.get_lock("app-someone") is None and first.red.exists(first.key_prefix + "app-someone") == 0


async def test_a_worker_that_died_holding_the_lock_blocks_only_until_its_ticket_expires(
        lock_stores: tuple[AtomicRedisLockStore, AtomicRedisLockStore]) -> None:
    dead, alive = lock_stores
    dead.issue_ticket("app-someone", lock_lifetime=0.3)  # taken, never given back
    waiting = dead.get_lock("app-someone")
    assert isinstance(waiting, TicketLock) and waiting.is_someone_waiting()
    started = asyncio.get_running_loop().time()
    async with alive.lock("app-someone"):
        assert 0.2 < asyncio.get_running_loop().time() - started < 2
    assert not alive.is_someone_waiting("app-someone")


async def test_a_ticket_that_expired_while_waiting_is_refused(
        lock_stores: tuple[AtomicRedisLockStore, AtomicRedisLockStore]) -> None:
    store, _ = lock_stores
    async with store.lock("app-someone", lock_lifetime=5):
        with pytest.raises(LockError, match="app-someone"):
            async with store.lock("app-someone", lock_lifetime=0.2):
                pytest.fail("the lock was given while another message held it")


def test_tickets_issued_at_the_same_instant_are_all_different(
        lock_stores: tuple[AtomicRedisLockStore, AtomicRedisLockStore]) -> None:
    """Rasa's own Redis lock store reads, then writes: two workers could get the same ticket. Here Redis issues it."""
    tickets: list[int] = []
    start = threading.Barrier(20)

    def issue(store: AtomicRedisLockStore) -> None:
        start.wait()
        for _ in range(10):
            tickets.append(store.issue_ticket("app-someone"))

    threads = [threading.Thread(target=issue, args=(lock_stores[n % 2],)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(tickets) == list(range(1, 201))


def test_a_lock_saved_is_read_back(lock_stores: tuple[AtomicRedisLockStore, AtomicRedisLockStore]) -> None:
    first, second = lock_stores
    lock = TicketLock("app-someone")
    for _ in range(3):
        lock.issue_ticket(60)
    first.save_lock(lock)
    read = second.get_lock("app-someone")
    assert read is not None and [t.number for t in read.tickets] == [0, 1, 2]  # Rasa's lock numbers them from 0
    second.finish_serving("app-someone", 0)
    assert second.issue_ticket("app-someone") == 3 and first.get_lock("app-someone").now_serving == 1
    first.delete_lock("app-someone")
    assert first.get_lock("app-someone") is None


class WebsocketTab:
    """A widget tab as a browser connects it: socket.io over a websocket (Engine.IO 4 packets), spoken directly with
    aiohttp, since python-socketio's client needs a newer aiohttp than Rasa allows for websockets."""

    def __init__(self, connection: aiohttp.ClientWebSocketResponse, session_id: str) -> None:
        self.connection = connection
        self.session_id = session_id

    @classmethod
    async def open(cls, http: aiohttp.ClientSession, bot_url: str, session_id: str | None = None) -> "WebsocketTab":
        connection = await http.ws_connect(f"{bot_url.replace('http', 'ws', 1)}/socket.io/?EIO=4&transport=websocket")
        tab = cls(connection, "")
        assert (await asyncio.wait_for(tab.packet(), 30)).startswith("0")  # Engine.IO open
        await connection.send_str("40")  # join the default namespace
        assert (await asyncio.wait_for(tab.packet(), 30)).startswith("40")
        await tab.emit("session_request", {"session_id": session_id})
        tab.session_id = await tab.next("session_confirm")
        return tab

    async def packet(self) -> str:
        """The next packet that is not a ping (answered, as a browser does)."""
        while (text := await self.connection.receive_str()) == "2":
            await self.connection.send_str("3")
        return text

    async def emit(self, event: str, data: Any) -> None:
        await self.connection.send_str("42" + json.dumps([event, data]))

    async def next(self, wanted: str) -> Any:
        """The data of the next event named ``wanted`` within 30 s; other packets before it are dropped."""
        async def wait() -> Any:
            while True:
                text = await self.packet()
                if text.startswith("42"):
                    name, *data = json.loads(text[2:])
                    if name == wanted:
                        return data[0] if data else None
        return await asyncio.wait_for(wait(), 30)


def workers_holding_connections(port: int) -> set[str]:
    """The processes holding established connections on Rasa's port (``ss``, as root sees every process)."""
    listing = subprocess.run(["ss", "-tnpH", "state", "established", f"( sport = :{port} )"], capture_output=True,
                             text=True, check=True).stdout
    return set(re.findall(r"pid=(\d+)", listing))


async def test_the_widget_works_whichever_worker_each_tab_is_connected_to(two_workers: Workers) -> None:
    """Tabs of one session on different workers: each gets the other's messages and the bot's answers (Redis rooms)."""
    port = int(two_workers.bot.url.rsplit(":", 1)[1])
    async with aiohttp.ClientSession() as http:
        tabs = [await WebsocketTab.open(http, two_workers.bot.url)]
        while len(workers_holding_connections(port)) < 2:  # the kernel picks the worker of each new connection
            assert len(tabs) < 30, "every tab went to the same worker"
            tabs.append(await WebsocketTab.open(http, two_workers.bot.url, tabs[0].session_id))
        first, last = tabs[0], tabs[-1]  # the last one went to the worker none of the others is on
        for sender, other in ((first, last), (last, first)):
            await sender.emit("user_uttered", {"message": "what payment methods do you accept?",
                                               "session_id": sender.session_id})
            assert (await other.next("user_echo"))["text"] == "what payment methods do you accept?"
            for tab in (sender, other):
                assert "visa" in (await tab.next("bot_uttered"))["text"].lower()
        await asyncio.sleep(1)  # the bot's answer goes out before the worker has saved the conversation
        await first.emit("history_request", {"session_id": first.session_id})
        history = (await first.next("history"))["messages"]
        assert [message["sender"] for message in history] == ["user", "bot", "user", "bot"], history
        for tab in tabs:
            await tab.connection.close()
