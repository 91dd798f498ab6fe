"""Statistics over the read models (SPEC d: platform data analysis, monthly publication, spot
checks): a handful of aggregate queries (GROUP BY, never a row at a time into Python) over
`complaints`, `notices` and `disclosures`, and over two engine tables read by name
(`audit_events`, `human_tasks`) so that this package still never imports the engine.

Definitions (the same on SQLite and PostgreSQL, and repeated in every answer):
- The population is the complaints *received* (created_at) in the window [date_from, date_to],
  Beijing days, narrowed by region prefix, category and channel. Every figure is about that
  cohort, closures included: "closed" counts those of the cohort that have a closed_at.
- Days to close: closed_at - created_at in days; the 90th percentile interpolates linearly
  between neighbours (PostgreSQL's percentile_cont; ORDER BY ... OFFSET on SQLite).
- On time: closed_at <= deadline_at, among closed complaints that had a deadline, per track
  (the track fixes the deadline kind: A reply 60 d, B handling 60 d + extension).
- Overdue now: still being handled (status in OPEN_STATUSES) and deadline_at before now.
- Review rate: complaints with a review opinion notice among those with a written opinion
  (Track B); re-review rate: with a re-review opinion among those reviewed. Outcomes come from
  the completed `review` / `re_review` user tasks (the audit trail's form data).
- Satisfaction rate: satisfied or basically satisfied among the evaluated.
- Repeat rate: complaints with repeat_of among all.
- Months are Beijing calendar months.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import (
    Connection,
    String,
    and_,
    case,
    column,
    func,
    literal,
    literal_column,
    null,
    select,
    table,
    text,
    union_all,
)
from sqlalchemy.sql.elements import ColumnElement

from .models import Complaint, Disclosure, JsonType, Notice, UtcDateTime
from .times import CHINA

COMPLAINTS = Complaint.__table__
NOTICES = Notice.__table__
DISCLOSURES = Disclosure.__table__

# Engine tables, by name: only the columns read here.
AUDIT_EVENTS = table(
    "audit_events",
    column("id"),
    column("event", String),
    column("element_id", String),
    column("business_key", String),
    column("task_id", String),
    column("data_after", JsonType),
)
HUMAN_TASKS = table(
    "human_tasks",
    column("id", String),
    column("element_id", String),
    column("status", String),
    column("created_at", UtcDateTime()),
)

OPEN_STATUSES = ("registered", "routed", "transferred", "accepted", "investigating", "extended")
SATISFIED = ("satisfied", "basically_satisfied")
REVIEW_NOTICE_KINDS = ("opinion", "review_opinion", "re_review_opinion")
REVIEW_TASKS = {"review": "review_outcome", "re_review": "re_review_outcome"}
TOP_RESPONDENTS = 20
PERCENTILE = 0.9
# The monthly disclosure diagram (processes/periodic_disclosure.bpmn) records the month before
# its run and asks petition_office to approve it in this user task.
APPROVE_DISCLOSURE_TASK = "approve_disclosure"

# The coded columns, each a short list of values: the cells of one GROUP BY.
CELL_DIMENSIONS: dict[str, ColumnElement] = {
    "channel": COMPLAINTS.c.channel,
    "category": COMPLAINTS.c.category,
    "track": COMPLAINTS.c.track,
    "status": COMPLAINTS.c.status,
    "satisfaction": COMPLAINTS.c.satisfaction,
}

DEFINITIONS = {
    "population": "complaints received (created_at) in the window, Beijing days, after filters",
    "closed": "complaints of the population with closed_at",
    "days_to_close": "closed_at - created_at in days; p90 interpolated (percentile_cont)",
    "on_time": "closed_at <= deadline_at among closed complaints with a deadline, per track",
    "overdue_now": f"status in {list(OPEN_STATUSES)} and deadline_at before now",
    "review_rate": "complaints with a review_opinion notice / with an opinion notice",
    "re_review_rate": "complaints with a re_review_opinion notice / with a review_opinion notice",
    "review_outcomes": "outcomes of completed review / re_review user tasks",
    "satisfaction_rate": f"satisfaction in {list(SATISFIED)} / evaluated",
    "repeat_rate": "complaints with repeat_of / population",
    "months": "Beijing calendar months",
}


# ---------------------------------------------------------------- filters


@dataclass(frozen=True)
class Filters:
    """What the caller narrowed the population to; validate() refuses malformed values."""

    date_from: date | None = None
    date_to: date | None = None
    region_prefix: str | None = None
    category: str | None = None
    channel: str | None = None

    def validate(self) -> dict[str, str]:
        """Problems by field name; empty when the filters can be used."""
        problems: dict[str, str] = {}
        if self.date_from and self.date_to and self.date_from > self.date_to:
            problems["to"] = "must not be before 'from'"
        prefix = self.region_prefix
        if prefix is not None and not (
            prefix.isascii() and prefix.isdigit() and 2 <= len(prefix) <= 6
        ):
            problems["region"] = "must be 2 to 6 digits of a region code"
        return problems

    def window(self) -> tuple[datetime | None, datetime | None]:
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


def cohort_conditions(filters: Filters) -> list[ColumnElement]:
    """WHERE terms on `complaints` for the population. A region prefix is a range of six-digit
    codes ('4201' -> '420100'..'420199'), which every collation orders the same and a b-tree
    index serves, unlike LIKE on PostgreSQL without text_pattern_ops."""
    c = COMPLAINTS.c
    start, end = filters.window()
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


# ---------------------------------------------------------------- dialect pieces


def _is_postgres(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"


def days_to_close(dialect: str) -> ColumnElement:
    """closed_at - created_at in days. Written with literals only, so that it is the very
    expression of the index migration 0007 builds for the percentile (an index matches an
    expression, not a bound parameter)."""
    c = COMPLAINTS.c
    if dialect == "postgresql":
        seconds = func.date_part(literal_column("'epoch'"), c.closed_at - c.created_at)
        return seconds.op("/")(literal_column("86400.0"))  # `/` itself would add a CAST
    return func.julianday(c.closed_at) - func.julianday(c.created_at)


def _tune(connection: Connection) -> None:
    """PostgreSQL: no JIT (compiling these expressions took longer than running them: 0.6 s
    of a 1M-row query) and room for the hash tables, for this transaction only."""
    if _is_postgres(connection):
        connection.execute(text("SET LOCAL jit = off"))
        connection.execute(text("SET LOCAL work_mem = '32MB'"))


# ---------------------------------------------------------------- the report


def statistics(connection: Connection, filters: Filters, now: datetime) -> dict[str, Any]:
    """Every figure of GET /api/stats for the population `filters` selects, as JSON values."""
    _tune(connection)
    where = cohort_conditions(filters)
    groups = _cells(connection, where, now)
    total = groups.pop(("total", None))
    population = total["count"]
    closed = total["closed"]
    p90 = _percentile_days(connection, where, closed, PERCENTILE)

    breakdowns = {name: _breakdown(groups, name, population) for name in CELL_DIMENSIONS}
    breakdowns["region"] = _regions(connection, where, population)
    satisfaction = breakdowns.pop("satisfaction")
    evaluated = sum(row["count"] for row in satisfaction if row["key"] is not None)
    satisfied = sum(row["count"] for row in satisfaction if row["key"] in SATISFIED)
    reviews = _reviews(connection, where)
    reviews["in_review_now"] = next(
        (row["count"] for row in breakdowns["status"] if row["key"] == "in_review"), 0
    )
    return {
        "filters": filters.as_dict(),
        "generated_at": now.astimezone(UTC).isoformat(),
        "definitions": DEFINITIONS,
        "summary": {
            "received": population,
            "closed": closed,
            "closed_rate": rate(closed, population),
            "overdue_now": total["overdue_now"],
            "avg_days_to_close": _round(total["days_sum"] / closed) if closed else None,
            "p90_days_to_close": _round(p90),
            "on_time": total["on_time"],
            "with_deadline": total["with_deadline"],
            "on_time_rate": rate(total["on_time"], total["with_deadline"]),
            "repeats": total["repeats"],
            "repeat_rate": rate(total["repeats"], population),
            "evaluated": evaluated,
            "satisfied": satisfied,
            "satisfaction_rate": rate(satisfied, evaluated),
        },
        "by_channel": breakdowns["channel"],
        "by_region": breakdowns["region"],
        "by_category": breakdowns["category"],
        "by_track": breakdowns["track"],
        "by_status": breakdowns["status"],
        "satisfaction": satisfaction,
        "on_time_by_track": [
            {
                "track": row["key"],
                "with_deadline": row["with_deadline"],
                "on_time": row["on_time"],
                "rate": row["on_time_rate"],
            }
            for row in breakdowns["track"]
            if row["with_deadline"]
        ],
        "top_respondents": _top_respondents(connection, where, population),
        "reviews": reviews,
        "monthly": _monthly(connection, filters, where),
    }


def rate(part: int | None, whole: int | None) -> float | None:
    """A share rounded to four places; None when there is nothing to divide by."""
    if not whole:
        return None
    return round((part or 0) / whole, 4)


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)


MEASURES = ("count", "repeats", "closed", "days_sum", "with_deadline", "on_time", "overdue_now")


def _measures(connection: Connection, now: datetime) -> list[ColumnElement]:
    c = COMPLAINTS.c
    with_deadline = and_(c.closed_at.is_not(null()), c.deadline_at.is_not(null()))
    return [
        func.count().label("count"),
        func.count(c.repeat_of).label("repeats"),
        func.count(c.closed_at).label("closed"),
        func.sum(days_to_close(connection.dialect.name)).label("days_sum"),
        func.count().filter(with_deadline).label("with_deadline"),
        func.count().filter(c.closed_at <= c.deadline_at).label("on_time"),
        func.count()
        .filter(and_(c.status.in_(OPEN_STATUSES), c.deadline_at < now))
        .label("overdue_now"),
    ]


def _cells(
    connection: Connection, where: Sequence[ColumnElement], now: datetime
) -> dict[tuple[str, Any], dict[str, Any]]:
    """The coded breakdowns and the total in one pass over the population: the rows are first
    grouped by all five coded columns at once (a few thousand cells at most: the codes are
    short lists), then each breakdown sums those cells. One hash aggregate over the table is
    far cheaper than one per breakdown, or than GROUPING SETS over the rows."""
    cells = (
        select(
            *(col.label(name) for name, col in CELL_DIMENSIONS.items()), *_measures(connection, now)
        )
        .where(*where)
        .group_by(*CELL_DIMENSIONS.values())
        .cte("cells")
        .prefix_with("MATERIALIZED")
    )
    sums = [func.coalesce(func.sum(cells.c[m]), 0).label(m) for m in MEASURES]
    parts = [
        select(literal(name).label("dim"), cells.c[name].label("key"), *sums).group_by(
            cells.c[name]
        )
        for name in CELL_DIMENSIONS
    ]
    parts.append(select(literal("total").label("dim"), null().label("key"), *sums))
    return {
        (row["dim"], row["key"]): _numbers(row)
        for row in connection.execute(union_all(*parts)).mappings()
    }


def _numbers(row: Mapping[str, Any]) -> dict[str, Any]:
    numbers: dict[str, Any] = {name: int(row.get(name) or 0) for name in MEASURES}
    numbers["days_sum"] = float(row.get("days_sum") or 0)
    return numbers


def _breakdown(
    groups: Mapping[tuple[str, Any], Mapping[str, Any]], name: str, population: int
) -> list[dict[str, Any]]:
    """One dimension's rows, largest first, each with its share of the population and its
    own closure, timeliness and backlog figures."""
    rows = []
    for (dimension, key), numbers in groups.items():
        if dimension != name:
            continue
        closed = numbers["closed"]
        rows.append(
            {
                "key": key,
                "count": numbers["count"],
                "rate": rate(numbers["count"], population),
                "closed": closed,
                "avg_days_to_close": _round(numbers["days_sum"] / closed) if closed else None,
                "with_deadline": numbers["with_deadline"],
                "on_time": numbers["on_time"],
                "on_time_rate": rate(numbers["on_time"], numbers["with_deadline"]),
                "overdue_now": numbers["overdue_now"],
                "repeats": numbers["repeats"],
            }
        )
    return _largest_first(rows)


def _largest_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(rows, key=lambda r: (-r["count"], r["key"] is None, r["key"] or ""))


def _regions(
    connection: Connection, where: Sequence[ColumnElement], population: int
) -> list[dict[str, Any]]:
    """Counts by region code: an index-only scan (region codes are a hundred-odd values, too
    many to multiply into the cells)."""
    c = COMPLAINTS.c
    query = select(c.region_code, func.count()).where(*where).group_by(c.region_code)
    return _largest_first(
        [
            {"key": key, "count": int(number), "rate": rate(int(number), population)}
            for key, number in connection.execute(query)
        ]
    )


def month_starts(first: datetime, last: datetime) -> list[datetime]:
    """The Beijing months from the one holding `first` to the one holding `last`, each as its
    first instant, plus the start of the month after."""
    local_first, local_last = first.astimezone(CHINA), last.astimezone(CHINA)
    year, month = local_first.year, local_first.month
    starts = []
    while (year, month) <= (local_last.year, local_last.month):
        starts.append(datetime(year, month, 1, tzinfo=CHINA))
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)
    starts.append(datetime(year, month, 1, tzinfo=CHINA))
    return starts


def _monthly(
    connection: Connection, filters: Filters, where: Sequence[ColumnElement]
) -> list[dict[str, Any]]:
    """Received and closed per Beijing month, every month from the first to the last with any:
    one range count per month on the created_at and closed_at indexes (no per-row date
    arithmetic), all in one statement."""
    c = COMPLAINTS.c
    # One scalar subquery per end, so that each is a single step along its index (a query
    # with several min/max aggregates scans the table on SQLite).
    ends = [
        select(agg(col)).where(*where).scalar_subquery()
        for col in (c.created_at, c.closed_at)
        for agg in (func.min, func.max)
    ]
    bounds = connection.execute(select(*ends)).one()
    present = [v for v in bounds if v is not None]
    if not present:
        return []
    starts = month_starts(min(present), max(present))
    parts = []
    for kind, column_ in (("received", c.created_at), ("closed", c.closed_at)):
        for start, end in zip(starts, starts[1:], strict=False):
            label = f"{start.year:04d}-{start.month:02d}"
            parts.append(
                select(literal(kind).label("kind"), literal(label).label("month"), func.count())
                .select_from(COMPLAINTS)
                .where(*where, column_ >= start, column_ < end)
            )
    counts = {(kind, month): int(n) for kind, month, n in connection.execute(union_all(*parts))}
    return [
        {
            "month": f"{s.year:04d}-{s.month:02d}",
            "received": counts.get(("received", f"{s.year:04d}-{s.month:02d}"), 0),
            "closed": counts.get(("closed", f"{s.year:04d}-{s.month:02d}"), 0),
        }
        for s in starts[:-1]
    ]


def _percentile_days(
    connection: Connection, where: Sequence[ColumnElement], closed: int, fraction: float
) -> float | None:
    """The `fraction` percentile of days to close, interpolated linearly between neighbours
    (the definition of percentile_cont): the two neighbours are read with ORDER BY days
    LIMIT 2 OFFSET k, which walks the days-to-close index (migration 0007) instead of sorting
    every closed complaint."""
    if not closed:
        return None
    days = days_to_close(connection.dialect.name)
    position = fraction * (closed - 1)
    low = int(position)
    query = (
        select(days)
        .where(*where, COMPLAINTS.c.closed_at.is_not(null()))
        .order_by(days)
        .limit(2)
        .offset(low)
    )
    neighbours = [float(v) for v in connection.execute(query).scalars()]
    if not neighbours:
        return None
    if len(neighbours) == 1:
        return neighbours[0]
    return neighbours[0] + (position - low) * (neighbours[1] - neighbours[0])


def _top_respondents(
    connection: Connection, where: Sequence[ColumnElement], population: int
) -> list[dict[str, Any]]:
    """The most complained-about bodies, grouped by the normalised key that repeat detection
    uses, each shown with one of its spellings (read through the respondent_key index)."""
    c = COMPLAINTS.c
    count = func.count().label("count")
    top = (
        select(c.respondent_key, count)
        .where(*where, c.respondent_key.is_not(null()), c.respondent_key != "")
        .group_by(c.respondent_key)
        .order_by(count.desc(), c.respondent_key)
        .limit(TOP_RESPONDENTS)
        .subquery("top")
    )
    spelling = (
        select(c.respondent)
        .where(c.respondent_key == top.c.respondent_key, *where)
        .limit(1)
        .scalar_subquery()
    )
    query = select(spelling.label("respondent"), top.c.count).order_by(
        top.c.count.desc(), top.c.respondent_key
    )
    return [
        {"respondent": row.respondent, "count": row.count, "rate": rate(row.count, population)}
        for row in connection.execute(query)
    ]


def _in_population(query: Any, key: ColumnElement, where: Sequence[ColumnElement]) -> Any:
    """`query` restricted to the population's complaints by `key` (a tracking number): joined
    only when filters narrow the population, since every complaint belongs to it otherwise."""
    if not where:
        return query
    return query.join(COMPLAINTS, COMPLAINTS.c.tracking_number == key).where(*where)


def _reviews(connection: Connection, where: Sequence[ColumnElement]) -> dict[str, Any]:
    n = NOTICES.c
    query = _in_population(
        select(n.kind, func.count(func.distinct(n.tracking_number)))
        .select_from(NOTICES)
        .where(n.kind.in_(REVIEW_NOTICE_KINDS))
        .group_by(n.kind),
        n.tracking_number,
        where,
    )
    counts = dict.fromkeys(REVIEW_NOTICE_KINDS, 0)
    counts.update({kind: int(number) for kind, number in connection.execute(query)})
    outcomes = _review_outcomes(connection, where)
    return {
        "opinions": counts["opinion"],
        "reviewed": counts["review_opinion"],
        "review_rate": rate(counts["review_opinion"], counts["opinion"]),
        "re_reviewed": counts["re_review_opinion"],
        "re_review_rate": rate(counts["re_review_opinion"], counts["review_opinion"]),
        "review_outcomes": outcomes["review"],
        "re_review_outcomes": outcomes["re_review"],
    }


def _review_outcomes(
    connection: Connection, where: Sequence[ColumnElement]
) -> dict[str, dict[str, int]]:
    a = AUDIT_EVENTS.c
    outcome = case(
        *(
            (a.element_id == element, a.data_after[field].as_string())
            for element, field in REVIEW_TASKS.items()
        )
    ).label("outcome")
    query = _in_population(
        select(a.element_id, outcome, func.count())
        .select_from(AUDIT_EVENTS)
        .where(a.element_id.in_(list(REVIEW_TASKS)), a.event == "task_completed")
        .group_by(a.element_id, outcome),
        a.business_key,
        where,
    )
    result: dict[str, dict[str, int]] = {element: {} for element in REVIEW_TASKS}
    for element, value, number in connection.execute(query):
        result[element][value or "unknown"] = int(number)
    return {k: dict(sorted(v.items())) for k, v in result.items()}


# ---------------------------------------------------------------- monthly publication


def published_disclosures(connection: Connection, limit: int = 24) -> list[dict[str, Any]]:
    """The monthly records petition_office approved for publication, newest first, each as
    counts only (by category, region and status): never text, identities or respondents.

    A record counts as approved when an `approve_disclosure` task completed with
    decision == 'publish'; that task belongs to the month before the task was created, the
    month its run recorded (record_disclosure's default period, same transaction)."""
    h, a = HUMAN_TASKS.c, AUDIT_EVENTS.c
    query = (
        select(h.created_at)
        .select_from(AUDIT_EVENTS.join(HUMAN_TASKS, h.id == a.task_id))
        .where(
            a.event == "task_completed",
            a.element_id == APPROVE_DISCLOSURE_TASK,
            a.data_after["decision"].as_string() == "publish",
        )
    )
    approved = {previous_month(moment) for moment in connection.execute(query).scalars()}
    if not approved:
        return []
    d = DISCLOSURES.c
    records = connection.execute(
        select(d.period, d.total, d.closed, d.counts)
        .where(d.period.in_(sorted(approved)))
        .order_by(d.period.desc())
        .limit(limit)
    ).mappings()
    return [
        {
            "period": row["period"],
            "total": row["total"],
            "closed": row["closed"],
            "by_category": _counts(row["counts"], "by_category"),
            "by_region": _counts(row["counts"], "by_region"),
            "by_status": _counts(row["counts"], "by_status"),
        }
        for row in records
    ]


def _counts(counts: Any, name: str) -> dict[str, int]:
    values = counts.get(name, {}) if isinstance(counts, Mapping) else {}
    return {str(k): int(v) for k, v in sorted(values.items(), key=lambda kv: (-int(kv[1]), kv[0]))}


def previous_month(moment: datetime) -> str:
    local = moment.astimezone(CHINA)
    year, month = (local.year, local.month - 1) if local.month > 1 else (local.year - 1, 12)
    return f"{year:04d}-{month:02d}"


# ---------------------------------------------------------------- spot checks


def spot_check_sample(connection: Connection, period: str, size: int) -> list[dict[str, Any]]:
    """Up to `size` complaints closed in Beijing month `period` ("YYYY-MM") for the monthly spot
    check: a stable choice (ordered by CRC-32 of the tracking number, as return visits are
    sampled), so the office and a second look get the same list. Reads only the month's
    closed tracking numbers, never identities."""
    year, month = (int(part) for part in period.split("-"))
    start = datetime(year, month, 1, tzinfo=CHINA)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=CHINA)
    c = COMPLAINTS.c
    rows = connection.execute(
        select(c.tracking_number, c.category, c.region_code, c.track, c.status).where(
            c.closed_at >= start, c.closed_at < end
        )
    ).all()
    chosen = sorted(rows, key=lambda r: (zlib.crc32(r.tracking_number.encode()), r[0]))[:size]
    return [
        {
            "tracking_number": r.tracking_number,
            "category": r.category,
            "region_code": r.region_code,
            "track": r.track,
            "status": r.status,
        }
        for r in sorted(chosen, key=lambda r: r.tracking_number)
    ]
