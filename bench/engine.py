"""How much the persisted engine costs on top of SpiffWorkflow, and how late its timers fire.

    python -m bench.engine [--db sqlite|postgresql|both] [--n 200] [--reps 3] [--profile]
                           [--drain 1000] [--pending 100000]

What it measures, for one small model (bench/processes/bench_small.bpmn: start -> script task ->
user task -> end, the model of /work/shared/PERFORMANCE.md), as operations per second:

1. bare SpiffWorkflow in memory: the floor, nothing is stored;
2. the same through `engine.spiff` with a JSON save/load between steps (`Instance.start`,
   `dump` + `json.dumps`, then `json.loads` + `Instance.restore`, `complete`, `dump`): what any
   persisted engine must pay at least;
3. the persisted `engine.Engine` (one transaction per operation, read models and audit rows) on
   SQLite (a file in a temp dir) and on PostgreSQL (a private `bench_<random>` database, dropped
   afterwards; skipped with a message if no server answers).

Starts/s times `n` starts; completions/s completes the user task of those `n` instances;
full runs/s times `n` start-then-complete runs. Each figure is the median of `--reps` rounds,
after a warm-up. The goal (PERFORMANCE.md) is (3) within 2x of (2).

Timer lateness: `n` instances of bench/processes/bench_timer.bpmn get a boundary timer due a few
seconds after they start (a `PT<k>S` duration set through a variable, `k` chosen so every timer is
scheduled before the first is due); then `api.worker.fire_until_idle` (batches of 200, the
worker's default threads: 4 on PostgreSQL, 1 on SQLite) runs every 0.25 s, as the real worker
does, until all have fired. Lateness is `fired_at - due_at` read from the `timers` table (goal:
p99 under 1 s, also with 100,000 pending: `--pending` timers due in 2100 are written first).

`--profile` runs cProfile over persisted full runs and prints the top engine/ entries by
cumulative time, and where the time goes by package. A benchmark, never a test: nothing here
asserts timings.
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import json
import math
import os
import platform
import pstats
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any, Protocol

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import create_engine, event, func, insert, select, text

from api.composition import bundle_files, compile_form
from api.worker import POSTGRESQL_THREADS, default_threads, fire_until_idle
from engine import Actor, Engine, spiff
from engine.models import Deployment, Instance, Timer

ROOT = Path(__file__).resolve().parents[1]
PROCESSES = Path(__file__).resolve().parent / "processes"
PG_SERVER = os.environ.get("COMPLAINTS_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")

PROCESS = "bench_small"
TIMER_PROCESS = "bench_timer"
TIMER_ELEMENT = "review_overdue"
START_DATA: dict[str, Any] = {"text": "loud music from the bar after midnight"}
FORM_DATA: dict[str, Any] = {"decision": "accept"}
CLERK = Actor("bench.clerk", frozenset({"bench"}))
ADMIN = Actor("bench.admin", frozenset({"admin"}), admin=True)
WARMUP = 10


class Runner(Protocol):
    """One system under test: `start` returns what `complete` needs to finish that instance."""

    def start(self) -> Any: ...

    def complete(self, handle: Any) -> None: ...


@dataclass(frozen=True)
class Rates:
    starts: float
    completions: float
    full_runs: float


# ---------------------------------------------------------------- the three systems


class BareRunner:
    """(1) SpiffWorkflow alone: spec parsed once, workflows live in memory."""

    def __init__(self) -> None:
        parser = SpiffBpmnParser()
        parser.add_bpmn_file(str(PROCESSES / f"{PROCESS}.bpmn"))
        self.spec = parser.get_spec(PROCESS)
        self.subprocess_specs = parser.get_subprocess_specs(PROCESS)

    def start(self) -> BpmnWorkflow:
        wf = BpmnWorkflow(self.spec, self.subprocess_specs)
        for task in wf.get_tasks(state=TaskState.READY):
            task.data.update(START_DATA)
        wf.do_engine_steps()
        return wf

    def complete(self, handle: BpmnWorkflow) -> None:
        task = handle.get_tasks(state=TaskState.READY, manual=True)[0]
        task.data.update(FORM_DATA)
        task.run()
        handle.do_engine_steps()
        if not handle.completed:
            raise RuntimeError("bare workflow did not complete")


class SavedRunner:
    """(2) `engine.spiff` with the state turned into JSON text after every step and back before
    the next: the spec is shared, as the engine stores it once per deployment."""

    def __init__(self) -> None:
        bpmn = {p.name: p.read_bytes() for p in PROCESSES.glob("*.bpmn")}
        self.specs = spiff.load_specs(spiff.parse_bundle(bpmn, {}).specs_json)[PROCESS]

    @staticmethod
    def _no_services(*_: Any) -> Any:
        raise RuntimeError("the bench model has no service tasks")

    def start(self) -> tuple[str, str]:
        instance = spiff.Instance.start(self.specs, START_DATA, self._no_services)
        task_id = instance.ready_user_tasks()[0].id
        return json.dumps(instance.dump()), task_id

    def complete(self, handle: tuple[str, str]) -> None:
        saved, task_id = handle
        instance = spiff.Instance.restore(json.loads(saved), self.specs, self._no_services)
        instance.complete(task_id, FORM_DATA)
        json.dumps(instance.dump())
        if not instance.completed:
            raise RuntimeError("restored workflow did not complete")


class EngineRunner:
    """(3) The persisted engine, called as the web layer calls it."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._keys = itertools.count(1)

    def start(self) -> str:
        view = self.engine.start(PROCESS, START_DATA, f"bench-{next(self._keys)}", CLERK)
        return view.tasks[0].id

    def complete(self, handle: str) -> None:
        if self.engine.complete_task(handle, FORM_DATA, CLERK).status != "completed":
            raise RuntimeError("engine task did not complete")


def measure(runner: Runner, n: int, reps: int) -> Rates:
    """Medians over `reps` rounds of n starts, n completions and n full runs."""
    for _ in range(WARMUP):
        runner.complete(runner.start())
    starts, completions, full_runs = [], [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        handles = [runner.start() for _ in range(n)]
        t1 = time.perf_counter()
        for handle in handles:
            runner.complete(handle)
        t2 = time.perf_counter()
        for _ in range(n):
            runner.complete(runner.start())
        t3 = time.perf_counter()
        starts.append(n / (t1 - t0))
        completions.append(n / (t2 - t1))
        full_runs.append(n / (t3 - t2))
    return Rates(*(statistics.median(x) for x in (starts, completions, full_runs)))


# ---------------------------------------------------------------- databases


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="bench_") as directory:
        yield f"sqlite:///{directory}/engine.db"


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


def new_engine(url: str) -> Engine:
    engine = Engine(url, handlers={}, compile_form=compile_form)
    engine.create_schema()
    engine.deploy(bundle_files(PROCESSES), ADMIN)
    return engine


def server_version(engine: Engine) -> str:
    if engine.sql.dialect.name == "sqlite":
        return f"SQLite {sqlite3.sqlite_version}"
    with engine.sql.connect() as connection:
        number = str(connection.execute(text("show server_version")).scalar()).split()[0]
        return f"PostgreSQL {number}"


# ---------------------------------------------------------------- timers


@dataclass(frozen=True)
class Lateness:
    scheduled: int
    fired: int
    lead_s: int
    fired_per_s: float
    p50: float
    p99: float
    worst: float


TICK = 0.25  # the worker's default interval (COMPLAINTS_TIMER_INTERVAL)
FAR_FUTURE = datetime(2100, 1, 1, tzinfo=UTC)
PRELOAD_BATCH = 10_000


def preload_pending(engine: Engine, count: int) -> None:
    """`count` pending timers due in 2100 on instances that never run: rows the worker's claim
    steps over while it finds the due ones (the goal holds "also with 100,000 pending").
    Written straight into the tables: starting that many instances would take minutes."""
    instances, timers = Instance.__table__, Timer.__table__
    now = datetime.now(UTC)
    with engine.sql.begin() as connection:
        deployment_id = connection.execute(select(func.max(Deployment.id))).scalar_one()
        instance = {
            "deployment_id": deployment_id,
            "process_id": TIMER_PROCESS,
            "business_key": None,
            "status": "running",
            "state": {},
            "version": 1,
            "started_by": CLERK.id,
            "created_at": now,
            "updated_at": now,
            "completed_at": None,
        }
        for done in range(0, count, PRELOAD_BATCH):
            size = min(PRELOAD_BATCH, count - done)
            ids = connection.execute(
                insert(instances).returning(instances.c.id), [instance] * size
            ).scalars()
            connection.execute(
                insert(timers),
                [
                    {
                        "instance_id": instance_id,
                        "task_id": str(uuid.uuid4()),
                        "element_id": "preloaded",
                        "due_at": FAR_FUTURE,
                        "fire_at": FAR_FUTURE,
                        "status": "pending",
                        "attempts": 0,
                    }
                    for instance_id in ids
                ],
            )


def timer_lateness(engine: Engine, n: int, starts_per_s: float) -> Lateness:
    """Schedule n timers due shortly after the last start, then tick the worker every TICK s."""
    lead = max(1, math.ceil(1.5 * n / starts_per_s))
    data = {"timer_after": f"PT{lead}S"}
    first = min(engine.start(TIMER_PROCESS, data, f"timer-{i}", CLERK).id for i in range(n))
    in_run = (Timer.element_id == TIMER_ELEMENT, Timer.instance_id >= first)
    pending = select(func.count()).select_from(Timer).where(*in_run, Timer.status == "pending")
    deadline = time.perf_counter() + lead + 120
    tick = time.perf_counter()
    busy = 0.0
    while _scalar(engine, pending) and time.perf_counter() < deadline:
        t0 = time.perf_counter()
        fire_until_idle(engine, 200, default_threads(engine))
        busy += time.perf_counter() - t0
        tick += TICK
        time.sleep(max(0.0, tick - time.perf_counter()))
    with engine.sql.connect() as connection:
        fired = select(Timer.due_at, Timer.fired_at).where(*in_run, Timer.status == "fired")
        rows = connection.execute(fired).all()
    late = sorted((fired - due).total_seconds() for due, fired in rows)
    if not late:
        return Lateness(n, 0, lead, 0.0, math.nan, math.nan, math.nan)
    p99 = statistics.quantiles(late, n=100, method="inclusive")[98] if len(late) > 1 else late[0]
    rate = len(late) / busy if busy else math.nan
    return Lateness(n, len(late), lead, rate, statistics.median(late), p99, late[-1])


def drain_seconds(engine: Engine, count: int) -> float:
    """Seconds one worker takes to fire `count` timers that are all due already."""
    data = {"timer_after": "PT1S"}
    first = min(engine.start(TIMER_PROCESS, data, f"drain-{i}", CLERK).id for i in range(count))
    time.sleep(1.5)
    in_run = (Timer.element_id == TIMER_ELEMENT, Timer.instance_id >= first)
    pending = select(func.count()).select_from(Timer).where(*in_run, Timer.status == "pending")
    started = time.perf_counter()
    while _scalar(engine, pending):
        fire_until_idle(engine, 200, default_threads(engine))
    return time.perf_counter() - started


def _scalar(engine: Engine, query: Any) -> Any:
    with engine.sql.connect() as connection:
        return connection.execute(query).scalar()


# ---------------------------------------------------------------- profile


def profile(engine: Engine, runs: int) -> str:
    """Top engine/ functions by cumulative time over `runs` persisted full runs, and the time
    per run spent in each package (own time, so the rows add up)."""
    runner = EngineRunner(engine)
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(runs):
        runner.complete(runner.start())
    profiler.disable()
    stats = pstats.Stats(profiler).stats  # type: ignore[attr-defined]
    engine_dir = str(ROOT / "engine") + os.sep
    ours = [(key, value) for key, value in stats.items() if key[0].startswith(engine_dir)]
    ours.sort(key=lambda item: item[1][3], reverse=True)
    lines = [
        f"cProfile of {runs} persisted full runs ({server_version(engine)}), per run:",
        "",
        "| cumulative ms | own ms | calls | engine/ function |",
        "|---:|---:|---:|---|",
    ]
    for (file, line, name), (_, calls, own, cumulative, _) in ours[:10]:
        where = f"{Path(file).relative_to(ROOT)}:{line} {name}"
        lines.append(
            f"| {1000 * cumulative / runs:.2f} | {1000 * own / runs:.2f} "
            f"| {calls / runs:g} | {where} |"
        )
    areas: dict[str, float] = {}
    for (file, _, name), (_, _, own, _, _) in stats.items():
        area = _area(file, name, engine_dir)
        areas[area] = areas.get(area, 0.0) + own
    total = sum(areas.values())
    lines += ["", "| own time by package | ms per run | share |", "|---|---:|---:|"]
    for area, own in sorted(areas.items(), key=lambda item: item[1], reverse=True):
        lines.append(f"| {area} | {1000 * own / runs:.2f} | {100 * own / total:.0f}% |")
    return "\n".join(lines)


def _area(file: str, name: str, engine_dir: str) -> str:
    if file.startswith(engine_dir):
        return "engine/"
    for package in ("SpiffWorkflow", "sqlalchemy", "psycopg", "json", "forms", "marshmallow"):
        if f"{os.sep}{package}{os.sep}" in file:
            return package
    if "sqlite3." in name:  # the C driver's execute, commit and fetch
        return "sqlite3 driver"
    return "other (builtins, stdlib)"


def statements(engine: Engine) -> str:
    """SQL statements and transactions one start and one completion send to the database."""
    runner = EngineRunner(engine)
    counts = {"statements": 0, "commits": 0}

    def count(*_: Any) -> None:
        counts["statements"] += 1

    def commit(*_: Any) -> None:
        counts["commits"] += 1

    event.listen(engine.sql, "before_cursor_execute", count)
    event.listen(engine.sql, "commit", commit)
    try:
        handle = runner.start()
        started = dict(counts)
        counts.update(statements=0, commits=0)
        runner.complete(handle)
    finally:
        event.remove(engine.sql, "before_cursor_execute", count)
        event.remove(engine.sql, "commit", commit)
    return (
        f"SQL per start: {started['statements']} statements in {started['commits']} "
        f"transaction(s); per completion: {counts['statements']} statements in "
        f"{counts['commits']} transaction(s) (not counting BEGIN/COMMIT and pool pings)"
    )


# ---------------------------------------------------------------- report


def machine() -> str:
    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "?",
    )
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"nproc {usable} ({model}), {platform.platform()}"


def versions() -> str:
    packages = ", ".join(
        f"{p} {version(p)}" for p in ("SpiffWorkflow", "SQLAlchemy", "psycopg", "lxml")
    )
    return f"Python {platform.python_version()}, {packages}"


def rate_row(label: str, rates: Rates) -> str:
    return f"| {label} | {rates.starts:,.0f} | {rates.completions:,.0f} | {rates.full_runs:,.0f} |"


def ratio_row(label: str, saved: Rates, engine: Rates) -> str:
    def slower(a: float, b: float) -> str:
        factor = a / b
        return f"{factor:.1f}x{'' if factor <= 2 else ' !'}"

    return (
        f"| {label} | {slower(saved.starts, engine.starts)} "
        f"| {slower(saved.completions, engine.completions)} "
        f"| {slower(saved.full_runs, engine.full_runs)} |"
    )


def run_database(
    kind: str, n: int, reps: int, want_profile: bool, drain: int, pending: int
) -> tuple[str, Rates, Lateness, float]:
    database = sqlite_url() if kind == "sqlite" else postgresql_url(PG_SERVER)
    with database as url:
        engine = new_engine(url)
        try:
            label = server_version(engine)
            rates = measure(EngineRunner(engine), n, reps)
            preload_pending(engine, pending)
            lateness = timer_lateness(engine, n, rates.starts)
            drained = drain_seconds(engine, drain)
            if want_profile:
                print(profile(engine, n), statements(engine), sep="\n\n", end="\n\n", flush=True)
        finally:
            engine.close()
    return label, rates, lateness, drained


def main(argv: list[str] | None = None) -> None:
    summary = (__doc__ or "").split("\n")[0]
    parser = argparse.ArgumentParser(prog="python -m bench.engine", description=summary)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--n", type=int, default=200, help="instances per measurement")
    parser.add_argument("--reps", type=int, default=3, help="repetitions; medians are shown")
    parser.add_argument("--profile", action="store_true", help="cProfile persisted full runs")
    parser.add_argument(
        "--drain", type=int, default=1000, help="due timers one worker fires (at least 1)"
    )
    parser.add_argument(
        "--pending",
        type=int,
        default=100_000,
        help="timers pending far in the future while the timer figures are taken",
    )
    args = parser.parse_args(argv)
    if args.drain < 1:
        parser.error("--drain must be at least 1")
    if args.pending < 0:
        parser.error("--pending cannot be negative")

    print(f"machine: {machine()}")
    print(f"versions: {versions()}")
    print(
        f"model: {PROCESS} (start -> script task -> user task -> end), n={args.n}, "
        f"medians of {args.reps}\n",
        flush=True,
    )
    bare = measure(BareRunner(), args.n, args.reps)
    saved = measure(SavedRunner(), args.n, args.reps)

    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    results: list[tuple[str, Rates, Lateness, float]] = []
    for kind in kinds:
        if kind == "postgresql" and (problem := postgresql_problem(PG_SERVER)):
            print(f"PostgreSQL skipped: no server answers at {PG_SERVER} ({problem})\n")
            continue
        results.append(
            run_database(kind, args.n, args.reps, args.profile, args.drain, args.pending)
        )

    print("| system | starts/s | completions/s | full runs/s |")
    print("|---|---:|---:|---:|")
    print(rate_row("(1) bare SpiffWorkflow in memory", bare))
    print(rate_row("(2) bare + JSON save/load between steps", saved))
    for label, rates, _, _ in results:
        print(rate_row(f"(3) engine.Engine on {label}", rates))
    if not results:
        return
    print("\n| (3) slower than (2) by, goal <= 2x | starts | completions | full runs |")
    print("|---|---:|---:|---:|")
    for label, rates, _, _ in results:
        print(ratio_row(label, saved, rates))
    print()
    for label, rates, _, _ in results:  # goal: within 4x of bare SpiffWorkflow
        name = label.split()[0].lower()
        print(f"ratio persisted/bare ({name}, start): {bare.starts / rates.starts:.1f}x")
        print(f"ratio persisted/bare ({name}, full path): {bare.full_runs / rates.full_runs:.1f}x")
    print(
        "\nTimer lateness, fired_at - due_at, with fire_until_idle(engine, 200, threads) "
        f"every {TICK} s, {args.pending:,} other timers pending (due in 2100) "
        "(goal: p99 < 1 s):\n"
    )
    print("| database | timers | fired | due after | fired/s busy | p50 s | p99 s | max s |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for label, _, late, _ in results:
        print(
            f"| {label} | {late.scheduled} | {late.fired} | PT{late.lead_s}S "
            f"| {late.fired_per_s:,.0f} | {late.p50:.3f} | {late.p99:.3f} | {late.worst:.3f} |"
        )
    print()
    for label, _, _, drained in results:  # goal: 1,000 due timers in under 10 s
        print(f"{args.drain:,} due timers fired by one worker ({label}): {drained:.1f} s")
    print(f"(worker threads: {POSTGRESQL_THREADS} on PostgreSQL, 1 on SQLite)")


if __name__ == "__main__":
    main()
