"""Pure helpers that read identifiers out of text and format CRM data for people."""

import re
from datetime import datetime
from decimal import Decimal

EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")
ORDER_NUMBER = re.compile(r"\b(?:SO|so|So)[- ]?(\d{7})\b")
MAX_POSTCODE_LENGTH = 20


def find_identifier(text: str) -> str | None:
    """An email or order number inside free text, normalised; None when there is neither."""
    if match := EMAIL.search(text):
        return match.group(0).lower()
    if match := ORDER_NUMBER.search(text):
        return f"SO-{match.group(1)}"
    return None


def clean_postcode(text: str) -> str | None:
    candidate = " ".join(text.strip().split()).upper()
    if not 2 <= len(candidate) <= MAX_POSTCODE_LENGTH or not re.fullmatch(r"[A-Z0-9 -]+", candidate):
        return None
    return candidate


def format_money(amount: str | Decimal) -> str:
    return f"£{Decimal(amount):,.2f}"


def format_date(iso: str) -> str:
    """A date of the CRM's JSON (ISO 8601, possibly ending in Z) as people write it."""
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).strftime("%-d %B %Y")
