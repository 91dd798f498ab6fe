"""How fast the staff task list answers with a realistic backlog: 100,000 open tasks by default,
twice as many closed ones, 1,000,000 audit rows.

    python -m bench.tasklist [--db sqlite|postgresql|both] [--tasks 100000] [--audit 1000000]

The rows are written directly with bulk inserts (COPY on PostgreSQL, batched executemany on
SQLite), never through the engine, but shaped as the engine writes them: one running complaint
instance per open task with two completed tasks before it, candidate groups as the processes
give them (60% of open tasks at the 20 local bureaus `bureau:<code>`, the rest at the petition
office, enforcement, heads, leaders, reviewers), attributes copied from complaint data by the
configured `Settings.task_attributes` (title, channel, category, region, respondent), due dates
spread from a month overdue to two months ahead (one in ten without), a third of open tasks
claimed. The schema is the migrations' own, its triggers fill the search tables as they would.
After loading, PostgreSQL is VACUUMed and ANALYZEd, as autovacuum would soon do: the planner
needs the statistics, and index-only scans (the counts) need the visibility map VACUUM sets;
without it they read every heap page again, which a bulk load alone leaves, not a deployment.
SQLite is left without statistics, as a deployment has it.

Then 200 requests of each kind go through the Flask test client with a bearer token, as a user
of the petition office (about 12% of open tasks) and one of a local bureau (about 3%), plus an
administrator who sees everything:

- list:   GET /api/tasks?limit=50 (my groups' open tasks by due date, first page);
- +total: the same with `total=true` (the page and its count);
- region: list filtered by a region code (a different one each request);
- q:      list with free text (a tracking-number fragment, a respondent or title word);
- count:  `limit=1&total=true` with one filter each (region, channel, category, overdue, element,
          due_before, q), the "counts per filter" of a filter bar.

p50 and p95 in milliseconds per kind and user, on SQLite (a file in a temp dir) and on
PostgreSQL (a private `bench_<random>` database on `$COMPLAINTS_BENCH_PG` or
postgresql+psycopg://postgres@127.0.0.1:5432, dropped afterwards). Goal: p95 under 50 ms.
A benchmark, never a test: nothing here asserts timings.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from argon2 import PasswordHasher
from flask.testing import FlaskClient
from sqlalchemy import Table, create_engine, text

from api import create_app
from api.composition import build_engine, bundle_files
from api.settings import Settings
from api.users import Accounts
from engine import Actor, Engine
from engine.models import (
    AuditEvent,
    HumanTask,
    HumanTaskAttribute,
    HumanTaskGroup,
    Instance,
)

ROOT = Path(__file__).resolve().parents[1]
PG_SERVER = os.environ.get("COMPLAINTS_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
NOW = datetime(2026, 6, 1, 2, 0, tzinfo=UTC)
REQUESTS = 200
WARMUP = 20
PASSWORD = "bench password, not a secret"
CHUNK = 5_000  # instances per bulk-insert round

REGIONS = [
    "420102", "420103", "420104", "420105", "420106", "420107", "420111", "420112", "420113",
    "420114", "420115", "420116", "420117", "420202", "420203", "420204", "420205", "420222",
    "420281", "420302",
]  # fmt: skip
CHANNELS = [("web", 30), ("hotline", 35), ("letter", 5), ("visit", 5), ("email", 3),
            ("wechat", 12), ("weibo", 2), ("mailbox", 3), ("platform", 5)]  # fmt: skip
CATEGORIES = [("air", 25), ("water", 20), ("noise", 30), ("soil", 3), ("solid_waste", 10),
              ("radiation", 2), ("ecology", 5), ("other", 5)]  # fmt: skip
PLACES = ["沿江大道", "解放大道", "中山大道", "建设大道", "武珞路", "珞喻路", "雄楚大道",
          "光谷大道", "汉阳大道", "青山港", "东湖", "南湖", "后官湖", "府河", "墨水湖"]  # fmt: skip
PROBLEMS = {
    "air": ["烟囱冒黑烟", "夜间焚烧垃圾", "餐饮油烟扰民", "工地扬尘严重", "异味刺鼻"],
    "water": ["河道夜间排污", "污水直排入湖", "雨水管排黄水", "养殖废水外溢"],
    "noise": ["夜间施工噪音", "广场舞噪音", "酒吧音响扰民", "工厂机器轰鸣"],
    "soil": ["废渣倾倒农田", "土壤被油污染"],
    "solid_waste": ["建筑垃圾乱倒", "危废随意堆放", "垃圾站恶臭"],
    "radiation": ["基站辐射担忧", "医院放射源"],
    "ecology": ["湿地被填占", "非法采砂"],
    "other": ["环评公示疑问", "投诉处理不满"],
}
COMPANY_WORDS = ["长江", "楚天", "江城", "汉江", "光谷", "东湖", "华中", "荆楚", "黄鹤",
                 "晴川", "鹏程", "恒信", "宏达", "金盛", "瑞丰", "天元", "新桥", "联众",
                 "远大", "博雅"]  # fmt: skip
COMPANY_KINDS = ["化工有限公司", "建筑工程有限公司", "餐饮管理有限公司", "物流有限公司",
                 "混凝土有限公司", "印染厂", "汽车修理厂", "娱乐有限公司",
                 "实业有限公司"]  # fmt: skip

# (group, share of open tasks, [(process, element, name)]); "bureau" means bureau:<region>.
WORK = [
    ("bureau", 60, [
        ("duty_request", "investigate", "调查核实 Investigate"),
        ("duty_request", "draft_reply", "拟写答复 Draft reply"),
        ("petition", "handle_petition", "办理信访事项 Handle petition"),
        ("complaint", "assess_complexity", "首办评估 First-visit assessment"),
        ("complaint", "review_assignment", "承办单位确认 Review assignment"),
        ("complaint", "answer_supervision", "书面回复督办 Answer supervision"),
    ]),
    ("petition_office", 12, [
        ("complaint", "triage", "初审分流 Triage"),
        ("complaint", "return_visit", "回访 Return visit"),
        ("complaint", "decide_repeat", "处理重复投诉 Decide on repeat"),
    ]),
    ("enforcement", 11, [
        ("duty_request", "inspect_on_site", "现场检查 Inspect on site"),
        ("duty_request", "order_rectification", "立案并责令整改 Order rectification"),
        ("duty_request", "verify_rectification", "核查整改 Verify rectification"),
    ]),
    ("department_head", 6, [
        ("petition", "approve_extension", "审批延期 Approve extension"),
        ("complaint", "decide_objection", "处理异议 Decide objection"),
    ]),
    ("leader", 3, [("complaint", "leader_annotation", "领导批示 Leader's annotation")]),
    ("reviewer", 4, [("petition", "review", "复查 Review")]),
    ("re_reviewer", 2, [("petition", "re_review", "复核 Re-review")]),
    ("inspection_team", 1, [("complaint", "report_inspection_result", "反馈督察结果")]),
    ("discipline", 1, [("accusation", "acknowledge_accusation", "纪检监察签收")]),
]  # fmt: skip
AUDIT_EVENTS = ["task_ready", "task_claimed", "task_completed", "timer_scheduled", "timer_fired"]


# ---------------------------------------------------------------- data


@dataclass
class Rows:
    instances: list[dict[str, Any]]
    tasks: list[dict[str, Any]]
    groups: list[dict[str, Any]]
    attributes: list[dict[str, Any]]
    audit: list[dict[str, Any]]


class Generator:
    """Rows shaped as the engine writes them, from a fixed seed."""

    def __init__(self, engine: Engine, deployment_id: int, total_audit: int, tasks: int) -> None:
        self.random = random.Random(2026)
        self.config = engine.task_attributes
        self.deployment_id = deployment_id
        self.audit_left = total_audit
        self.instances_left = tasks
        self.weights = [share for _, share, _ in WORK]

    def complaint_data(self) -> dict[str, Any]:
        rnd = self.random
        category = rnd.choices([c for c, _ in CATEGORIES], [w for _, w in CATEGORIES])[0]
        respondent = (
            f"武汉{rnd.choice(COMPANY_WORDS)}{rnd.choice(COMPANY_WORDS)}{rnd.choice(COMPANY_KINDS)}"
        )
        return {
            "channel": rnd.choices([c for c, _ in CHANNELS], [w for _, w in CHANNELS])[0],
            "category": category,
            "title": f"{rnd.choice(PLACES)}{rnd.randint(1, 999)}号{rnd.choice(PROBLEMS[category])}",
            "description": "……",
            "location": {"region_code": rnd.choice(REGIONS), "address": "…"},
            "respondent": respondent if rnd.random() < 0.85 else None,
        }

    def chunk(self, first_id: int, count: int) -> Rows:
        rows = Rows([], [], [], [], [])
        for instance_id in range(first_id, first_id + count):
            self._instance(instance_id, rows)
        return rows

    def _instance(self, instance_id: int, rows: Rows) -> None:
        rnd = self.random
        data = self.complaint_data()
        region = data["location"]["region_code"]
        key = f"HB-2026-{instance_id:06d}"
        started = NOW - timedelta(days=rnd.uniform(1, 90))
        rows.instances.append(
            {
                "id": instance_id,
                "deployment_id": self.deployment_id,
                "process_id": "complaint",
                "business_key": key,
                "status": "running",
                "state": {},
                "version": 1,
                "started_by": "li.intake",
                "created_at": started,
                "updated_at": started,
                "completed_at": None,
            }
        )
        values = self.config.values(data)
        task = {
            "instance_id": instance_id,
            "business_key": key,
            "assignee": None,
            "completed_at": None,
            "completed_by": None,
            "attributes": values,
            "search_text": self.config.search_text(key, values),
            "tags": self.config.tags(values),
        }
        bureau = f"bureau:{region}"
        history = [
            ("complaint", "triage", "初审分流 Triage", ["petition_office"]),
            ("complaint", "review_assignment", "承办单位确认 Review assignment", [bureau]),
        ]
        for process, element, name, groups in history:
            created = started + timedelta(hours=rnd.uniform(1, 24))
            self._task(
                rows,
                task,
                process,
                element,
                name,
                groups,
                status="completed",
                created_at=created,
                due_at=created + timedelta(days=3),
                completed_at=created + timedelta(hours=rnd.uniform(1, 48)),
                completed_by="someone",
            )
        group, _, work = rnd.choices(WORK, self.weights)[0]
        process, element, name = rnd.choice(work)
        groups = [bureau if group == "bureau" else group]
        if element == "investigate" and rnd.random() < 0.1:
            groups.append("enforcement")  # co-handling
        assignee = f"{groups[0].replace(':', '.')}.user{rnd.randint(1, 5)}"
        self._task(
            rows,
            task,
            process,
            element,
            name,
            groups,
            status="open",
            created_at=started + timedelta(days=1),
            due_at=None if rnd.random() < 0.1 else NOW + timedelta(days=rnd.uniform(-30, 60)),
            assignee=assignee if rnd.random() < 0.33 else None,
        )
        self._audit(rows, instance_id, key, started)

    def _task(
        self,
        rows: Rows,
        common: dict[str, Any],
        process: str,
        element: str,
        name: str,
        groups: list[str],
        **fields: Any,
    ) -> None:
        task_id = str(uuid.UUID(int=self.random.getrandbits(128), version=4))
        rows.tasks.append(
            {
                **common,
                "id": task_id,
                "process_id": process,
                "element_id": element,
                "name": name,
                "form_key": element,
                "candidate_groups": groups,
                **fields,
            }
        )
        task = rows.tasks[-1]
        status = task["status"]
        rows.groups.extend(
            {
                "task_id": task_id,
                "group": g,
                "status": status,
                "due_at": task["due_at"],
                "created_at": task["created_at"],
                "element_id": element,
                "process_id": process,
                "search_text": task["search_text"],
                "tags": task["tags"],
            }
            for g in groups
        )
        rows.attributes.extend(
            {"task_id": task_id, "name": n, "value": v, "status": status}
            for n, v in common["attributes"].items()
        )

    def _audit(self, rows: Rows, instance_id: int, key: str, started: datetime) -> None:
        share = self.audit_left // self.instances_left
        self.instances_left -= 1
        self.audit_left -= share
        for n in range(share):
            event = "instance_started" if n == 0 else self.random.choice(AUDIT_EVENTS)
            rows.audit.append(
                {
                    "at": started + timedelta(minutes=10 * n),
                    "actor": "li.intake" if n == 0 else "engine",
                    "event": event,
                    "instance_id": instance_id,
                    "business_key": key,
                    "task_id": None,
                    "element_id": None,
                    "data_before": None,
                    "data_after": {"step": n} if event == "task_completed" else None,
                    "reason": None,
                    "detail": None,
                }
            )


def populate(engine: Engine, tasks: int, audit: int) -> None:
    """`tasks` running instances, each with one open and two completed tasks, and `audit` rows."""
    deployment = engine.deploy(
        bundle_files(ROOT / "processes", ROOT / "forms"), Actor.system_actor("bench")
    )
    generator = Generator(engine, deployment.id, audit, tasks)
    with engine.sql.connect() as connection:  # deploying may have started periodic processes
        first_id = connection.scalar(text("SELECT coalesce(max(id), 0) + 1 FROM instances"))
    tables = [
        (Instance.__table__, "instances"),
        (HumanTask.__table__, "tasks"),
        (HumanTaskGroup.__table__, "groups"),
        (HumanTaskAttribute.__table__, "attributes"),
        (AuditEvent.__table__, "audit"),
    ]
    for first in range(first_id, first_id + tasks, CHUNK):
        rows = generator.chunk(first, min(CHUNK, first_id + tasks - first))
        with engine.sql.begin() as connection:
            for table, field in tables:
                insert_rows(connection, table, getattr(rows, field))
    if engine.sql.dialect.name == "postgresql":
        with engine.sql.begin() as connection:
            connection.execute(
                text("SELECT setval('instances_id_seq', (SELECT max(id) FROM instances))")
            )
    if engine.sql.dialect.name == "postgresql":
        with engine.sql.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))


def insert_rows(connection: Any, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """COPY on PostgreSQL, executemany of plain values on SQLite (SQLAlchemy's per-value type
    processing would take most of the loading time)."""
    if not rows:
        return
    columns = list(rows[0])
    names = ", ".join(f'"{c}"' for c in columns)
    if connection.dialect.name == "postgresql":
        cursor = connection.connection.driver_connection.cursor()
        with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([_copy_value(row[c]) for c in columns])
        return
    marks = ", ".join("?" for _ in columns)
    connection.exec_driver_sql(
        f"INSERT INTO {table.name} ({names}) VALUES ({marks})",
        [tuple(_sqlite_value(row[c]) for c in columns) for row in rows],
    )


def _copy_value(value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value


def _sqlite_value(value: Any) -> Any:
    """As SQLAlchemy stores it on SQLite: JSON text, naive UTC datetimes with microseconds."""
    if isinstance(value, dict | list):
        return json.dumps(value)
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")
    return value


# ---------------------------------------------------------------- requests


@dataclass(frozen=True)
class User:
    label: str
    name: str
    groups: tuple[str, ...]
    admin: bool = False


USERS = [
    User("petition office", "office.clerk", ("petition_office",)),
    User("bureau 420106", "bureau.clerk", ("bureau:420106",)),
    User("admin (all tasks)", "bench.admin", (), admin=True),
]


def query_kinds(rnd: random.Random, tasks: int) -> dict[str, Callable[[], dict[str, str]]]:
    """Per kind, a function giving the next request's query parameters."""

    def words() -> str:
        pick = rnd.random()
        if pick < 0.4:  # a tracking-number fragment as read over the phone
            return f"2026-{rnd.randint(1, tasks):06d}"[: rnd.choice([9, 10, 14])]
        if pick < 0.7:
            return rnd.choice(COMPANY_WORDS) + rnd.choice(COMPANY_WORDS)
        problem = rnd.choice(rnd.choice(list(PROBLEMS.values())))
        return problem[:4]

    def counted() -> dict[str, str]:
        filters = [
            {"region": rnd.choice(REGIONS)},
            {"channel": rnd.choice(CHANNELS)[0]},
            {"category": rnd.choice(CATEGORIES)[0]},
            {"overdue": "true"},
            {"element": rnd.choice(["investigate", "triage", "review"])},
            {"due_before": (NOW + timedelta(days=rnd.randint(1, 14))).isoformat()},
            {"q": words()},
        ]
        return {"limit": "1", "total": "true", **rnd.choice(filters)}

    return {
        "list": lambda: {"limit": "50"},
        "list+total": lambda: {"limit": "50", "total": "true"},
        "region": lambda: {"limit": "50", "region": rnd.choice(REGIONS)},
        "q": lambda: {"limit": "50", "q": words()},
        "count": counted,
    }


def timings(
    client: FlaskClient, token: str, next_query: Callable[[], dict[str, str]]
) -> list[float]:
    headers = {"Authorization": f"Bearer {token}"}
    spent: list[float] = []
    for n in range(WARMUP + REQUESTS):
        path = "/api/tasks?" + urlencode(next_query())
        began = time.perf_counter()
        answer = client.get(path, headers=headers)
        elapsed = (time.perf_counter() - began) * 1000
        if answer.status_code != 200:
            raise RuntimeError(f"{path}: {answer.status_code} {answer.get_data(as_text=True)}")
        if n >= WARMUP:
            spent.append(elapsed)
    return spent


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


@dataclass(frozen=True)
class Result:
    database: str
    user: str
    kind: str
    p50: float
    p95: float
    visible: int


def run_database(kind: str, tasks: int, audit: int) -> list[Result]:
    database = sqlite_url() if kind == "sqlite" else postgresql_url(PG_SERVER)
    with database as url:
        settings = Settings.from_env(
            {"COMPLAINTS_DATABASE_URL": url, "COMPLAINTS_PUBLIC_RATE_LIMIT": "0"}
        )
        engine = build_engine(settings)
        try:
            engine.create_schema()
            began = time.perf_counter()
            populate(engine, tasks, audit)
            label = server_version(engine)
            print(f"{label}: loaded in {time.perf_counter() - began:.0f} s", flush=True)
            return measure(engine, settings, label, tasks)
        finally:
            engine.close()


def measure(engine: Engine, settings: Settings, label: str, tasks: int) -> list[Result]:
    app = create_app(settings, engine=engine)
    accounts = Accounts(
        engine.sql,
        now=engine.clock.now,
        hasher=PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1),
    )
    app.extensions["complaints.accounts"] = accounts
    client = app.test_client()
    results: list[Result] = []
    for user in USERS:
        accounts.add_user(user.name, user.groups, password=PASSWORD, admin=user.admin)
        answer = client.post("/api/auth/token", json={"username": user.name, "password": PASSWORD})
        token = answer.get_json()["token"]
        visible = engine.count_tasks(actor=accounts.get(user.name).actor())
        rnd = random.Random(7)
        for kind, next_query in query_kinds(rnd, tasks).items():
            spent = timings(client, token, next_query)
            results.append(
                Result(
                    label,
                    user.label,
                    kind,
                    statistics.median(spent),
                    percentile(spent, 0.95),
                    visible,
                )
            )
            print(f"  {user.label:18} {kind:10} p95 {results[-1].p95:6.1f} ms", flush=True)
    return results


# ---------------------------------------------------------------- databases


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="bench_") as directory:
        yield f"sqlite:///{directory}/tasklist.db"


@contextmanager
def postgresql_url(server: str) -> Iterator[str]:
    """A private database, dropped afterwards whatever happens."""
    name = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(f"{server}/postgres", isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield f"{server}/{name}"
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def postgresql_problem(server: str) -> str | None:
    try:
        probe = create_engine(f"{server}/postgres")
        with probe.connect() as connection:
            connection.execute(text("select 1"))
        probe.dispose()
    except Exception as err:  # noqa: BLE001 - any failure means "skip PostgreSQL"
        return f"{type(err).__name__}: {str(err).splitlines()[0]}"
    return None


def server_version(engine: Engine) -> str:
    if engine.sql.dialect.name == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"
    with engine.sql.connect() as connection:
        number = str(connection.execute(text("show server_version")).scalar()).split()[0]
        return f"PostgreSQL {number}"


# ---------------------------------------------------------------- report


def table(results: list[Result]) -> str:
    out = io.StringIO()
    out.write("| database | user (open tasks visible) | request | p50 ms | p95 ms |\n")
    out.write("|---|---|---|---:|---:|\n")
    for r in results:
        mark = "" if r.p95 < 50 else " !"
        out.write(
            f"| {r.database} | {r.user} ({r.visible:,}) | {r.kind} "
            f"| {r.p50:.1f} | {r.p95:.1f}{mark} |\n"
        )
    return out.getvalue()


def main(argv: list[str] | None = None) -> None:
    summary = (__doc__ or "").split("\n")[0]
    parser = argparse.ArgumentParser(prog="python -m bench.tasklist", description=summary)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--tasks", type=int, default=100_000, help="open tasks")
    parser.add_argument("--audit", type=int, default=1_000_000, help="audit rows")
    args = parser.parse_args(argv)

    print(
        f"{args.tasks:,} open tasks (+{2 * args.tasks:,} completed), {args.audit:,} audit rows; "
        f"{REQUESTS} requests per line after {WARMUP} warm-up, goal p95 < 50 ms\n",
        flush=True,
    )
    results: list[Result] = []
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    for kind in kinds:
        if kind == "postgresql" and (problem := postgresql_problem(PG_SERVER)):
            print(f"PostgreSQL skipped: no server answers at {PG_SERVER} ({problem})\n")
            continue
        results.extend(run_database(kind, args.tasks, args.audit))
    print()
    print(table(results))


if __name__ == "__main__":
    main()
