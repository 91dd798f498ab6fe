"""What a statistics request narrows the complaints to: the filters as asked, checked, and the
WHERE terms selecting the population they define, which every figure is about."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from sqlalchemy.sql.elements import ColumnElement

from .stats_sql import COMPLAINTS
from .times import CHINA, OUT_OF_CALENDAR, within_calendar

# [start, end) as aware instants; None leaves that end open.
Window = tuple[datetime | None, datetime | None]


@dataclass(frozen=True)
class Filters:
    """What the caller narrowed the population to; validate() refuses malformed values and days
    outside the calendar a request may name (the window's arithmetic and the SQL bind need it)."""

    date_from: date | None = None
    date_to: date | None = None
    region_prefix: str | None = None
    category: str | None = None
    channel: str | None = None

    def validate(self) -> dict[str, str]:
        """Problems by field name; empty when the filters can be used."""
        problems: dict[str, str] = {}
        for name, day in (("from", self.date_from), ("to", self.date_to)):
            if day is not None and not within_calendar(day):
                problems[name] = OUT_OF_CALENDAR
        if self.date_from and self.date_to and self.date_from > self.date_to:
            problems.setdefault("to", "must not be before 'from'")
        prefix = self.region_prefix
        if prefix is not None and not (
            prefix.isascii() and prefix.isdigit() and 2 <= len(prefix) <= 6
        ):
            problems["region"] = "must be 2 to 6 digits of a region code"
        return problems

    def window(self) -> Window:
        """[start, end) as aware instants: the Beijing days asked for, both ends included."""
        start = datetime.combine(self.date_from, time(0), CHINA) if self.date_from else None
        end = (
            datetime.combine(self.date_to + timedelta(days=1), time(0), CHINA)
            if self.date_to
            else None
        )
        return start, end

    def as_dict(self) -> dict[str, str | None]:
        return {
            "from": self.date_from.isoformat() if self.date_from else None,
            "to": self.date_to.isoformat() if self.date_to else None,
            "region": self.region_prefix,
            "category": self.category,
            "channel": self.channel,
        }


def cohort_conditions(filters: Filters, window: Window | None = None) -> list[ColumnElement]:
    """WHERE terms on `complaints` for the population, or for its part received in `window`
    (a part of the filters' window). A region prefix is a range of six-digit codes ('4201' ->
    '420100'..'420199'), which every collation orders the same and a b-tree index serves,
    unlike LIKE on PostgreSQL without text_pattern_ops."""
    c = COMPLAINTS.c
    start, end = window or filters.window()
    terms: list[ColumnElement] = []
    if start is not None:
        terms.append(c.created_at >= start)
    if end is not None:
        terms.append(c.created_at < end)
    if filters.region_prefix:
        prefix = filters.region_prefix
        terms.append(c.region_code.between(prefix.ljust(6, "0"), prefix.ljust(6, "9")))
    if filters.category:
        terms.append(c.category == filters.category)
    if filters.channel:
        terms.append(c.channel == filters.channel)
    return terms
