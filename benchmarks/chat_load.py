"""Simulated customers talking to the app channel at once, and the check of every reply they get.

Each customer is one async task with its own HTTP connection. It holds one conversation after another (a new app
user, so a new conversation, each time), waits for each reply before sending the next message, and records for every
message when it was sent, how long the reply took and whether the reply was exactly the expected one.
"""

import asyncio
import secrets
import ssl
import time
from collections.abc import Iterator
from dataclasses import dataclass
from enum import Enum

import httpx

from chat_scripts import FAILURE_TEXTS, Turn
from chat_stack import RunningStack

TLS = ssl.create_default_context()  # built once: a new client would otherwise build one (~20 ms of CPU) each time


class Result(str, Enum):
    ok = "ok"
    error = "error"  # an answer, but not the expected one: an error text, a wrong, missing or extra message, HTTP error
    lost = "lost"  # no answer at all: no response in time, a broken connection, or an empty reply list


@dataclass(frozen=True)
class Outcome:
    sent_at: float  # time.monotonic()
    seconds: float
    result: Result
    crm: bool
    detail: str = ""  # why it is not ok, without message texts


def judge(response: httpx.Response, turn: Turn, recipient: str) -> tuple[Result, str]:
    """Whether the response holds exactly the turn's replies, each addressed to this conversation."""
    if response.status_code != 200:
        return Result.error, f"HTTP {response.status_code}"
    try:
        replies = response.json()
    except ValueError:
        return Result.error, "a reply that is not JSON"
    if not isinstance(replies, list) or not all(isinstance(reply, dict) for reply in replies):
        return Result.error, "a reply that is not a list of messages"
    if not replies:
        return Result.lost, "empty reply list"
    if any(reply.get("recipient_id") != recipient for reply in replies):
        return Result.error, "a reply for another conversation"
    texts = [reply.get("text") or "" for reply in replies]
    if len(texts) != len(turn.expect):
        return Result.error, f"{len(texts)} replies instead of {len(turn.expect)}"
    if not all(expected in text for expected, text in zip(turn.expect, texts, strict=True)):
        failures = [meaning for marker, meaning in FAILURE_TEXTS.items() if any(marker in text for text in texts)]
        return Result.error, f"expected {' / '.join(turn.expect)!r}, got " + (" and ".join(failures) or "another reply")
    return Result.ok, ""


async def say(client: httpx.AsyncClient, stack: RunningStack, token: str, user: str, turn: Turn) -> Outcome:
    started = time.monotonic()
    try:
        response = await client.post(f"{stack.rasa_url}/webhooks/app/webhook", json={"message": turn.text},
                                     headers={"Authorization": f"Bearer {token}"})
        result, detail = judge(response, turn, f"app-{user}")
    except httpx.HTTPError as failure:
        result, detail = Result.lost, type(failure).__name__
    return Outcome(started, time.monotonic() - started, result, turn.crm, detail)


async def customer(name: str, stack: RunningStack, scripts: Iterator[list[Turn]], stop_at: float, timeout: float,
                   outcomes: list[Outcome]) -> None:
    """One simulated customer: whole conversations until ``stop_at``; the message in flight then is still awaited.
    Each conversation is a new app user on a new connection (kept alive for the conversation), as a new customer's
    app would open one: with several Rasa workers a connection stays with the worker that accepted it."""
    for conversation, turns in enumerate(scripts):
        user = f"{name}-{conversation}"
        token = stack.token(user)
        async with httpx.AsyncClient(timeout=timeout, verify=TLS) as client:
            for turn in turns:
                if time.monotonic() >= stop_at:
                    return
                outcomes.append(await say(client, stack, token, user, turn))


async def crowd(stack: RunningStack, users: int, scripts: list[Iterator[list[Turn]]], seconds: float,
                timeout: float) -> list[Outcome]:
    """``users`` customers at once for ``seconds``; every outcome, in completion order."""
    outcomes: list[Outcome] = []
    stop_at = time.monotonic() + seconds
    run = secrets.token_hex(3)  # conversations of another run (or of a Redis tracker store) are never continued
    await asyncio.gather(*(customer(f"bench-{run}-{n}", stack, scripts[n], stop_at, timeout, outcomes)
                           for n in range(users)))
    return outcomes


async def one_conversation(stack: RunningStack, user: str, turns: list[Turn], timeout: float) -> list[Outcome]:
    """One customer's whole conversation, turn after turn."""
    token = stack.token(user)
    async with httpx.AsyncClient(timeout=timeout, verify=TLS) as client:
        return [await say(client, stack, token, user, turn) for turn in turns]
