"""The pure helpers that read postcodes, codes, phone numbers, addresses and requests out of customers' words."""

import pytest

from actions.orders import choose_order
from actions.parsing import (
    clean_contact_value,
    clean_postcode,
    clean_uk_phone,
    find_contact_field,
    find_one_time_code,
    find_rating,
    find_similar_product,
    parse_address,
    split_change,
    trailing_run,
    wants_one_time_code,
)


@pytest.mark.parametrize(("text", "postcode"), [
    ("SW1A 1AA", "SW1A 1AA"), ("my postcode is sw1a1aa", "SW1A 1AA"), ("it's m1 1ae thanks", "M1 1AE"),
    ("thanks", None), ("what payment methods", None), ("<script>", None), ("123456", None),
])
def test_postcodes_are_found_in_sentences(text: str, postcode: str | None) -> None:
    assert clean_postcode(text) == postcode


def test_one_time_codes() -> None:
    assert find_one_time_code("the code is 482 913") == "482913" and find_one_time_code("SW1A 1AA") is None
    assert wants_one_time_code("can you email me a code instead") and wants_one_time_code("I don't know my postcode")
    assert not wants_one_time_code("my postcode is M1 1AE")


@pytest.mark.parametrize(("text", "phone"), [
    ("07700 900123", "+44 7700 900123"), ("+44 7700 900123", "+44 7700 900123"), ("0044 20 7946 0000", "+44 2079 460000"),
    ("my new number is 020 7946 0000 thanks", "+44 2079 460000"), ("12345", None), ("0770090012", None), ("+1 555 0100", None),
])
def test_uk_phone_numbers(text: str, phone: str | None) -> None:
    assert clean_uk_phone(text) == phone


def test_addresses_and_contact_fields() -> None:
    assert parse_address("Flat 2, 5 Park Road, Bristol BS1 5TR") == ("Flat 2, 5 Park Road", "Bristol", "BS1 5TR")
    assert parse_address("Leeds LS1 4AP") is None and parse_address("12 New Street, Leeds") is None
    assert clean_contact_value("email", "it's New.Me@Example.com") == "new.me@example.com"
    assert clean_contact_value("email", "new at example dot com") is None
    assert [find_contact_field(t) for t in ("change my email to a@b.co", "I moved house", "new mobile number", "my shoe size")] == [
        "email", "address", "phone", None]


def test_similar_products_and_pending_changes() -> None:
    assert find_similar_product("have you got something like the ceramic mug?") == "ceramic mug"
    assert find_similar_product("anything similar to my desk lamp") == "desk lamp"
    assert find_similar_product("I would like a recommendation") is None
    assert split_change("cancel:SO-1234567") == ("cancel", "SO-1234567") and split_change(None) == ("", "")


def test_runs_of_messages_count_back_from_the_newest() -> None:
    def said(label: str) -> dict:
        return {"event": "user", "parse_data": {"sentiment": {"label": label}}}

    events = [said("negative"), said("neutral"), {"event": "bot"}, said("negative"), said("negative")]
    assert trailing_run(events, lambda p: p["sentiment"]["label"] == "negative") == 2


def test_the_order_meant_when_none_is_named() -> None:
    orders = [{"order_number": "SO-3", "status": "delivered"}, {"order_number": "SO-2", "status": "paid"}]
    assert choose_order(orders, ("placed", "paid")) == "SO-2"
    assert choose_order(orders, ("shipped",)) == "SO-3" and choose_order([], ()) is None


def test_ratings_are_read_from_digits_and_words() -> None:
    assert [find_rating(text) for text in ("5", "4/5", "a four I think", "one out of five", "10 out of 10", "zero stars")] == [
        5, 4, 4, 1, 10, 0]
    assert find_rating("great service") is None
