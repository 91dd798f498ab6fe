"""The statistics report over the read models (SPEC d: platform data analysis): a handful of
aggregate queries (GROUP BY, never a row at a time into Python) over `complaints`, `notices`
and the engine's `audit_events` read by name (stats_sql.py) so that this package still never
imports the engine. Its population comes from stats_filters.py, its leading respondents from
respondent_ranking.py; the rest of SPEC d, the monthly publication and the spot checks, is in
publication.py and spot_checks.py.

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

Where the figures come from: the additive ones (counts and sums per breakdown, regions, the
monthly series, the weeks of days to close, review notices and outcomes) from `stats_cells`, the
complaints summed per area, Beijing month, category and channel (migration 0011), for the whole
months of the window; the partial months at its ends, and a county's complaints (areas stop at
cities), from the complaints themselves. Then narrow indexes: the two neighbours of the
percentile inside its week, the open complaints not yet due, and the leading respondents of
`stats_respondents` counted in the population.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, String, and_, case, cast, func, literal, null, select, union_all
from sqlalchemy.sql.elements import ColumnElement

from .models import Notice, StatsCell
from .respondent_ranking import top_respondents
from .stats_filters import Filters, Window, cohort_conditions
from .stats_sql import (
    AUDIT_EVENTS,
    COMPLAINTS,
    beijing_month,
    days_to_close,
    tune_transaction,
    week_to_close,
)
from .times import CHINA

NOTICES = Notice.__table__
STATS_CELLS = StatsCell.__table__

OPEN_STATUSES = ("registered", "routed", "transferred", "accepted", "investigating", "extended")
SATISFIED = ("satisfied", "basically_satisfied")
REVIEW_NOTICE_KINDS = ("opinion", "review_opinion", "re_review_opinion")
REVIEW_TASKS = {"review": "review_outcome", "re_review": "re_review_outcome"}
# The longest region prefix `stats_cells` keeps rows for (a city), and its measures.
MAX_AREA = 4
CELL_MEASURES = ("received", "repeats", "closed", "days_sum", "with_deadline", "on_time",
                 "open_deadline")  # fmt: skip
PERCENTILE = 0.9

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


def statistics(connection: Connection, filters: Filters, now: datetime) -> dict[str, Any]:
    """Every figure of GET /api/stats for the population `filters` selects, as JSON values."""
    tune_transaction(connection)
    where = cohort_conditions(filters)
    sums = additive_figures(connection, filters, now)
    groups = dict(sums.cells)
    total = groups.pop(("total", None), None) or _numbers({})
    population = total["count"]
    closed = total["closed"]
    p90 = _percentile_days(connection, where, sums.weeks, PERCENTILE)

    breakdowns = {name: _breakdown(groups, name, population) for name in CELL_DIMENSIONS}
    breakdowns["region"] = _regions(sums.regions, population)
    satisfaction = breakdowns.pop("satisfaction")
    evaluated = sum(row["count"] for row in satisfaction if row["key"] is not None)
    satisfied = sum(row["count"] for row in satisfaction if row["key"] in SATISFIED)
    reviews = _reviews(sums)
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
        "top_respondents": [
            {"respondent": spelling, "count": count, "rate": rate(count, population)}
            for spelling, count in top_respondents(connection, where, population)
        ],
        "reviews": reviews,
        "monthly": _monthly(sums),
    }


def rate(part: int | None, whole: int | None) -> float | None:
    """A share rounded to four places; None when there is nothing to divide by."""
    if not whole:
        return None
    return round((part or 0) / whole, 4)


def _round(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)


MEASURES = ("count", "repeats", "closed", "days_sum", "with_deadline", "on_time", "overdue_now")


@dataclass
class Sums:
    """The figures of a population that add up over its parts: the measures per breakdown cell
    ((dimension, key), ("total", None) for all), complaints per region code, received and closed
    per Beijing month ('YYYY-MM'), closed per week of days to close, complaints with a notice
    per review notice kind and completed review tasks per (task, outcome)."""

    cells: dict[tuple[str, Any], dict[str, Any]] = field(default_factory=dict)
    regions: Counter[str | None] = field(default_factory=Counter)
    received: Counter[str] = field(default_factory=Counter)
    closed: Counter[str] = field(default_factory=Counter)
    weeks: Counter[int] = field(default_factory=Counter)
    notices: Counter[str] = field(default_factory=Counter)
    outcomes: Counter[tuple[str, str | None]] = field(default_factory=Counter)

    def add(self, other: Sums) -> None:
        for key, numbers in other.cells.items():
            mine = self.cells.setdefault(key, _numbers({}))
            for name in MEASURES:
                mine[name] += numbers[name]
        for name in ("regions", "received", "closed", "weeks", "notices", "outcomes"):
            getattr(self, name).update(getattr(other, name))


def additive_figures(connection: Connection, filters: Filters, now: datetime) -> Sums:
    """The additive figures of the population: the whole months of its window from
    `stats_cells`, the days before and after them from the complaints (all of them for a
    county: `stats_cells` keeps areas down to cities)."""
    if filters.region_prefix and len(filters.region_prefix) > MAX_AREA:
        return sums_from_rows(connection, cohort_conditions(filters), now)
    months, edges = split_window(*filters.window())
    sums = Sums() if months is None else _sums_from_cells(connection, filters, months, now)
    for edge in edges:
        sums.add(sums_from_rows(connection, cohort_conditions(filters, edge), now))
    return sums


def split_window(
    start: datetime | None, end: datetime | None
) -> tuple[Window | None, list[Window]]:
    """[start, end) as its whole Beijing months (None when it holds none) and the parts before
    and after them."""
    first = _month_start(start, up=True) if start else None
    last = _month_start(end, up=False) if end else None
    if first is not None and last is not None and first >= last:
        return None, [(start, end)]
    edges: list[Window] = []
    if start is not None and first is not None and start < first:
        edges.append((start, first))
    if end is not None and last is not None and last < end:
        edges.append((last, end))
    return (first, last), edges


def _month_start(moment: datetime, *, up: bool) -> datetime:
    """The first instant of the Beijing month holding `moment`, or of the next one when `up`
    and `moment` is not itself a month's first instant."""
    local = moment.astimezone(CHINA)
    start = datetime(local.year, local.month, 1, tzinfo=CHINA)
    if up and start < moment:
        return month_starts(start, start)[-1]
    return start


def _month_label(moment: datetime) -> str:
    local = moment.astimezone(CHINA)
    return f"{local.year:04d}-{local.month:02d}"


def _sums_from_cells(
    connection: Connection, filters: Filters, months: Window, now: datetime
) -> Sums:
    """The sums of the complaints received in the whole months `months` from `stats_cells`:
    each dimension's rows grouped by key, channel and category and the total from the track
    rows (every complaint has one), received per month likewise. "Overdue now" is "open with a
    deadline" less those not yet due, few and read from the complaints."""
    s = STATS_CELLS.c
    first, last = months
    terms = [
        *_area(filters.region_prefix),
        *([s.month >= _month_label(first)] if first else []),
        *([s.month < _month_label(last)] if last else []),
        *([s.category == filters.category] if filters.category else []),
        *([s.channel == filters.channel] if filters.channel else []),
    ]
    track = [*terms, s.dim == "track"]
    sums = [func.coalesce(func.sum(s[m]), 0).label(m) for m in CELL_MEASURES]
    present = func.sum(s.received) != 0

    def grouped(dim: Any, key: Any, where: list[ColumnElement]) -> Any:
        return select(dim.label("dim"), key.label("key"), *sums).where(*where).group_by(key)

    query = union_all(
        select(s.dim, s.key, *sums).where(*terms).group_by(s.dim, s.key).having(present),
        grouped(literal("channel"), s.channel, track).having(present),
        grouped(literal("category"), s.category, track).having(present),
        grouped(literal("month"), s.month, track).having(present),
        select(literal("total"), null(), *sums).where(*track),
    )
    result = Sums()
    for row in connection.execute(query).mappings():
        _file_cell(result, row)
    not_due = cohort_conditions(filters, months) + [
        COMPLAINTS.c.status.in_(OPEN_STATUSES),
        COMPLAINTS.c.deadline_at >= now,
    ]
    for key, numbers in _cells(connection, not_due, now).items():
        if key in result.cells:
            result.cells[key]["overdue_now"] -= numbers["count"]
    return result


def _area(prefix: str | None) -> list[ColumnElement]:
    """`stats_cells` rows of the complaints whose region code starts with `prefix`: those of
    the area itself (a province or city, 2 or 4 digits), or of the cities it holds (3 digits:
    '420' -> '4200'..'4209')."""
    area = STATS_CELLS.c.area
    if not prefix:
        return [area == ""]
    if len(prefix) % 2 == 0:
        return [area == prefix]
    level = len(prefix) + 1
    return [
        area.between(prefix.ljust(level, "0"), prefix.ljust(level, "9")),
        func.length(area) == level,
    ]


def _file_cell(sums: Sums, row: Mapping[str, Any]) -> None:
    """One grouped row of `stats_cells` into `sums` ('' keys are NULL values)."""
    dim, key, count = row["dim"], row["key"] or None, int(row["received"])
    if dim == "region":
        sums.regions[key] += count
    elif dim == "month":
        sums.received[key] += count
    elif dim == "closed":
        sums.closed[key] += count
    elif dim == "days":
        sums.weeks[int(key)] += count
    elif dim == "notice":
        sums.notices[key] += count
    elif dim in REVIEW_TASKS:
        sums.outcomes[(dim, key)] += count
    else:
        numbers = {**row, "count": count, "overdue_now": row["open_deadline"]}
        sums.cells[(dim, key)] = _numbers(numbers)


def sums_from_rows(connection: Connection, where: Sequence[ColumnElement], now: datetime) -> Sums:
    """The sums of the complaints `where` selects, read from the complaints themselves."""
    c = COMPLAINTS.c
    dialect = connection.dialect.name
    sums = Sums(cells=_cells(connection, where, now))
    received = beijing_month(dialect, c.created_at)
    closed = beijing_month(dialect, c.closed_at)
    week = week_to_close(dialect)
    is_closed = c.closed_at.is_not(null())
    parts = [
        select(literal("region").label("dim"), c.region_code.label("key"), func.count())
        .where(*where)
        .group_by(c.region_code),
        select(literal("month"), received, func.count()).where(*where).group_by(received),
        select(literal("closed"), closed, func.count()).where(*where, is_closed).group_by(closed),
        select(literal("days"), cast(week, String), func.count())
        .where(*where, is_closed)
        .group_by(week),
    ]
    for dim, key, count in connection.execute(union_all(*parts)):
        _file_cell(sums, {"dim": dim, "key": key, "received": count})
    sums.notices.update(_notice_counts(connection, where))
    sums.outcomes.update(_outcome_counts(connection, where))
    return sums


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


def _regions(counts: Mapping[str | None, int], population: int) -> list[dict[str, Any]]:
    """Counts by region code, largest first."""
    return _largest_first(
        [
            {"key": key, "count": number, "rate": rate(number, population)}
            for key, number in counts.items()
            if number
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


def _monthly(sums: Sums) -> list[dict[str, Any]]:
    """Received and closed per Beijing month, every month from the first to the last with any."""
    present = [m for counts in (sums.received, sums.closed) for m, n in counts.items() if n]
    if not present:
        return []
    first, last = (
        datetime.strptime(m, "%Y-%m").replace(tzinfo=CHINA) for m in (min(present), max(present))
    )
    labels = [_month_label(start) for start in month_starts(first, last)[:-1]]
    return [{"month": m, "received": sums.received[m], "closed": sums.closed[m]} for m in labels]


def _percentile_days(
    connection: Connection,
    where: Sequence[ColumnElement],
    weeks: Mapping[int, int],
    fraction: float,
) -> float | None:
    """The `fraction` percentile of days to close, interpolated linearly between neighbours
    (the definition of percentile_cont). The closures per week of days to close say in which
    week the lower neighbour lies and how many come before it; the two neighbours are then read
    with ORDER BY days LIMIT 2 OFFSET k from that week's start along the days-to-close index
    (migration 0007), a walk through one week's closures instead of all before it."""
    closed = sum(weeks.values())
    if not closed:
        return None
    position = fraction * (closed - 1)
    low = int(position)
    week, before = _week_of(weeks, low)
    days = days_to_close(connection.dialect.name)
    query = (
        select(days)
        .where(*where, COMPLAINTS.c.closed_at.is_not(null()), *_from_week(days, week))
        .order_by(days)
        .limit(2)
        .offset(low - before)
    )
    neighbours = [float(v) for v in connection.execute(query).scalars()]
    if not neighbours:
        return None
    if len(neighbours) == 1:
        return neighbours[0]
    return neighbours[0] + (position - low) * (neighbours[1] - neighbours[0])


def _week_of(weeks: Mapping[int, int], rank: int) -> tuple[int, int]:
    """The week holding the closure of 0-based `rank` in days order, and how many come before
    that week."""
    before = 0
    for week in sorted(weeks):
        if before + weeks[week] > rank:
            return week, before
        before += weeks[week]
    raise ValueError(f"rank {rank} beyond the {before} closures")


def _from_week(days: ColumnElement, week: int) -> list[ColumnElement]:
    """Days to close from the start of `week` on (-1 holds the negative ones, the first)."""
    return [] if week < 0 else [days >= float(week * 7)]


def _in_population(query: Any, key: ColumnElement, where: Sequence[ColumnElement]) -> Any:
    """`query` restricted to the complaints `where` selects, by `key` (a tracking number)."""
    return query.join(COMPLAINTS, COMPLAINTS.c.tracking_number == key).where(*where)


def _reviews(sums: Sums) -> dict[str, Any]:
    counts = sums.notices
    outcomes: dict[str, Counter[str]] = {element: Counter() for element in REVIEW_TASKS}
    for (element, value), number in sums.outcomes.items():
        outcomes[element][value or "unknown"] += number
    return {
        "opinions": counts["opinion"],
        "reviewed": counts["review_opinion"],
        "review_rate": rate(counts["review_opinion"], counts["opinion"]),
        "re_reviewed": counts["re_review_opinion"],
        "re_review_rate": rate(counts["re_review_opinion"], counts["review_opinion"]),
        "review_outcomes": _nonzero(outcomes["review"]),
        "re_review_outcomes": _nonzero(outcomes["re_review"]),
    }


def _nonzero(counts: Counter[str]) -> dict[str, int]:
    return {key: n for key, n in sorted(counts.items()) if n}


def _notice_counts(connection: Connection, where: Sequence[ColumnElement]) -> Counter[str]:
    """Complaints `where` selects with a notice, per review notice kind."""
    n = NOTICES.c
    query = _in_population(
        select(n.kind, func.count(func.distinct(n.tracking_number)))
        .select_from(NOTICES)
        .where(n.kind.in_(REVIEW_NOTICE_KINDS))
        .group_by(n.kind),
        n.tracking_number,
        where,
    )
    return Counter({kind: int(number) for kind, number in connection.execute(query)})


def _outcome_counts(
    connection: Connection, where: Sequence[ColumnElement]
) -> Counter[tuple[str, str | None]]:
    """Completed review tasks of the complaints `where` selects, per (task, outcome)."""
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
    return Counter({(element, value): int(n) for element, value, n in connection.execute(query)})
