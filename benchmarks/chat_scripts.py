"""What the simulated customers say, and the replies each message must get.

A turn lists, in order, one piece of text for each bot message it must get back; a reply that differs (an error text,
a wrong answer, a missing or an extra message) is an error. ``crm`` marks the turns whose actions call the CRM over
HTTP. The customers who verify are sampled from the demo CRM's database: real emails and postcodes, each with orders.
"""

import random
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Turn:
    text: str
    expect: tuple[str, ...]
    crm: bool = False


@dataclass(frozen=True)
class Identity:
    email: str
    postcode: str


# What the assistant says when part of the system fails (channels/app_channel.py, domain.yml), to name the error.
FAILURE_TEXTS = {
    "part of our system isn't answering": "the action server failed (app channel's error text)",
    "can't reach our customer records": "the CRM did not answer in time (utter_crm_unavailable)",
    "something went wrong": "an action failed (utter_request_failed / utter_default)",
    "didn't quite get that": "not understood (fallback)",
}

GREETING = "I'm the shop's assistant"
ASK_IDENTITY = "confirm it's you"
ASK_POSTCODE = "postcode of your delivery address"


def verification(request: str, identity: Identity, first_answer: str) -> list[Turn]:
    """A request that needs verification, the email, then the postcode, answered with the request's result."""
    return [
        Turn(request, (ASK_IDENTITY,)),
        Turn(f"my email is {identity.email}", (ASK_POSTCODE,)),
        Turn(identity.postcode, (first_answer,), crm=True),
    ]


def track_order(identity: Identity) -> list[Turn]:
    return [
        Turn("hi", (GREETING,)),
        *verification("where is my order?", identity, "Order SO-"),
        Turn("can I get the invoice for it?", ("Invoice INV-",), crm=True),
        Turn("thanks a lot", ("You're welcome",)),
    ]


def account_summary(identity: Identity) -> list[Turn]:
    return [
        *verification("show me my account", identity, "Customer since"),
        Turn("what's the status of my order?", ("Order SO-",), crm=True),
        Turn("what payment methods do you accept?", ("Visa, Mastercard",)),
        Turn("bye", ("Goodbye",)),
    ]


def questions(_identity: Identity) -> list[Turn]:
    return [
        Turn("hello", (GREETING,)),
        Turn("how long does delivery take?", ("working days",)),
        Turn("I forgot my password", ("Forgot password",)),
        Turn("are you a bot?", ("virtual assistant",)),
        Turn("thank you", ("You're welcome",)),
    ]


CONVERSATIONS = (track_order, account_summary, questions)


def demo_identities(database: Path, limit: int = 500, seed: int = 7) -> list[Identity]:
    """Open demo customers with an email, a postcode and at least one invoiced order (paid, shipped or delivered: the
    invoice turn expects an invoice; a customer with only cancelled orders is rightly told there is none), shuffled
    reproducibly."""
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT DISTINCT c.email, c.postcode FROM customers c JOIN orders o ON o.customer_id = c.id "
            "AND o.status IN ('paid', 'shipped', 'delivered') "
            "WHERE c.email IS NOT NULL AND c.postcode IS NOT NULL AND c.closed_at IS NULL ORDER BY c.id LIMIT ?",
            (limit,),
        ).fetchall()
    identities = [Identity(email, postcode) for email, postcode in rows]
    random.Random(seed).shuffle(identities)
    return identities


def conversations(identities: list[Identity], seed: int) -> Iterator[list[Turn]]:
    """An endless, reproducible stream of whole conversations, the three kinds in turn, each with another customer."""
    rng = random.Random(seed)
    while True:
        for script in CONVERSATIONS:
            yield script(rng.choice(identities))


def long_conversation(identity: Identity, turns: int = 300) -> list[Turn]:
    """One customer's conversation of ``turns`` turns: verification (turns 1-3), then the same cycle of ten turns.

    Turns 6-10 and 296-300 are the same five kinds of turn, so their medians compare like with like.
    """
    cycle = [
        Turn("what's the status of my order?", ("Order SO-",), crm=True),
        Turn("how long does delivery take?", ("working days",)),
        Turn("show me my account", ("Customer since",), crm=True),
        Turn("what payment methods do you accept?", ("Visa, Mastercard",)),
        Turn("can I get the invoice for it?", ("Invoice INV-",), crm=True),
        Turn("thanks", ("You're welcome",)),
        Turn("I forgot my password", ("Forgot password",)),
        Turn("are you a bot?", ("virtual assistant",)),
        Turn("where is my order?", ("Order SO-",), crm=True),
        Turn("do you offer next-day delivery?", ("next-day",)),
    ]
    script = verification("where is my order?", identity, "Order SO-")
    while len(script) < turns:
        script.append(cycle[(len(script) - 3) % len(cycle)])
    return script
