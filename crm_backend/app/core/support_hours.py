"""When people answer: weekly opening hours in one time zone, parsed from text like ``Mon-Fri 09:00-17:30; Sat 10:00-16:00``.

Each ``;``-separated part names days (one day, a range such as ``Mon-Fri`` that may wrap past Sunday, or a comma list)
and one or more ``HH:MM-HH:MM`` windows separated by commas; ``24:00`` ends a window at midnight. Days that are not
named are closed. A window must end after it starts: write a night shift as ``Fri 22:00-24:00; Sat 00:00-02:00``.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_NAMES = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
MINUTES_PER_DAY = 24 * 60
ALWAYS_OPEN_TEXT = "every day, all day"
_WINDOW = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")
_PART = re.compile(r"^([A-Za-z,\s-]+?)\s*(\d.*)$")

Window = tuple[int, int]  # minutes after local midnight: start inclusive, end exclusive


def _day(name: str) -> int:
    key = name.strip().capitalize()
    return DAY_NAMES.index(key) if key in DAY_NAMES else -1


def _days(text: str) -> list[int]:
    days: list[int] = []
    for item in text.split(","):
        first, _, last = item.partition("-")
        start, end = _day(first), _day(last or first)
        if start < 0 or end < 0:
            raise ValueError(f"unknown day in {item.strip()!r}: use {', '.join(DAY_NAMES)}")
        days += [(start + offset) % 7 for offset in range((end - start) % 7 + 1)]
    return days


def _minutes(hours: str, minutes: str) -> int:
    value = int(hours) * 60 + int(minutes)
    if int(minutes) > 59 or value > MINUTES_PER_DAY:
        raise ValueError(f"{hours}:{minutes} is not a time of day")
    return value


def _windows(text: str) -> list[Window]:
    windows = []
    for item in text.split(","):
        match = _WINDOW.match(item.strip())
        if not match:
            raise ValueError(f"{item.strip()!r} is not a window like 09:00-17:30")
        start, end = _minutes(*match.group(1, 2)), _minutes(*match.group(3, 4))
        if end <= start:
            raise ValueError(f"{item.strip()!r} ends before it starts (split a night over two days)")
        windows.append((start, end))
    return windows


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


@dataclass(frozen=True)
class SupportHours:
    """Opening windows per weekday (Monday is 0), in local time of ``zone``."""

    week: tuple[tuple[Window, ...], ...]
    zone: ZoneInfo

    @classmethod
    def parse(cls, text: str, zone_name: str) -> "SupportHours":
        """``ValueError`` with the reason when the text or the zone cannot be read."""
        try:
            zone = ZoneInfo(zone_name)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"unknown time zone {zone_name!r}") from error
        week: list[list[Window]] = [[] for _ in DAY_NAMES]
        for part in filter(str.strip, text.split(";")):
            match = _PART.match(part.strip())
            if not match:
                raise ValueError(f"{part.strip()!r} needs days and times, like 'Mon-Fri 09:00-17:30'")
            days, windows = (group.replace(" ", "") for group in match.groups())
            for day in _days(days):
                week[day] += _windows(windows)
        if not any(week):
            raise ValueError("no opening hours given")
        return cls(tuple(_merge(windows) for windows in week), zone)

    def is_open(self, moment: datetime) -> bool:
        local = moment.astimezone(self.zone)
        minute = local.hour * 60 + local.minute
        return any(start <= minute < end for start, end in self.week[local.weekday()])

    def next_opening(self, moment: datetime) -> datetime | None:
        """When the next window starts, if closed at ``moment``; ``None`` when open now."""
        if self.is_open(moment):
            return None
        local = moment.astimezone(self.zone)
        for offset in range(8):
            day = local.date() + timedelta(days=offset)
            for start, _ in self.week[day.weekday()]:
                opening = self._local(day, start)
                if opening > moment:
                    return opening
        raise AssertionError("a week with opening hours always opens within eight days")

    def describe(self) -> str:
        """Readable hours, consecutive days with the same windows grouped: ``Mon-Fri 09:00-17:30; Sat 10:00-16:00``."""
        if all(windows == ((0, MINUTES_PER_DAY),) for windows in self.week):
            return ALWAYS_OPEN_TEXT
        parts, day = [], 0
        while day < 7:
            last = day
            while last + 1 < 7 and self.week[last + 1] == self.week[day]:
                last += 1
            if self.week[day]:
                days = DAY_NAMES[day] if last == day else f"{DAY_NAMES[day]}-{DAY_NAMES[last]}"
                parts.append(f"{days} {', '.join(f'{_clock(s)}-{_clock(e)}' for s, e in self.week[day])}")
            day = last + 1
        return "; ".join(parts) + f" ({self.zone.key} time)"

    def _local(self, day: date, minutes: int) -> datetime:
        return datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=self.zone)


def _merge(windows: list[Window]) -> tuple[Window, ...]:
    """Sorted, with overlapping or touching windows joined."""
    merged: list[Window] = []
    for start, end in sorted(windows):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return tuple(merged)
