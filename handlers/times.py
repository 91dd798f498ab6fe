"""Instants and calendar dates for handlers: stored and returned as aware UTC, counted and shown
in China Standard Time, because statutory days and printed dates are Beijing days."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

# China has kept UTC+8 without daylight saving since 1991; a fixed offset needs no tzdata.
CHINA = timezone(timedelta(hours=8), "CST")
# The days a request may name (a filter's bounds, a period): wide enough for any real question,
# narrow enough that adding a day or applying an offset stays inside what `datetime` holds.
EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(9998, 12, 31)
OUT_OF_CALENDAR = f"must lie between {EARLIEST_DAY} and {LATEST_DAY}"


def within_calendar(day: date | datetime) -> bool:
    """Whether `day` (a date, or an instant's own calendar day) lies in the days a request may
    name."""
    return EARLIEST_DAY <= (day.date() if isinstance(day, datetime) else day) <= LATEST_DAY


def parse_instant(value: object, field: str) -> datetime:
    """An aware datetime from an ISO string or a datetime; naive values are refused because a
    deadline that silently shifts by eight hours is worse than an error."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError as err:
            raise ValueError(f"{field} must be an ISO 8601 date-time, got {value!r}") from err
    else:
        raise ValueError(f"{field} must be an ISO 8601 date-time, got {value!r}")
    if moment.tzinfo is None:
        raise ValueError(f"{field} must carry a UTC offset, got {value!r}")
    return moment.astimezone(UTC)


def optional_instant(value: object, field: str) -> datetime | None:
    return None if value is None or value == "" else parse_instant(value, field)


def iso(moment: datetime | None) -> str | None:
    """The one text form of an instant in task data: ISO 8601 in UTC with an explicit offset."""
    return None if moment is None else moment.astimezone(UTC).isoformat()


def china_date(moment: datetime) -> date:
    return moment.astimezone(CHINA).date()


def chinese_date(value: object, field: str) -> str:
    """A printed date such as 2026年10月9日 from an ISO date, ISO date-time or date object."""
    if isinstance(value, datetime):
        day = china_date(parse_instant(value, field))
    elif isinstance(value, date):
        day = value
    elif isinstance(value, str) and len(value.strip()) == 10:
        try:
            day = date.fromisoformat(value.strip())
        except ValueError as err:
            raise ValueError(f"{field} must be an ISO 8601 date, got {value!r}") from err
    else:
        day = china_date(parse_instant(value, field))
    return f"{day.year}年{day.month}月{day.day}日"
