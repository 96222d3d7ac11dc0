"""Pure helpers that read identifiers out of text and format CRM data for people."""

import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
ORDER_NUMBER = re.compile(r"\b(?:SO|so|So)[- ]?(\d{7})\b")
UK_POSTCODE = re.compile(r"\b([A-Z]{1,2}\d[A-Z\d]?) ?(\d[A-Z]{2})\b")
ONE_TIME_CODE = re.compile(r"\b(\d{3}) ?(\d{3})\b")
WANTS_CODE = re.compile(r"\bcode\b|\bemail me\b|don'?t (?:know|remember|have)|forg[oe]t|no idea|not sure", re.IGNORECASE)
CONTACT_FIELDS = {
    "email": re.compile(r"\be-?mail\b|\bmail address\b", re.IGNORECASE),
    "phone": re.compile(r"\bphone\b|\bmobile\b|\btelephone\b|\bnumber\b|\bcell\b", re.IGNORECASE),
    "address": re.compile(r"\baddress\b|\bmoved?\b|\bmoving\b|\bpost ?code\b|\blive\b", re.IGNORECASE),
}
NUMBER_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
RATING = re.compile(r"\b(\d{1,3}|" + "|".join(NUMBER_WORDS) + r")\b", re.IGNORECASE)
SIMILAR_TO = re.compile(
    r"(?:\b(?:something|anything|stuff|more|products?|items?|things?|others?)\s+(?:like|similar to)|\bsimilar to|\balternatives? to)"
    r"\s+(?:the |my |a |an |that |this |those |these )?(.+?)[\s?.!]*$",
    re.IGNORECASE,
)


def find_identifier(text: str) -> str | None:
    """An email or order number inside free text, normalised; None when there is neither."""
    if match := EMAIL.search(text):
        return match.group(0).lower()
    if match := ORDER_NUMBER.search(text):
        return f"SO-{match.group(1)}"
    return None


def clean_postcode(text: str) -> str | None:
    """A UK postcode inside free text, as ``AREA INWARD`` (``sw1a1aa`` -> ``SW1A 1AA``); None when there is none."""
    match = UK_POSTCODE.search(text.upper())
    return f"{match.group(1)} {match.group(2)}" if match else None


def find_one_time_code(text: str) -> str | None:
    """The six digits of a one-time code (``123 456`` too)."""
    match = ONE_TIME_CODE.search(text)
    return match.group(1) + match.group(2) if match else None


def wants_one_time_code(text: str) -> bool:
    """Whether the customer asks for a code instead of giving a postcode."""
    return bool(WANTS_CODE.search(text))


def find_email(text: str) -> str | None:
    match = EMAIL.search(text)
    return match.group(0).lower() if match else None


def clean_uk_phone(text: str) -> str | None:
    """A UK phone number (``07700 900123``, ``+44 7700 900123``, ``0044...``) as ``+44 ...``; None otherwise."""
    compact = re.sub(r"[\s().-]", "", text)
    match = re.search(r"(?<![\d+])(?:\+44|0044|0)(\d{10})(?!\d)", compact)
    if not match:
        return None
    national = match.group(1)
    if national[0] == "0":
        return None
    return f"+44 {national[:4]} {national[4:]}"


def parse_address(text: str) -> tuple[str, str, str] | None:
    """``street, town, postcode`` -> (line, city, postcode); None unless all three are there."""
    postcode = clean_postcode(text)
    if postcode is None:
        return None
    before = UK_POSTCODE.split(text.upper(), maxsplit=1)[0]
    parts = [part.strip() for part in text[: len(before)].split(",") if part.strip()]
    if len(parts) < 2 or len(parts[0]) < 3:
        return None
    return ", ".join(parts[:-1]), parts[-1], postcode


def clean_contact_value(field: str, text: str) -> str | None:
    """The new email, phone or address read from the customer's words, normalised; None when it is not valid."""
    if field == "email":
        return find_email(text)
    if field == "phone":
        return clean_uk_phone(text)
    if field == "address":
        address = parse_address(text)
        return ", ".join(address) if address else None
    return None


def find_contact_field(text: str) -> str | None:
    """Which contact detail a message is about: an email address in it decides first, then keywords."""
    if find_email(text):
        return "email"
    if parse_address(text):
        return "address"
    return next((field for field, pattern in CONTACT_FIELDS.items() if pattern.search(text)), None)


def find_similar_product(text: str) -> str | None:
    """The product in "something like <product>"; None when the message doesn't ask for similar things."""
    match = SIMILAR_TO.search(text.strip())
    return match.group(1).strip() if match and len(match.group(1).strip()) >= 3 else None


def find_rating(text: str) -> int | None:
    """The first whole number in a rating (``4/5``, ``a four``, ``10 out of 10``); None when there is none."""
    match = RATING.search(text)
    if match is None:
        return None
    word = match.group(1).lower()
    return NUMBER_WORDS.index(word) if word in NUMBER_WORDS else int(word)


def split_change(pending: str | None) -> tuple[str, str]:
    """A pending change ``kind:argument`` (``cancel:SO-1234567``) as (kind, argument)."""
    kind, _, argument = (pending or "").partition(":")
    return kind, argument


def trailing_run(events: list[dict[str, Any]], is_counted: Callable[[dict[str, Any]], bool]) -> int:
    """How many of the latest user messages, counting back from the newest, satisfy ``is_counted``."""
    run = 0
    for event in reversed(events):
        if event.get("event") != "user":
            continue
        if not is_counted(event.get("parse_data") or {}):
            break
        run += 1
    return run


def is_negative(parse_data: dict[str, Any]) -> bool:
    return ((parse_data.get("sentiment") or {}).get("label")) == "negative"


def turn_needs_checking(paused: bool, pending_change: object, parse_data: dict[str, Any]) -> bool:
    """Whether ``action_check_turn`` can do anything for this message: nothing while a person has the conversation
    (``paused``); otherwise drop the question it leaves unanswered (``pending_change``), or count a run of negative
    messages, which ends with this one. Rasa does not call the action otherwise (rasa_server/turn_check.py), so this is
    the action's own first test too."""
    return not paused and (bool(pending_change) or is_negative(parse_data))


def intent_name(parse_data: dict[str, Any]) -> str | None:
    """The intent of a parsed message (``nlu_fallback`` when the NLU was not confident)."""
    return (parse_data.get("intent") or {}).get("name")


def is_not_understood(parse_data: dict[str, Any]) -> bool:
    return intent_name(parse_data) == "nlu_fallback"


def bot_said(events: list[dict[str, Any]], response: str) -> bool:
    """Whether the bot already sent the response ``response`` in this conversation."""
    return any(e.get("event") == "bot" and (e.get("metadata") or {}).get("utter_action") == response for e in events)


def format_money(amount: str | Decimal) -> str:
    return f"£{Decimal(amount):,.2f}"


def format_date(iso: str) -> str:
    """A date of the CRM's JSON (ISO 8601, possibly ending in Z) as people write it."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).strftime("%-d %B %Y")
