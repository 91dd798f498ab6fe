"""Statistics for staff: `GET /api/stats` (JSON), `GET /api/stats.csv` (the same figures, one per
line) and `GET /api/stats/spot-check` (the month's spot-check sample). For petition_office,
leaders and admins. Figures come from handlers.statistics (the sample from handlers.spot_checks):
a few aggregate queries, read in one snapshot (REPEATABLE READ, read only, on PostgreSQL) so they
agree with each other.

Filters (all optional): `from`, `to` (YYYY-MM-DD, Beijing days, both included), `region`
(2-6 leading digits of a region code), `category`, `channel`."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from typing import Any

from flask import Blueprint, Response, jsonify, request
from sqlalchemy import Connection
from werkzeug.datastructures import MultiDict

from handlers.complaints import CATEGORIES, CHANNELS
from handlers.spot_checks import spot_check_sample
from handlers.statistics import statistics
from handlers.stats_filters import Filters
from handlers.times import EARLIEST_DAY, LATEST_DAY, OUT_OF_CALENDAR

from . import stats_labels
from .auth import authenticate, current_account
from .json_api import ApiError, arg_int, register_error_handlers, the_engine

bp = Blueprint("stats_api", __name__, url_prefix="/api")
register_error_handlers(bp)

STATS_GROUPS = ("petition_office", "leader")
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
PERIOD = re.compile(r"[0-9]{4}-(0[1-9]|1[0-2])")
MAX_SAMPLE = 200


def may_read_statistics(account: Any) -> bool:
    return bool(account.is_admin or account.in_any(STATS_GROUPS))


@bp.before_request
def _staff_only() -> None:
    authenticate()
    if not may_read_statistics(current_account()):
        raise ApiError(
            403, "forbidden", f"statistics need one of the groups: {', '.join(STATS_GROUPS)}"
        )


# ------------------------------------------------------------ shared with the stats pages


def parse_filters(args: MultiDict[str, str]) -> tuple[Filters, dict[str, list[str]]]:
    """Filters from query arguments, and the problems by argument name (empty when valid)."""
    problems: dict[str, list[str]] = {}

    def text(name: str) -> str | None:
        value = (args.get(name) or "").strip()
        return value or None

    def day(name: str) -> date | None:
        value = text(name)
        if value is None:
            return None
        try:
            if not DATE.fullmatch(value):
                raise ValueError(value)
            return date.fromisoformat(value)
        except ValueError:
            problems[name] = ["must be a date YYYY-MM-DD"]
            return None

    def choice(name: str, allowed: frozenset[str]) -> str | None:
        value = text(name)
        if value is not None and value not in allowed:
            problems[name] = [f"must be one of {', '.join(sorted(allowed))}"]
            return None
        return value

    filters = Filters(
        date_from=day("from"),
        date_to=day("to"),
        region_prefix=text("region"),
        category=choice("category", CATEGORIES),
        channel=choice("channel", CHANNELS),
    )
    for name, message in filters.validate().items():
        problems.setdefault(name, []).append(message)
    return filters, problems


@contextmanager
def snapshot() -> Iterator[Connection]:
    """One read-only connection whose queries all see the same data."""
    sql = the_engine().sql
    with sql.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection = connection.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        yield connection


def compute(filters: Filters) -> dict[str, Any]:
    with snapshot() as connection:
        figures = statistics(connection, filters, the_engine().clock.now())
    for row in figures["by_region"]:
        row["name"] = stats_labels.REGION_NAMES.get(row["key"] or "", "")
    return figures


def _filters_or_422() -> Filters:
    filters, problems = parse_filters(request.args)
    if problems:
        first = next(iter(problems))
        raise ApiError(422, "invalid_data", f"{first}: {problems[first][0]}", problems)
    return filters


# ------------------------------------------------------------ routes


@bp.get("/stats")
def stats():
    return jsonify(compute(_filters_or_422()))


@bp.get("/stats.csv")
def stats_csv():
    figures = compute(_filters_or_422())
    body = "\ufeff" + csv_text(figures)  # the BOM lets spreadsheet programs read it as UTF-8
    stamp = figures["generated_at"][:10].replace("-", "")
    return Response(
        body,
        mimetype="text/csv",
        headers={
            "Content-Disposition": f'attachment; filename="complaint-statistics-{stamp}.csv"',
            "Cache-Control": "no-store",
        },
    )


@bp.get("/stats/spot-check")
def spot_check():
    period = (request.args.get("period") or "").strip()
    if not _is_period(period):
        raise ApiError(
            422, "invalid_data", "period: must be a month YYYY-MM", {"period": ["YYYY-MM"]}
        )
    if not _in_calendar(period):
        raise ApiError(
            422, "invalid_data", f"period: {OUT_OF_CALENDAR}", {"period": [OUT_OF_CALENDAR]}
        )
    size = arg_int("size", 20, 1, MAX_SAMPLE)
    with snapshot() as connection:
        items = spot_check_sample(connection, period, size)
    return jsonify(period=period, size=size, items=items, count=len(items))


def _is_period(value: str) -> bool:
    return PERIOD.fullmatch(value) is not None


def _in_calendar(period: str) -> bool:
    """Whether month `period` (YYYY-MM) is one of the months of the days a request may name:
    the sample's bounds, its first instant and the next month's, must exist."""
    month = (int(period[:4]), int(period[5:]))
    return (EARLIEST_DAY.year, EARLIEST_DAY.month) <= month <= (LATEST_DAY.year, LATEST_DAY.month)


# ------------------------------------------------------------ CSV

CSV_COLUMNS = ("section", "key", "name", "metric", "value")
BREAKDOWN_METRICS = (
    "count",
    "rate",
    "closed",
    "avg_days_to_close",
    "with_deadline",
    "on_time",
    "on_time_rate",
    "overdue_now",
    "repeats",
)
SECTIONS = {
    "by_channel": "channel",
    "by_region": "region",
    "by_category": "category",
    "by_track": "track",
    "by_status": "status",
    "satisfaction": "satisfaction",
}


def csv_rows(figures: Mapping[str, Any]) -> Iterator[tuple[Any, ...]]:
    """The figures in long form (section, key, name, metric, value): every number of the JSON
    answer except the definitions, which the JSON carries."""
    for name, value in figures["filters"].items():
        yield ("filter", name, "", "value", value if value is not None else "")
    yield ("generated", "", "", "at", figures["generated_at"])
    for metric, value in figures["summary"].items():
        yield ("summary", "", "", metric, value)
    for section, dimension in SECTIONS.items():
        for row in figures[section]:
            name = stats_labels.label(dimension, row["key"])
            for metric in BREAKDOWN_METRICS:
                if metric in row:  # regions carry counts only
                    yield (section, row["key"] or "", name, metric, row[metric])
    for row in figures["top_respondents"]:
        for metric in ("count", "rate"):
            yield ("top_respondents", row["respondent"], "", metric, row[metric])
    reviews = figures["reviews"]
    for metric, value in reviews.items():
        if isinstance(value, dict):
            for outcome, number in value.items():
                yield (metric, outcome, stats_labels.label("outcome", outcome), "count", number)
        else:
            yield ("reviews", "", "", metric, value)
    for row in figures["monthly"]:
        for metric in ("received", "closed"):
            yield ("monthly", row["month"], "", metric, row[metric])


def csv_text(figures: Mapping[str, Any]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in csv_rows(figures):
        writer.writerow([_cell(v) for v in row])
    return out.getvalue()


def _cell(value: Any) -> Any:
    """No formula injection: a text cell starting like a formula is quoted (respondent names
    come from complainants)."""
    if value is None:
        return ""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


# ------------------------------------------------------------ OpenAPI entries

_FILTER_PARAMETERS = [
    {"name": "from", "in": "query", "schema": {"type": "string", "format": "date"}},
    {"name": "to", "in": "query", "schema": {"type": "string", "format": "date"}},
    {
        "name": "region",
        "in": "query",
        "schema": {"type": "string", "pattern": "^[0-9]{2,6}$"},
        "description": "leading digits of a region code",
    },
    {"name": "category", "in": "query", "schema": {"enum": sorted(CATEGORIES)}},
    {"name": "channel", "in": "query", "schema": {"enum": sorted(CHANNELS)}},
]
_ERRORS = {
    "401": {"description": "no, unknown, expired or revoked bearer token"},
    "403": {"description": "not petition_office, leader or admin"},
    "422": {"description": "invalid filter; `fields` names it"},
}
OPENAPI_PATHS: dict[str, Any] = {
    "/api/stats": {
        "get": {
            "summary": "Complaint statistics (petition_office, leader, admin)",
            "parameters": _FILTER_PARAMETERS,
            "responses": {"200": {"description": "the figures as JSON"}, **_ERRORS},
        }
    },
    "/api/stats.csv": {
        "get": {
            "summary": "The same figures as CSV (section, key, name, metric, value)",
            "parameters": _FILTER_PARAMETERS,
            "responses": {"200": {"description": "text/csv"}, **_ERRORS},
        }
    },
    "/api/stats/spot-check": {
        "get": {
            "summary": "The month's spot-check sample of closed complaints",
            "parameters": [
                {"name": "period", "in": "query", "required": True, "schema": {"type": "string"}},
                {"name": "size", "in": "query", "schema": {"type": "integer", "maximum": 200}},
            ],
            "responses": {"200": {"description": "tracking numbers and codes"}, **_ERRORS},
        }
    },
}
"""For api_openapi.PATHS (that module is not ours to edit): merge these when registering."""
