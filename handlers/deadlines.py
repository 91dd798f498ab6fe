"""Statutory deadlines: calendar-day limits ("15 days", "60 days") count plain days; working-day
limits ("5 WD") skip weekends and public holidays and count the make-up working weekends (调休),
taken from the maintained `chinese_calendar` package rather than a hand-written list.

Days are Beijing days: a limit starting at 10:00 on 30 September ends at 10:00 Beijing time on
the day it lands on. Results are ISO 8601 instants in UTC."""

from __future__ import annotations

import calendar
import logging
import re
from datetime import date, datetime, timedelta
from typing import Any

import chinese_calendar

from .context import Context
from .params import flag
from .times import CHINA, iso, parse_instant

log = logging.getLogger(__name__)

_DURATION = re.compile(
    r"(?P<sign>-)?P(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+)S)?)?"
)


def register(registry: Any) -> None:
    registry.register("compute_deadline")(compute_deadline)
    registry.register("compute_deadlines")(compute_deadlines)
    registry.register("extend_deadline")(extend_deadline)
    registry.register("add_days")(add_days_handler)


def compute_deadline(params: dict[str, Any], context: Context) -> dict[str, str]:
    """{"due": ISO instant}: `start` (ISO date-time with offset; None or absent = context.now)
    plus `duration` (ISO 8601 such as "P15D", "P60D", "P6M", "-P5D"); with `working_days` true
    the duration must be whole days ("P5D") and counts working days."""
    start = _start(params, context)
    duration = params.get("duration")
    if not isinstance(duration, str):
        raise ValueError(f"parameter 'duration' must be an ISO 8601 duration, got {duration!r}")
    return {"due": iso(add_duration(start, duration, working_days=flag(params, "working_days")))}


def compute_deadlines(params: dict[str, Any], context: Context) -> dict[str, str]:
    """Several statutory deadlines from one start, each with its reminder: {"start", code,
    f"{code}_reminder"} as ISO instants. `durations` maps every code to its ISO duration (the
    `deadlines` decision table), `working_day_codes` lists the codes counted in working days,
    `reminder_before` is how long before each deadline staff are reminded."""
    start = _start(params, context)
    durations = params.get("durations")
    codes = params.get("codes")
    if not isinstance(durations, dict) or not isinstance(codes, list):
        raise ValueError("parameters 'durations' (mapping) and 'codes' (list) are required")
    working = set(params.get("working_day_codes") or [])
    reminder = params.get("reminder_before") or "P0D"
    result = {"start": iso(start)}
    for code in codes:
        if code not in durations:
            raise ValueError(f"no duration configured for deadline '{code}'")
        due = add_duration(start, durations[code], working_days=code in working)
        result[code] = iso(due)
        result[f"{code}_reminder"] = iso(add_duration(due, f"-{reminder}"))
    return result


def extend_deadline(params: dict[str, Any], context: Context) -> dict[str, str]:
    """An approved extension: {"due", "reminder_at"} moved `days` calendar days past
    `deadline`."""
    days = params.get("days")
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise ValueError(f"parameter 'days' must be a positive integer, got {days!r}")
    due = add_days(parse_instant(params.get("deadline"), "deadline"), days)
    reminder = params.get("reminder_before") or "P0D"
    return {"due": iso(due), "reminder_at": iso(add_duration(due, f"-{reminder}"))}


def add_days_handler(params: dict[str, Any], context: Context) -> dict[str, str]:
    """{"at": ISO instant}: `start` (None = context.now) moved by `days` (an integer, negative
    for "before": a reminder five days before a due date is days=-5), in working days when
    `working_days` is true."""
    days = params.get("days")
    if isinstance(days, bool) or not isinstance(days, int):
        raise ValueError(f"parameter 'days' must be an integer, got {days!r}")
    moved = add_days(_start(params, context), days, working_days=flag(params, "working_days"))
    return {"at": iso(moved)}


def add_duration(start: datetime, duration: str, *, working_days: bool = False) -> datetime:
    """`start` plus an ISO 8601 duration, counted on Beijing's calendar."""
    parts = _DURATION.fullmatch(duration.strip())
    if parts is None or not any(v for k, v in parts.groupdict().items() if k != "sign"):
        raise ValueError(f"duration must be ISO 8601 like 'P15D', got {duration!r}")
    amounts = {k: int(v or 0) for k, v in parts.groupdict().items() if k != "sign"}
    sign = -1 if parts["sign"] else 1
    if working_days:
        if any(amounts[k] for k in amounts if k != "days"):
            raise ValueError(f"a working-day duration must be whole days ('P5D'), got {duration!r}")
        return add_working_days(start, sign * amounts["days"])
    local = _add_months(start.astimezone(CHINA), sign * (12 * amounts["years"] + amounts["months"]))
    local += sign * timedelta(
        weeks=amounts["weeks"],
        days=amounts["days"],
        hours=amounts["hours"],
        minutes=amounts["minutes"],
        seconds=amounts["seconds"],
    )
    return local.astimezone(start.tzinfo)


def add_days(start: datetime, days: int, *, working_days: bool = False) -> datetime:
    if working_days:
        return add_working_days(start, days)
    return (start.astimezone(CHINA) + timedelta(days=days)).astimezone(start.tzinfo)


def add_working_days(start: datetime, count: int) -> datetime:
    """The same Beijing time of day on the `count`-th working day after (or before) the start
    day; the start day itself never counts, so a complaint received on a Saturday with 1 WD is
    due on Monday (or on a make-up Sunday, if that is a working day)."""
    local = start.astimezone(CHINA)
    day = local.date()
    step = timedelta(days=1 if count >= 0 else -1)
    remaining = abs(count)
    while remaining:
        day += step
        if is_working_day(day):
            remaining -= 1
    moved = datetime.combine(day, local.timetz())
    return moved.astimezone(start.tzinfo)


def is_working_day(day: date) -> bool:
    """chinese_calendar's answer; for a year it has no data for yet, Monday to Friday (logged),
    because stopping every complaint until the package is upgraded is worse than missing a
    holiday that the next release will add."""
    try:
        return chinese_calendar.is_workday(day)
    except NotImplementedError:
        log.warning("chinese_calendar has no data for %s; counting Monday-Friday", day.year)
        return day.weekday() < 5


def _start(params: dict[str, Any], context: Context) -> datetime:
    value = params.get("start")
    return context.now if value is None or value == "" else parse_instant(value, "start")


def _add_months(moment: datetime, months: int) -> datetime:
    if not months:
        return moment
    index = moment.year * 12 + moment.month - 1 + months
    year, month = divmod(index, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)
