"""The statistics' aggregate (`stats_cells`, `stats_respondents`, kept by the triggers of
migration 0011) against the complaints it sums. Complaints are written the way the processes
write them (register_complaint, update_complaint, notify_complainant, discard_intake, the
engine's audit rows of completed reviews), in rounds: registration, routing and closure,
reviews and status changes, deletion. After each round every additive figure read from the
aggregate must equal the same figure grouped from the complaint rows, for windows that cut
months, regions down to a county, categories and channels; the ranking of respondents and the
90th percentile must equal a computation in Python. On SQLite and on PostgreSQL."""

from __future__ import annotations

import importlib.util
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from alembic.migration import MigrationContext
from alembic.operations import Operations
from sqlalchemy import Connection, delete, insert, select, text, update
from sqlalchemy import Engine as SqlEngine
from sqlalchemy.orm import Session

from engine.db import MIGRATIONS, connect, upgrade
from engine.models import AuditEvent
from handlers.complaints import register_complaint, update_complaint
from handlers.intake import discard_intake
from handlers.models import Complaint, StatsCell, StatsRespondent
from handlers.notices import notify_complainant
from handlers.statistics import Sums, additive_figures, statistics, sums_from_rows
from handlers.stats_filters import Filters, cohort_conditions
from handlers.stats_sql import COMPLAINTS, days_to_close
from handlers.times import iso
from tests.test_handlers import NOTICE_VALUES, Ctx, complaint_params

NOW = datetime(2026, 6, 20, 3, 0, tzinfo=UTC)
FIRST = datetime(2026, 1, 1, 0, 0, tzinfo=UTC)
COUNT = 80
REGIONS = ["420102", "420103", "420106", "420202", "420502", None]
CHANNELS = ["web", "hotline", "wechat", "letter"]
CATEGORIES = ["air", "water", "noise"]
RESPONDENTS = ["甲化工厂", "甲 化工厂（）", "乙公司", "丙餐厅", "丁厂", None]
OUTCOMES = ["upheld", "changed", None]

FILTERS = [
    Filters(),
    Filters(date(2026, 2, 1), date(2026, 4, 30)),
    Filters(date(2026, 1, 15), date(2026, 3, 10)),
    Filters(date_from=date(2026, 3, 5)),
    Filters(date_to=date(2026, 2, 20)),
    Filters(date(2026, 2, 10), date(2026, 2, 12)),
    Filters(region_prefix="42"),
    Filters(region_prefix="4201"),
    Filters(region_prefix="420"),
    Filters(region_prefix="42010"),
    Filters(region_prefix="420102"),
    Filters(category="air", channel="web"),
    Filters(date(2026, 2, 1), date(2026, 3, 31), region_prefix="4201", category="water"),
    Filters(date(2026, 1, 20), date(2026, 5, 3), region_prefix="4202", channel="hotline"),
]


@pytest.fixture(params=["sqlite", "postgresql"])
def sql(request: pytest.FixtureRequest) -> Iterator[SqlEngine]:
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    engine = connect(url)
    upgrade(engine)
    yield engine
    engine.dispose()


def number(i: int) -> str:
    return f"HB-2026-{i:06d}"


def context(session: Session, i: int, step: str, at: datetime) -> Ctx:
    return Ctx(session, idempotency_key=f"{i}:{step}", business_key=number(i), now=at)


def register_all(sql: SqlEngine, rng: random.Random) -> dict[int, datetime]:
    """COUNT complaints over five months, some at a Beijing month's first hours (still the
    month before in UTC); returns when each was received."""
    received = {}
    with Session(sql) as session:
        for i in range(COUNT):
            at = FIRST + timedelta(hours=rng.randrange(24 * 150))
            region = rng.choice(REGIONS)
            location = {"address": "沿江大道 100 号", **({"region_code": region} if region else {})}
            params = complaint_params(
                channel=rng.choice(CHANNELS),
                category=rng.choice(CATEGORIES),
                location=location,
                respondent=rng.choice(RESPONDENTS),
            )
            register_complaint(params, context(session, i, "register", at))
            received[i] = at
        session.commit()
    return received


def route_and_close(sql: SqlEngine, rng: random.Random, received: dict[int, datetime]) -> None:
    """Tracks, acceptance with a deadline, closure for most (some late, some before their
    deadline, a few not yet due), satisfaction, repeats and written opinions."""
    with Session(sql) as session:
        for i, at in received.items():
            ctx = context(session, i, "route", at + timedelta(hours=2))
            track = rng.choice(["A", "B", "B", "diversion", None])
            changes: dict[str, Any] = {"track": track, "status": "routed"}
            if track in ("A", "B"):
                accepted = at + timedelta(days=rng.uniform(0.5, 5))
                deadline = accepted + timedelta(days=60)
                changes |= {"status": "accepted", "accepted_at": iso(accepted)}
                changes["deadline_at"] = iso(deadline)
            if i and rng.random() < 0.2:
                changes["repeat_of"] = number(rng.randrange(i))
            update_complaint(changes, ctx)
            closed = at + timedelta(days=rng.uniform(0.2, 90))
            if closed < NOW and rng.random() < 0.7:
                closing = {"status": rng.choice(["closed", "final"]), "closed_at": iso(closed)}
                if rng.random() < 0.6:
                    closing["satisfaction"] = rng.choice(["satisfied", "dissatisfied"])
                update_complaint(closing, replace(ctx, idempotency_key=f"{i}:close"))
                if track == "B":
                    notice(ctx, i, "opinion")
            elif track in ("A", "B") and rng.random() < 0.5:
                update_complaint({"status": "investigating"}, ctx)
        session.commit()


def notice(ctx: Ctx, i: int, kind: str, step: str = "") -> None:
    values = {"kind": kind, **NOTICE_VALUES[kind]}
    notify_complainant(values, replace(ctx, idempotency_key=f"{i}:{kind}{step}"))


def review_and_change(sql: SqlEngine, rng: random.Random) -> None:
    """Review and re-review opinions (a second review opinion for some), completed review tasks
    with outcomes (one without), statuses moving on, closures corrected or undone, and a
    category and receipt time changed by hand."""
    with Session(sql) as session:
        opinions = session.scalars(
            text("SELECT DISTINCT tracking_number FROM notices WHERE kind = 'opinion'")
        ).all()
        for tracking_number in sorted(opinions):
            i = int(tracking_number.rsplit("-", 1)[1])
            ctx = context(session, i, "review", NOW - timedelta(days=5))
            if rng.random() < 0.6:
                notice(ctx, i, "review_opinion")
                if rng.random() < 0.3:
                    notice(ctx, i, "review_opinion", step=":again")
                audit(session, tracking_number, "review", "review_outcome", rng.choice(OUTCOMES))
                if rng.random() < 0.5:
                    notice(ctx, i, "re_review_opinion")
                    outcome = rng.choice(OUTCOMES)
                    audit(session, tracking_number, "re_review", "re_review_outcome", outcome)
        for row in session.scalars(select(Complaint).order_by(Complaint.id)).all():
            i = int(row.tracking_number.rsplit("-", 1)[1])
            ctx = context(session, i, "change", NOW - timedelta(days=1))
            draw = rng.random()
            if draw < 0.15:
                update_complaint({"status": "in_review"}, ctx)
            elif draw < 0.25 and row.closed_at is not None:
                later = row.closed_at + timedelta(days=rng.uniform(1, 20))
                update_complaint({"closed_at": iso(later), "satisfaction": None}, ctx)
            elif draw < 0.3 and row.closed_at is not None:
                update_complaint({"closed_at": None, "status": "extended"}, ctx)
        session.execute(
            update(Complaint)
            .where(Complaint.tracking_number.in_([number(3), number(4)]))
            .values(category="soil", created_at=datetime(2026, 2, 28, 18, 30, tzinfo=UTC))
        )
        session.commit()


def audit(session: Session, key: str, element: str, field: str, outcome: str | None) -> None:
    data = {field: outcome} if outcome else {"note": "outcome not recorded"}
    session.execute(
        insert(AuditEvent).values(
            at=NOW - timedelta(days=4),
            actor="wang.review",
            event="task_completed",
            business_key=key,
            element_id=element,
            data_after=data,
        )
    )


def discard_some(sql: SqlEngine) -> None:
    with Session(sql) as session:
        for i in (5, 6, 7):
            discard_intake(session, number(i))
        session.commit()


def comparable(sums: Sums) -> dict[str, Any]:
    """The figures without empty entries, sums of days to six places (added in another
    order)."""
    cells = {
        key: {**numbers, "days_sum": round(numbers["days_sum"], 6)}
        for key, numbers in sums.cells.items()
        if numbers["count"] or key == ("total", None)
    }
    counters = ("regions", "received", "closed", "weeks", "notices", "outcomes")
    return {
        "cells": cells,
        **{name: {k: n for k, n in getattr(sums, name).items() if n} for name in counters},
    }


def expected_ranking(connection: Connection, filters: Filters) -> list[int]:
    c = COMPLAINTS.c
    keys = connection.execute(select(c.respondent_key).where(*cohort_conditions(filters)))
    counts = Counter(key for key in keys.scalars() if key)
    return sorted(counts.values(), reverse=True)[:20]


def expected_p90(connection: Connection, filters: Filters) -> float | None:
    where = [*cohort_conditions(filters), COMPLAINTS.c.closed_at.is_not(None)]
    query = select(days_to_close(connection.dialect.name)).where(*where)
    days = sorted(float(d) for d in connection.execute(query).scalars())
    if not days:
        return None
    position = 0.9 * (len(days) - 1)
    low = int(position)
    high = min(low + 1, len(days) - 1)
    return round(days[low] + (position - low) * (days[high] - days[low]), 2)


def assert_aggregate_matches_rows(sql: SqlEngine) -> Sums:
    """Compares every filter set; returns the unfiltered sums, to see what the data holds."""
    with sql.connect() as connection:
        for filters in FILTERS:
            from_aggregate = additive_figures(connection, filters, NOW)
            from_rows = sums_from_rows(connection, cohort_conditions(filters), NOW)
            assert comparable(from_aggregate) == comparable(from_rows), filters
            figures = statistics(connection, filters, NOW)
            counts = [row["count"] for row in figures["top_respondents"]]
            assert counts == expected_ranking(connection, filters), filters
            assert figures["summary"]["p90_days_to_close"] == expected_p90(connection, filters)
        return sums_from_rows(connection, [], NOW)


def test_the_aggregate_equals_the_complaints_after_every_round_of_changes(
    sql: SqlEngine,
) -> None:
    rng = random.Random(11)
    received = register_all(sql, rng)
    assert_aggregate_matches_rows(sql)
    route_and_close(sql, rng, received)
    assert_aggregate_matches_rows(sql)
    review_and_change(sql, rng)
    changed = assert_aggregate_matches_rows(sql)
    discard_some(sql)
    assert_aggregate_matches_rows(sql)
    # The rounds gave every kind of figure something to count.
    total = changed.cells[("total", None)]
    assert all(total[name] for name in ("repeats", "closed", "with_deadline", "on_time"))
    assert total["overdue_now"] and changed.cells[("status", "in_review")]["count"]
    assert set(changed.notices) == {"opinion", "review_opinion", "re_review_opinion"}
    assert {value for _, value in changed.outcomes} == {"upheld", "changed", None}
    assert len(changed.received) == 5 and changed.regions[None]


def test_the_migration_backfills_the_rows_the_triggers_keep(sql: SqlEngine) -> None:
    rng = random.Random(12)
    received = register_all(sql, rng)
    route_and_close(sql, rng, received)
    review_and_change(sql, rng)
    kept = aggregate_rows(sql)
    with sql.begin() as connection:
        connection.execute(delete(StatsCell))
        connection.execute(delete(StatsRespondent))
        with Operations.context(MigrationContext.configure(connection)):
            migration().backfill(connection.dialect.name)
    assert aggregate_rows(sql) == kept


def aggregate_rows(sql: SqlEngine) -> tuple[set[tuple], set[tuple]]:
    """The rows of both tables that count anything, days summed to six places."""
    with sql.connect() as connection:
        cells = {
            (*row[:-1], round(row[-1], 6))
            for row in connection.execute(
                select(StatsCell.__table__).where(StatsCell.received != 0)
            )
        }
        respondents = {
            tuple(row)
            for row in connection.execute(
                select(StatsRespondent.__table__).where(StatsRespondent.received != 0)
            )
        }
    return cells, respondents


def migration() -> Any:
    path = MIGRATIONS / "versions" / "0011_stats_daily.py"
    spec = importlib.util.spec_from_file_location("stats_daily_migration", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
