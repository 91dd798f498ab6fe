"""How fast `GET /api/stats` answers on a large read model.

    python -m bench.stats [--db sqlite|postgresql|both] [--pg-rows 1000000]
                          [--sqlite-rows 100000] [--requests 50] [--explain]

Generates complaints (two years up to November 2026; realistic mixes of channel, pollutant,
region, status and track; 70% closed after 1-120 days; 8% repeats; a long tail of respondents)
with their notices (a receipt each, written opinions for Track B, review and re-review opinions)
and audit rows (a `task_ready` row per complaint as ballast, completed reviews with outcomes),
into a private database: PostgreSQL `bench_stats_<random>` on
`postgresql+psycopg://postgres@127.0.0.1:5432` (or `$COMPLAINTS_BENCH_PG`), created and dropped,
filled with COPY with the statistics triggers off, then the aggregate filled by migration 0011's
backfill, as an upgrade fills it for existing rows; SQLite in a temp file, filled with
executemany in batches, the triggers keeping the aggregate. Then it sends
`--requests` requests per query through the Flask test client, as a petition_office user with
a bearer token, after a warm-up, and prints p50/p95/max per query and the goal (PostgreSQL
p95 under 500 ms). `--explain` prints PostgreSQL's plans of the statistics queries.

A benchmark, never a test: nothing here asserts timings.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import random
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

from alembic.migration import MigrationContext
from alembic.operations import Operations
from argon2 import PasswordHasher
from sqlalchemy import create_engine, event, text

from api import create_app
from api.composition import compile_form, handler_table
from api.settings import Settings
from api.users import Accounts
from engine import Engine
from engine.db import MIGRATIONS
from handlers.regions import COUNTIES
from handlers.statistics import statistics
from handlers.stats_filters import Filters

PG_SERVER = os.environ.get("COMPLAINTS_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
END = datetime(2026, 11, 26, tzinfo=UTC)
SPAN_DAYS = 730
NOW = END
GOAL_MS = 500
QUERIES = {
    "all (no filter)": "/api/stats",
    "one year": "/api/stats?from=2025-12-01&to=2026-11-30",
    "one city, air": "/api/stats?region=4201&category=air",
    "one month, hotline": "/api/stats?from=2026-10-01&to=2026-10-31&channel=hotline",
}

CHANNELS = [("hotline", 45), ("web", 25), ("wechat", 15), ("letter", 5), ("visit", 4),
            ("email", 2), ("mailbox", 2), ("weibo", 1), ("platform", 1)]  # fmt: skip
CATEGORIES = [("air", 35), ("noise", 25), ("water", 15), ("solid_waste", 10), ("ecology", 5),
              ("soil", 4), ("radiation", 2), ("other", 4)]  # fmt: skip
TRACKS = [("A", 50), ("B", 25), ("C", 5), ("D", 2), ("diversion", 10), ("transfer", 8)]
OPEN_STATUSES = [("registered", 10), ("accepted", 30), ("investigating", 40), ("extended", 5),
                 ("replied", 10), ("in_review", 5)]  # fmt: skip
CLOSED_STATUSES = [("closed", 80), ("final", 15), ("merged", 5)]
SATISFACTION = [("satisfied", 70), ("basically_satisfied", 20), ("dissatisfied", 10)]
OUTCOMES = [("upheld", 70), ("changed", 15), ("revoked", 5), ("sent_back", 10)]
REGIONS = sorted(COUNTIES)
# Rows as wide as real ones: a title and a description of a few sentences.
TITLE = "某化工厂夜间排放刺鼻气体"
DESCRIPTION = "投诉人反映，某化工厂每天夜间十点以后排放刺鼻气体，附近居民无法开窗，" * 4

COMPLAINT_COLUMNS = (
    "tracking_number", "channel", "category", "title", "description", "region_code",
    "respondent", "respondent_key", "urgent", "addressed_to_leader", "written_reply",
    "reward_interest", "status", "track", "accepted_at", "deadline_at", "closed_at",
    "repeat_of", "satisfaction", "created_at", "updated_at",
)  # fmt: skip
NOTICE_COLUMNS = ("tracking_number", "kind", "recipient", "recipient_channel", "text", "status",
                  "idempotency_key", "created_at")  # fmt: skip
AUDIT_COLUMNS = ("at", "actor", "event", "business_key", "element_id", "data_after")


def weighted(pairs: list[tuple[str, int]]) -> tuple[list[str], list[int]]:
    return [p[0] for p in pairs], [p[1] for p in pairs]


def generate(n: int, seed: int = 7) -> Iterator[tuple[tuple, list[tuple[str, tuple]]]]:
    """(complaint row, [(table, row), ...]) for `n` complaints; the same rows for a seed."""
    rng = random.Random(seed)
    choices = {
        name: weighted(pairs)
        for name, pairs in (
            ("channel", CHANNELS),
            ("category", CATEGORIES),
            ("track", TRACKS),
            ("open", OPEN_STATUSES),
            ("closed", CLOSED_STATUSES),
            ("satisfaction", SATISFACTION),
            ("outcome", OUTCOMES),
        )
    }

    def pick(name: str) -> str:
        values, weights = choices[name]
        return rng.choices(values, weights)[0]

    respondents = max(n // 20, 10)
    for i in range(n):
        number = f"HB{i:09d}"
        created = END - timedelta(seconds=rng.randrange(SPAN_DAYS * 86400))
        track = pick("track")
        closed_at = None
        if rng.random() < 0.7:
            closed_at = created + timedelta(days=rng.lognormvariate(3.0, 0.7))
            if closed_at >= END:
                closed_at = None
        status = pick("closed") if closed_at else pick("open")
        accepted = created + timedelta(days=rng.uniform(0.5, 10)) if track in ("A", "B") else None
        deadline = accepted + timedelta(days=60) if accepted else None
        respondent_index = int(respondents * rng.random() ** 3)  # the first 1% get ~20%
        respondent = f"第{respondent_index}号化工有限公司" if rng.random() < 0.8 else None
        repeat = f"HB{rng.randrange(max(i, 1)):09d}" if i and rng.random() < 0.08 else None
        satisfaction = pick("satisfaction") if closed_at and rng.random() < 0.6 else None
        row = (
            number, pick("channel"), pick("category"), TITLE, DESCRIPTION,
            rng.choice(REGIONS), respondent, respondent and f"第{respondent_index}号化工有限公司",
            False, False, False, False, status, track, accepted, deadline, closed_at, repeat,
            satisfaction, created, closed_at or created,
        )  # fmt: skip
        extra = [notice(number, "receipt", created), audit(created, "task_ready", number, "triage")]
        if track == "B" and closed_at:
            extra.append(notice(number, "opinion", closed_at))
            if rng.random() < 0.15:
                extra.append(notice(number, "review_opinion", closed_at))
                outcome = {"review_outcome": pick("outcome")}
                extra.append(audit(closed_at, "task_completed", number, "review", outcome))
                if rng.random() < 0.3:
                    extra.append(notice(number, "re_review_opinion", closed_at))
                    outcome = {"re_review_outcome": pick("outcome")}
                    extra.append(audit(closed_at, "task_completed", number, "re_review", outcome))
        yield row, extra


def notice(number: str, kind: str, at: datetime) -> tuple[str, tuple]:
    return ("notices", (number, kind, "complainant", "sms", "t", "sent", f"{number}:{kind}", at))


def audit(at: datetime, event: str, number: str, element: str, data: Any = None) -> tuple:
    return ("audit", (at, "bench", event, number, element, data))


# ---------------------------------------------------------------- loading


def load_postgresql(url: str, n: int) -> float:
    import json

    started = time.perf_counter()
    sql = create_engine(url)
    raw = sql.raw_connection()
    try:
        cursor = raw.cursor()
        # Row triggers off for the load: the backfill below fills the aggregate in one pass.
        cursor.execute("SET session_replication_role = replica")
        columns = {
            "complaints": COMPLAINT_COLUMNS,
            "notices": NOTICE_COLUMNS,
            "audit": AUDIT_COLUMNS,
        }
        buffers: dict[str, list[tuple]] = {"complaints": [], "notices": [], "audit": []}

        def flush() -> None:
            for name, rows in buffers.items():
                if not rows:
                    continue
                table = "audit_events" if name == "audit" else name
                with cursor.copy(f"COPY {table} ({', '.join(columns[name])}) FROM STDIN") as copy:
                    for row in rows:
                        if name == "audit" and row[-1] is not None:
                            row = (*row[:-1], json.dumps(row[-1]))
                        copy.write_row(row)
                rows.clear()

        for row, extra in generate(n):
            buffers["complaints"].append(row)
            for table, values in extra:
                buffers[table].append(values)
            if len(buffers["complaints"]) >= 50_000:
                flush()
        flush()
        raw.commit()
    finally:
        raw.close()
    with sql.begin() as connection, Operations.context(MigrationContext.configure(connection)):
        stats_migration().backfill("postgresql")
    with sql.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE"))
    sql.dispose()
    return time.perf_counter() - started


def stats_migration() -> Any:
    """Migration 0011, whose backfill fills the statistics aggregate for existing rows."""
    path = MIGRATIONS / "versions" / "0011_stats_daily.py"
    spec = importlib.util.spec_from_file_location("stats_daily_migration", path)
    if spec is None or spec.loader is None:
        raise ImportError(path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_sqlite(url: str, n: int) -> float:
    import json

    started = time.perf_counter()
    sql = create_engine(url)
    raw = sql.raw_connection()

    def stamp(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.astimezone(UTC).replace(tzinfo=None).strftime("%Y-%m-%d %H:%M:%S.%f")
        return value

    statements = {
        "complaints": (
            f"INSERT INTO complaints ({', '.join(COMPLAINT_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(COMPLAINT_COLUMNS))})"
        ),
        "notices": (
            f"INSERT INTO notices ({', '.join(NOTICE_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(NOTICE_COLUMNS))})"
        ),
        "audit": (
            f"INSERT INTO audit_events ({', '.join(AUDIT_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(AUDIT_COLUMNS))})"
        ),
    }
    buffers: dict[str, list[tuple]] = {name: [] for name in statements}
    try:
        cursor = raw.cursor()

        def flush() -> None:
            for name, rows in buffers.items():
                converted = [
                    tuple(json.dumps(v) if isinstance(v, dict) else stamp(v) for v in row)
                    for row in rows
                ]
                cursor.executemany(statements[name], converted)
                rows.clear()

        for row, extra in generate(n):
            buffers["complaints"].append(row)
            for table, values in extra:
                buffers[table].append(values)
            if len(buffers["complaints"]) >= 10_000:
                flush()
        flush()
        raw.commit()
        cursor.execute("ANALYZE")
        raw.commit()
    finally:
        raw.close()
    sql.dispose()
    return time.perf_counter() - started


# ---------------------------------------------------------------- measuring


class FixedClock:
    def now(self) -> datetime:
        return NOW


def stats_client(url: str):
    engine = Engine(url, handlers=handler_table(), compile_form=compile_form, clock=FixedClock())
    app = create_app(Settings.from_env({"COMPLAINTS_DATABASE_URL": url}), engine=engine)
    accounts = Accounts(
        engine.sql,
        now=engine.clock.now,
        hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
    )
    app.extensions["complaints.accounts"] = accounts
    accounts.add_user("bench.office", ["petition_office"], password="a long bench password")
    client = app.test_client()
    token = client.post(
        "/api/auth/token",
        json={"username": "bench.office", "password": "a long bench password"},
    ).get_json()["token"]
    return engine, client, {"Authorization": f"Bearer {token}"}


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    position = fraction * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (position - low) * (ordered[high] - ordered[low])


def measure(client, headers: dict[str, str], path: str, requests: int) -> list[float]:
    for _ in range(3):  # warm-up: caches, plans, pool
        answer = client.get(path, headers=headers)
        assert answer.status_code == 200, answer.get_data(as_text=True)
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        answer = client.get(path, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        assert answer.status_code == 200
    return times


def statement_times(engine: Engine, filters: Filters) -> list[tuple[float, str]]:
    """Each SQL statement of one statistics call with the time until the next one began (its
    execution, fetching its rows and the Python work on them), to see where time goes."""
    started: list[tuple[float, str]] = []

    def before(_conn, _cursor, statement, *_: Any) -> None:
        started.append((time.perf_counter(), " ".join(statement.split())))

    event.listen(engine.sql, "before_cursor_execute", before)
    try:
        with engine.sql.connect() as connection:
            statistics(connection, filters, NOW)
        ended = time.perf_counter()
    finally:
        event.remove(engine.sql, "before_cursor_execute", before)
    ends = [at for at, _ in started[1:]] + [ended]
    return [
        ((end - at) * 1000, statement) for (at, statement), end in zip(started, ends, strict=True)
    ]


def explain(engine: Engine) -> None:
    captured: list[tuple[str, Any]] = []

    def grab(_conn, _cursor, statement, parameters, *_: Any) -> None:
        captured.append((statement, parameters))

    event.listen(engine.sql, "before_cursor_execute", grab)
    with engine.sql.connect() as connection:
        statistics(connection, Filters(), NOW)
    event.remove(engine.sql, "before_cursor_execute", grab)
    raw = engine.sql.raw_connection()
    try:
        cursor = raw.cursor()
        for statement, parameters in captured:
            cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters)
            print("\n".join(row[0] for row in cursor.fetchall()))
            print("-" * 80)
    finally:
        raw.close()


def report(kind: str, rows: int, load_s: float, results: dict[str, list[float]]) -> None:
    load = ", ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"\n{kind}: {rows:,} complaints (loaded in {load_s:.0f} s; load average {load})")
    print(f"{'query':<26}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}")
    for name, times in results.items():
        p95 = percentile(times, 0.95)
        mark = " !" if kind == "postgresql" and p95 > GOAL_MS else ""
        print(f"{name:<26}{percentile(times, 0.5):>9.1f}{p95:>9.1f}{max(times):>9.1f}{mark}")


@contextmanager
def postgresql_database() -> Iterator[str]:
    name = f"bench_stats_{uuid.uuid4().hex[:10]}"
    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def sqlite_database() -> Iterator[str]:
    with tempfile.TemporaryDirectory() as directory:
        yield f"sqlite:///{directory}/bench_stats.db"


def run(kind: str, rows: int, requests: int, want_explain: bool) -> None:
    database = postgresql_database() if kind == "postgresql" else sqlite_database()
    with database as url:
        engine = Engine(url)
        engine.create_schema()
        engine.close()
        loader = load_postgresql if kind == "postgresql" else load_sqlite
        load_s = loader(url, rows)
        engine, client, headers = stats_client(url)
        try:
            results = {
                name: measure(client, headers, path, requests) for name, path in QUERIES.items()
            }
            report(kind, rows, load_s, results)
            print("statements of one unfiltered call:")
            for ms, statement in statement_times(engine, Filters()):
                print(f"  {ms:8.1f} ms  {statement[:110]}")
            if want_explain and kind == "postgresql":
                explain(engine)
        finally:
            engine.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--pg-rows", type=int, default=1_000_000)
    parser.add_argument("--sqlite-rows", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args(argv)
    print(f"{platform.node()}: {os.cpu_count()} CPUs, Python {platform.python_version()}")
    if args.db in ("sqlite", "both"):
        run("sqlite", args.sqlite_rows, args.requests, args.explain)
    if args.db in ("postgresql", "both"):
        run("postgresql", args.pg_rows, args.requests, args.explain)
    print(f"\ngoal: p95 under {GOAL_MS} ms on PostgreSQL with 1,000,000 complaints")


if __name__ == "__main__":
    main()
