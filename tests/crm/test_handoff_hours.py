"""Support hours: parsing the setting, open or closed at a moment, the next opening (across days and clock changes)."""

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from app.core.config import Settings
from app.core.support_hours import ALWAYS_OPEN_TEXT, SupportHours
from app.services.priority import effective_priority, queue_position

LONDON = ZoneInfo("Europe/London")
WEEKDAYS_AND_SATURDAY = "Mon-Fri 09:00-17:30; Sat 10:00-16:00"


def london(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=LONDON)


def test_open_and_closed_moments() -> None:
    hours = SupportHours.parse(WEEKDAYS_AND_SATURDAY, "Europe/London")
    assert hours.is_open(london(2026, 11, 30, 9, 0))  # Monday at opening
    assert hours.is_open(london(2026, 11, 30, 17, 29))
    assert not hours.is_open(london(2026, 11, 30, 17, 30))  # closing time is exclusive
    assert not hours.is_open(london(2026, 11, 30, 8, 59))
    assert hours.is_open(london(2026, 12, 5, 12, 0))  # Saturday
    assert not hours.is_open(london(2026, 12, 6, 12, 0))  # Sunday
    # a UTC moment is judged in London time: 09:30 UTC in July is 10:30 BST
    assert hours.is_open(datetime(2026, 7, 4, 9, 30, tzinfo=timezone.utc))  # Saturday
    assert not hours.is_open(datetime(2026, 7, 4, 8, 30, tzinfo=timezone.utc))


def test_next_opening_skips_closed_days_and_is_none_while_open() -> None:
    hours = SupportHours.parse(WEEKDAYS_AND_SATURDAY, "Europe/London")
    assert hours.next_opening(london(2026, 12, 5, 16, 0)) == london(2026, 12, 7, 9, 0)  # Saturday close -> Monday
    assert hours.next_opening(london(2026, 12, 1, 7, 0)) == london(2026, 12, 1, 9, 0)  # same morning
    assert hours.next_opening(london(2026, 12, 1, 10, 0)) is None
    # the Saturday before the clocks go back (25 October 2026): Monday 09:00 is GMT again
    opening = hours.next_opening(london(2026, 10, 24, 18, 0))
    assert opening == london(2026, 10, 26, 9, 0) and opening.utcoffset() == timedelta(0)


def test_a_single_weekly_window_opens_a_week_later() -> None:
    hours = SupportHours.parse("wed 10:00-11:00", "UTC")
    wednesday_noon = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)
    assert hours.next_opening(wednesday_noon) == datetime(2026, 12, 9, 10, 0, tzinfo=ZoneInfo("UTC"))


def test_descriptions_group_days_with_the_same_windows() -> None:
    assert SupportHours.parse(WEEKDAYS_AND_SATURDAY, "Europe/London").describe() == (
        "Mon-Fri 09:00-17:30; Sat 10:00-16:00 (Europe/London time)")
    assert SupportHours.parse("Mon-Sun 00:00-24:00", "Europe/London").describe() == ALWAYS_OPEN_TEXT
    split = SupportHours.parse("Fri-Mon 9:00-12:00, 13:00-17:00; Mon 12:00-13:00", "UTC")
    assert split.describe() == "Mon 09:00-17:00; Fri-Sun 09:00-12:00, 13:00-17:00 (UTC time)"  # touching windows join


@pytest.mark.parametrize("text, problem", [
    ("", "no opening hours"),
    ("Mon-Fri", "needs days and times"),
    ("Funday 09:00-17:00", "unknown day"),
    ("Mon 17:00-09:00", "ends before it starts"),
    ("Mon 09:00-25:00", "not a time of day"),
    ("Mon 09:60-10:00", "not a time of day"),
    ("Mon nine-five", "needs days and times"),
])
def test_unreadable_hours_say_why(text: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        SupportHours.parse(text, "Europe/London")


def test_settings_refuse_bad_hours_or_zone_at_start() -> None:
    secrets = {"token_secret": "t" * 32, "actions_api_key": "a" * 32}
    with pytest.raises(ValidationError, match="unknown day"):
        Settings(support_hours="Mo-Fr 09:00-17:00", **secrets)
    with pytest.raises(ValidationError, match="unknown time zone"):
        Settings(support_timezone="Europe/Atlantis", **secrets)
    assert Settings(**secrets).schedule().describe() == ALWAYS_OPEN_TEXT  # the default: every day, all day


def test_queue_position_orders_like_effective_priority_at_any_moment() -> None:
    start = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)
    tickets = [(start, 1.0), (start + timedelta(minutes=5), 4.5), (start - timedelta(minutes=45), 1.0),
               (start + timedelta(minutes=1), 3.0), (start - timedelta(minutes=20), 2.5)]
    by_position = sorted(tickets, key=lambda t: queue_position(*t))
    for minutes_later in (6, 30, 240):
        now = start + timedelta(minutes=minutes_later)
        assert sorted(tickets, key=lambda t: -effective_priority(t[1], t[0], now)) == by_position
    # a customer_request waiting 45 minutes (1 + 4.5) comes before a fresh complaint with negative messages (4.5)
    assert by_position[0] == (start - timedelta(minutes=45), 1.0)
