"""Every figure of the statistics, on the hand-made data set of tests/test_stats_support.py, on
SQLite and on PostgreSQL: the same answers from GROUPING SETS and from UNION ALL, from
percentile_cont and from ORDER BY ... OFFSET."""

from __future__ import annotations

import random
import statistics as py
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import Connection, func, insert, select, text

from engine import Engine
from handlers.models import Complaint
from handlers.statistics import statistics
from handlers.stats_filters import Filters, cohort_conditions
from handlers.stats_sql import COMPLAINTS, days_to_close
from handlers.times import OUT_OF_CALENDAR
from tests.clock import TravelClock
from tests.conftest import Calls, new_engine
from tests.test_stats_support import NOW, load_dataset


@pytest.fixture(params=["sqlite", "postgresql"])
def connection(request, calls: Calls, clock: TravelClock) -> Iterator[Connection]:
    if request.param == "sqlite":
        url = request.getfixturevalue("sqlite_url")
    else:
        url = request.getfixturevalue("pg_url")
    engine: Engine = new_engine(url, calls, clock)
    load_dataset(engine.sql)
    with engine.sql.connect() as connection:
        yield connection
    engine.close()


def figures(connection: Connection, **filters) -> dict:
    return statistics(connection, Filters(**filters), NOW)


def by_key(rows: list[dict], field: str = "count") -> dict:
    return {row["key"]: row[field] for row in rows}


def test_the_summary_counts_closures_days_timeliness_backlog_repeats_and_satisfaction(
    connection: Connection,
) -> None:
    summary = figures(connection)["summary"]
    assert summary == {
        "received": 10,
        "closed": 4,
        "closed_rate": 0.4,
        "overdue_now": 2,
        "avg_days_to_close": 32.5,
        "p90_days_to_close": 58.0,
        "on_time": 2,
        "with_deadline": 3,
        "on_time_rate": 0.6667,
        "repeats": 3,
        "repeat_rate": 0.3,
        "evaluated": 4,
        "satisfied": 3,
        "satisfaction_rate": 0.75,
    }


def test_counts_and_rates_by_channel_region_category_track_and_status(
    connection: Connection,
) -> None:
    result = figures(connection)
    assert by_key(result["by_channel"]) == {"web": 5, "hotline": 3, "letter": 1, "wechat": 1}
    assert [row["key"] for row in result["by_channel"]] == ["web", "hotline", "letter", "wechat"]
    assert by_key(result["by_channel"], "rate") == {
        "web": 0.5,
        "hotline": 0.3,
        "letter": 0.1,
        "wechat": 0.1,
    }
    assert by_key(result["by_region"]) == {
        "420102": 4,
        "420103": 2,
        "420202": 2,
        "420502": 1,
        None: 1,
    }
    assert by_key(result["by_category"]) == {"air": 5, "water": 2, "noise": 2, "soil": 1}
    assert by_key(result["by_track"]) == {"B": 5, "A": 3, "diversion": 1, None: 1}
    assert by_key(result["by_status"]) == {
        "closed": 3,
        "final": 1,
        "accepted": 1,
        "investigating": 1,
        "in_review": 1,
        "diverted": 1,
        "registered": 1,
        "extended": 1,
    }
    assert by_key(result["satisfaction"]) == {
        None: 6,
        "satisfied": 2,
        "basically_satisfied": 1,
        "dissatisfied": 1,
    }


def test_each_breakdown_row_carries_its_own_closure_timeliness_and_backlog(
    connection: Connection,
) -> None:
    result = figures(connection)
    web = next(row for row in result["by_channel"] if row["key"] == "web")
    # C01 (10 d, on time), C02 (70 d, late); C10 overdue; C10 a repeat.
    assert web == {
        "key": "web",
        "count": 5,
        "rate": 0.5,
        "closed": 2,
        "avg_days_to_close": 40.0,
        "with_deadline": 2,
        "on_time": 1,
        "on_time_rate": 0.5,
        "overdue_now": 1,
        "repeats": 1,
    }
    assert result["by_region"][0] == {"key": "420102", "count": 4, "rate": 0.4}


def test_on_time_rates_per_track_count_closures_by_their_deadline(
    connection: Connection,
) -> None:
    assert figures(connection)["on_time_by_track"] == [
        {"track": "B", "with_deadline": 1, "on_time": 1, "rate": 1.0},
        {"track": "A", "with_deadline": 2, "on_time": 1, "rate": 0.5},
    ]


def test_review_and_re_review_rates_come_from_distinct_opinion_notices_and_outcomes_from_tasks(
    connection: Connection,
) -> None:
    assert figures(connection)["reviews"] == {
        "opinions": 3,
        "reviewed": 2,
        "review_rate": 0.6667,
        "re_reviewed": 1,
        "re_review_rate": 0.5,
        "in_review_now": 1,
        "review_outcomes": {"changed": 1, "upheld": 1},
        "re_review_outcomes": {"upheld": 1},
    }


def test_the_top_respondents_are_grouped_by_their_normal_form(connection: Connection) -> None:
    top = figures(connection)["top_respondents"]
    assert [(row["count"], row["rate"]) for row in top] == [(4, 0.4), (2, 0.2), (1, 0.1)]
    assert top[0]["respondent"] in {"甲化工厂", "甲 化工厂（）"}
    assert [row["respondent"] for row in top[1:]] == ["乙公司", "丙餐厅"]


def test_the_monthly_series_counts_received_and_closed_by_beijing_month(
    connection: Connection,
) -> None:
    assert figures(connection)["monthly"] == [
        {"month": "2026-01", "received": 2, "closed": 1},
        {"month": "2026-02", "received": 4, "closed": 1},
        {"month": "2026-03", "received": 3, "closed": 1},
        {"month": "2026-04", "received": 1, "closed": 1},
    ]


def test_a_date_window_takes_whole_beijing_days_at_both_ends(connection: Connection) -> None:
    february = figures(connection, date_from=date(2026, 2, 1), date_to=date(2026, 2, 28))
    assert february["summary"]["received"] == 4  # C03 arrived on 1 February, Beijing time
    assert by_key(february["by_status"]) == {
        "final": 1,
        "accepted": 1,
        "investigating": 1,
        "in_review": 1,
    }
    assert february["summary"]["avg_days_to_close"] == 20.0
    assert february["summary"]["p90_days_to_close"] == 20.0
    january = figures(connection, date_to=date(2026, 1, 31))
    assert january["summary"]["received"] == 2
    assert january["monthly"] == [{"month": "2026-01", "received": 2, "closed": 1}, {
        "month": "2026-02", "received": 0, "closed": 0}, {
        "month": "2026-03", "received": 0, "closed": 1}]  # fmt: skip


def test_region_prefix_category_and_channel_filters_narrow_every_figure(
    connection: Connection,
) -> None:
    wuhan = figures(connection, region_prefix="4201")
    assert wuhan["summary"]["received"] == 6
    assert set(by_key(wuhan["by_region"])) == {"420102", "420103"}
    assert wuhan["reviews"]["opinions"] == 2  # C03 and C06; C07 is in Yichang

    exact = figures(connection, region_prefix="420202", category="noise")
    assert exact["summary"]["received"] == 2
    assert exact["summary"]["overdue_now"] == 1
    assert exact["reviews"]["review_rate"] is None  # no written opinion to review

    hotline = figures(connection, channel="hotline")
    assert hotline["summary"]["received"] == 3
    assert by_key(hotline["by_category"]) == {"air": 1, "water": 1, "noise": 1}

    air_web = figures(connection, category="air", channel="web")
    assert air_web["summary"]["received"] == 4
    assert air_web["reviews"]["review_outcomes"] == {"changed": 1}

    nothing = figures(connection, region_prefix="429", channel="visit")
    assert nothing["summary"]["received"] == 0
    assert nothing["summary"]["closed_rate"] is None
    assert nothing["summary"]["p90_days_to_close"] is None
    assert nothing["monthly"] == [] and nothing["by_channel"] == []


def test_bad_filters_are_named() -> None:
    assert Filters(date_from=date(2026, 3, 1), date_to=date(2026, 2, 1)).validate() == {
        "to": "must not be before 'from'"
    }
    assert set(Filters(region_prefix="42a").validate()) == {"region"}
    assert set(Filters(region_prefix="4").validate()) == {"region"}
    assert Filters(region_prefix="420102").validate() == {}


def test_days_outside_the_calendar_are_named() -> None:
    assert Filters(date_from=date(1, 1, 1)).validate() == {"from": OUT_OF_CALENDAR}
    assert Filters(date_to=date(9999, 12, 31)).validate() == {"to": OUT_OF_CALENDAR}
    # the range problem is the one to tell, not the order it leaves
    assert Filters(date(2026, 3, 1), date(1, 1, 1)).validate() == {"to": OUT_OF_CALENDAR}
    assert Filters(date(1900, 1, 1), date(9998, 12, 31)).validate() == {}


def test_the_calendar_edges_select_every_complaint(connection: Connection) -> None:
    edges = figures(connection, date_from=date(1900, 1, 1), date_to=date(9998, 12, 31))
    assert edges["summary"] == figures(connection)["summary"]
    assert edges["monthly"] == figures(connection)["monthly"]


@pytest.mark.parametrize(
    "filters",
    [Filters(), Filters(region_prefix="4201"), Filters(category="air", channel="web")],
    ids=["all", "region", "category and channel"],
)
def test_the_90th_percentile_interpolates_like_percentile_cont(
    request, filters: Filters, calls: Calls, clock: TravelClock
) -> None:
    """Hundreds of closures with ties and fractions: the two neighbours read along the index
    give what PostgreSQL's percentile_cont (and Python's inclusive quantiles) give."""
    rng = random.Random(5)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    rows = []
    for i in range(401):
        created = start + timedelta(hours=rng.randrange(2000))
        days = rng.choice([3, 3, 7.5, 10]) if i % 7 == 0 else rng.uniform(0.5, 90)
        rows.append(
            {
                "tracking_number": f"P{i:04d}",
                "channel": rng.choice(["web", "hotline"]),
                "category": rng.choice(["air", "water"]),
                "description": "-",
                "region_code": rng.choice(["420102", "420502"]),
                "status": "closed",
                "created_at": created,
                "updated_at": created,
                "closed_at": None if i % 5 == 0 else created + timedelta(days=days),
            }
        )
    for backend in ("sqlite_url", "pg_url"):
        try:
            url = request.getfixturevalue(backend)
        except pytest.skip.Exception:
            continue
        engine = new_engine(url, calls, clock)
        with engine.sql.begin() as connection:
            connection.execute(insert(Complaint.__table__), rows)
        with engine.sql.connect() as connection:
            ours = statistics(connection, filters, NOW)["summary"]["p90_days_to_close"]
            where = [*cohort_conditions(filters), COMPLAINTS.c.closed_at.is_not(None)]
            days = [
                float(d)
                for d in connection.execute(
                    select(days_to_close(connection.dialect.name)).where(*where)
                ).scalars()
            ]
            assert ours == round(py.quantiles(days, n=10, method="inclusive")[8], 2), backend
            if connection.dialect.name == "postgresql":
                expected = connection.execute(
                    select(
                        func.percentile_cont(0.9).within_group(days_to_close("postgresql"))
                    ).where(*where)
                ).scalar()
                assert ours == round(expected, 2)
        engine.close()


def test_the_upgrade_creates_the_statistics_indexes(connection: Connection) -> None:
    assert {
        "ix_complaints_stats_created",
        "ix_complaints_stats_closed",
        "ix_complaints_stats_days_to_close",
    } <= index_names(connection, "complaints")
    assert "ix_notices_kind_tracking_number" in index_names(connection, "notices")
    assert "ix_audit_events_element_event" in index_names(connection, "audit_events")


def index_names(connection: Connection, table: str) -> set[str]:
    """Names from the catalogue itself: the inspector skips expression indexes on SQLite."""
    if connection.dialect.name == "sqlite":
        query = "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = :table"
    else:
        query = "SELECT indexname FROM pg_indexes WHERE tablename = :table"
    return set(connection.execute(text(query), {"table": table}).scalars())
