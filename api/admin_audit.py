"""Audit queries as the admin API and pages ask them: filters from query arguments, and the CSV
export streamed row by row with its row count announced first (`X-Total-Count`)."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

from flask import Response
from werkzeug.datastructures import MultiDict

from engine import AuditView
from engine.audit_query import AuditFilters, AuditStream
from handlers.times import OUT_OF_CALENDAR, within_calendar

from .json_api import ApiError, iso, jsonable
from .request_numbers import whole_number

CSV_COLUMNS = (
    "id",
    "at",
    "actor",
    "event",
    "instance_id",
    "business_key",
    "task_id",
    "element_id",
    "data_before",
    "data_after",
    "reason",
    "detail",
)
CHUNK = 64 * 1024
DATE_ONLY = re.compile(r"\d{4}-\d{2}-\d{2}")
# Spreadsheets run a cell that starts like a formula; complainants' text reaches this trail.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
FILTER_ARGS = (
    "actor",
    "event",
    "from",
    "to",
    "process",
    "business_key",
    "tracking_number",
    "instance",
    "element",
    "task",
)
# What a refused filter is told, in English as the admin API answers; the audit page says the
# same in the reader's language (`admin_web.filter_problem`).
NOT_A_MOMENT = "not an ISO 8601 date or time"
NEEDS_OFFSET = "needs a UTC offset, e.g. 2026-03-02T09:00:00+08:00"
NOT_AN_INTEGER = "must be an integer"
NOT_BEFORE_TO = "must be before `to`"
TOO_LONG = "at most {} characters"


def _invalid(name: str, message: str) -> ApiError:
    return ApiError(422, "invalid_data", f"{name}: {message}", {name: [message]})


def parse_moment(name: str, raw: str, *, end_of_day: bool, zone: tzinfo | None) -> datetime:
    """ISO 8601 with offset; a bare date is that day's midnight (`to`: the next midnight, so the
    day is included). Without an offset the time is read in `zone`, or refused when None."""
    raw = raw.strip()
    try:
        if DATE_ONLY.fullmatch(raw):
            day = date.fromisoformat(raw)
            if not within_calendar(day):
                raise _invalid(name, OUT_OF_CALENDAR)
            day += timedelta(days=1) if end_of_day else timedelta()
            return datetime.combine(day, time(), tzinfo=zone or UTC)
        moment = datetime.fromisoformat(raw)
    except ValueError:
        raise _invalid(name, NOT_A_MOMENT) from None
    if not within_calendar(moment):
        raise _invalid(name, OUT_OF_CALENDAR)
    if moment.tzinfo is None:
        if zone is None:
            raise _invalid(name, NEEDS_OFFSET)
        moment = moment.replace(tzinfo=zone)
    return moment


def filters_from_args(args: MultiDict[str, str], zone: tzinfo | None = None) -> AuditFilters:
    """`event` may repeat or be comma-separated; `tracking_number` is `business_key` by its
    public name. Raises ApiError(422) naming the argument at fault."""

    def text(name: str, max_length: int = 200) -> str | None:
        value = (args.get(name) or "").strip()
        if len(value) > max_length:
            raise _invalid(name, TOO_LONG.format(max_length))
        return value or None

    events = tuple(
        dict.fromkeys(
            e.strip() for raw in args.getlist("event") for e in raw.split(",") if e.strip()
        )
    )
    if any(len(e) > 50 for e in events):
        raise _invalid("event", TOO_LONG.format(50))
    instance = text("instance", 20)
    instance_id = whole_number(instance) if instance is not None else None
    if instance is not None and instance_id is None:
        raise _invalid("instance", NOT_AN_INTEGER)
    since = text("from", 40)
    until = text("to", 40)
    filters = AuditFilters(
        actor=text("actor"),
        events=events,
        since=parse_moment("from", since, end_of_day=False, zone=zone) if since else None,
        until=parse_moment("to", until, end_of_day=True, zone=zone) if until else None,
        process_id=text("process"),
        business_key=text("business_key") or text("tracking_number"),
        instance_id=instance_id,
        element_id=text("element"),
        task_id=text("task", 36),
    )
    if filters.since and filters.until and filters.since >= filters.until:
        raise _invalid("from", NOT_BEFORE_TO)
    return filters


def filter_args(args: MultiDict[str, str]) -> dict[str, Any]:
    """The filter arguments of a request, to build links that keep them."""
    kept: dict[str, Any] = {}
    for name in FILTER_ARGS:
        values = [v for v in args.getlist(name) if v.strip()]
        if values:
            kept[name] = values if len(values) > 1 else values[0]
    return kept


# ------------------------------------------------------------ CSV


def _json_cell(value: Any) -> str:
    if value is None:
        return ""
    return json.dumps(jsonable(value), ensure_ascii=False, sort_keys=True)


def _text_cell(value: str | None) -> str:
    if not value:
        return ""
    return "'" + value if value.startswith(FORMULA_START) else value


def csv_cells(event: AuditView) -> list[Any]:
    return [
        event.id,
        iso(event.at),
        _text_cell(event.actor),
        _text_cell(event.event),
        "" if event.instance_id is None else event.instance_id,
        _text_cell(event.business_key),
        _text_cell(event.task_id),
        _text_cell(event.element_id),
        _json_cell(event.data_before),
        _json_cell(event.data_after),
        _text_cell(event.reason),
        _json_cell(event.detail),
    ]


def csv_chunks(rows: Iterator[AuditView], bom: bool = False) -> Iterator[str]:
    """Header, then rows, sent in chunks of about 64 KiB: memory stays flat whatever the size."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    if bom:  # Excel reads UTF-8 (Chinese text) only with a byte order mark
        buffer.write("\ufeff")
    writer.writerow(CSV_COLUMNS)
    for event in rows:
        writer.writerow(csv_cells(event))
        if buffer.tell() >= CHUNK:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_response(stream: AuditStream, now: datetime, bom: bool = False) -> Response:
    """A streamed download; the database read ends when the response closes, even if the
    client goes away before the first row."""
    response = Response(csv_chunks(iter(stream), bom), mimetype="text/csv")
    response.call_on_close(stream.close)
    name = f"audit-{now.astimezone(UTC):%Y%m%dT%H%M%SZ}.csv"
    response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
    response.headers["X-Total-Count"] = str(stream.count)
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
