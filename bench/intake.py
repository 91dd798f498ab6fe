"""Complaints registered per second over HTTP: the real app, processes and handlers.

    python -m bench.intake [--db sqlite|postgresql|both] [--n 400] [--workers 4] [--clients 8]

PERFORMANCE.md's goal: at least 300 complaints registered per second over HTTP on 2 cores with
PostgreSQL. For each database (a SQLite file in a temp dir; a private `bench_<random>` PostgreSQL
database, dropped afterwards) the schema is created and `processes/` deployed with the CLI, then
gunicorn serves `api:create_app()` with `--workers` sync workers, as `complaints serve` does
(without the timer worker: registrations set no timer due within the run). `--clients` threads,
each on a keep-alive connection, post web-channel complaints to `POST /api/complaints` (the public
rate limit is off), every one with its own title and complainant so none is a repeat. After a
warm-up, `--n` registrations are timed: registrations/s over the wall time, and the latency
percentiles of the requests. The clients run on the same cores as the server and the database,
as a load balancer would not. A benchmark, never a test: nothing here asserts timings.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.engine import PG_SERVER, machine, postgresql_problem, postgresql_url, versions

ROOT = Path(__file__).resolve().parents[1]
GOAL_PER_S = 300
WARMUP = 20
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Result:
    database: str
    registered: int
    seconds: float
    latencies_ms: list[float]

    def row(self) -> str:
        cuts = statistics.quantiles(self.latencies_ms, n=100, method="inclusive")
        rate = self.registered / self.seconds
        return (
            f"| {self.database} | {rate:,.0f} | {cuts[49]:.0f} | {cuts[94]:.0f} | "
            f"{cuts[98]:.0f} | {max(self.latencies_ms):.0f} |"
        )


def complaint(number: int) -> bytes:
    """A web complaint of its own: another title, respondent and complainant each time."""
    return json.dumps(
        {
            "channel": "web",
            "category": "water",
            "title": f"河道夜间排污 {number}",
            "description": "工厂夜间向河道排放黑色污水，气味刺鼻。",
            "location": {
                "region_code": "420102",
                "address": f"江岸区沿江大道{number}号",
                "lat": 30.6,
                "lon": 114.3,
            },
            "respondent": f"武汉某某化工有限公司{number}",
            "requested_outcome": "查处并责令整改",
            "urgent": False,
            "addressed_to_leader": False,
            "complainant": {
                "anonymous": False,
                "name": f"张{number}",
                "phone": f"138{number:08d}",
                "email": f"bench{number}@example.org",
            },
            "written_reply": True,
            "reward_interest": False,
        },
        ensure_ascii=False,
    ).encode()


@contextmanager
def sqlite_url() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="bench_intake_") as directory:
        yield f"sqlite:///{directory}/complaints.db"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@contextmanager
def served(url: str, workers: int) -> Iterator[int]:
    """The app under gunicorn on a free port, with the schema made and `processes/` deployed."""
    env = {
        **os.environ,
        "COMPLAINTS_DATABASE_URL": url,
        "COMPLAINTS_SECRET_KEY": "bench secret",
        "COMPLAINTS_PUBLIC_RATE_LIMIT": "0",
    }
    for step in (["init-db"], ["deploy", str(ROOT / "processes")]):
        subprocess.run(
            [sys.executable, "-m", "api.cli", *step],
            env=env,
            check=True,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
        )
    port = free_port()
    command = [sys.executable, "-m", "gunicorn", "--bind", f"{HOST}:{port}"]
    command += ["--workers", str(workers), "--log-level", "warning", "api:create_app()"]
    server = subprocess.Popen(command, env=env, cwd=ROOT)
    try:
        wait_until_up(port, server)
        yield port
    finally:
        server.terminate()
        server.wait(timeout=30)


def wait_until_up(port: int, server: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {server.returncode}")
        try:
            connection = http.client.HTTPConnection(HOST, port, timeout=5)
            connection.request("GET", "/api/health")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer /api/health in time")


def register(port: int, numbers: Iterator[int], count: int, clients: int) -> list[float]:
    """`count` registrations from `clients` threads; the latency of each, in ms."""
    latencies: list[float] = []
    lock = threading.Lock()
    remaining = itertools.islice(numbers, count)

    def client() -> None:
        connection = http.client.HTTPConnection(HOST, port, timeout=60)
        headers = {"Content-Type": "application/json"}
        while True:
            with lock:
                number = next(remaining, None)
            if number is None:
                return
            started = time.perf_counter()
            connection.request("POST", "/api/complaints", complaint(number), headers)
            answer = connection.getresponse()
            answer.read()
            if answer.status != 201:
                raise RuntimeError(f"registration answered {answer.status}")
            with lock:
                latencies.append((time.perf_counter() - started) * 1000)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if len(latencies) != count:
        raise RuntimeError(f"{count - len(latencies)} registrations failed")
    return latencies


def run_database(kind: str, n: int, workers: int, clients: int) -> Result:
    context = postgresql_url(PG_SERVER) if kind == "postgresql" else sqlite_url()
    with context as url, served(url, workers) as port:
        numbers = itertools.count(1)
        register(port, numbers, WARMUP, clients)
        started = time.perf_counter()
        latencies = register(port, numbers, n, clients)
        seconds = time.perf_counter() - started
    return Result("PostgreSQL" if kind == "postgresql" else "SQLite", n, seconds, latencies)


def main(argv: list[str] | None = None) -> None:
    summary = (__doc__ or "").split("\n")[0]
    parser = argparse.ArgumentParser(prog="python -m bench.intake", description=summary)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--n", type=int, default=400, help="timed registrations")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn sync workers")
    parser.add_argument("--clients", type=int, default=8, help="client threads")
    args = parser.parse_args(argv)
    if min(args.n, args.workers, args.clients) < 1:
        parser.error("--n, --workers and --clients must be at least 1")

    print(machine())
    print(versions())
    print(
        f"{args.n} registrations after {WARMUP} warm-up, gunicorn --workers {args.workers}, "
        f"{args.clients} client threads\n",
        flush=True,
    )
    results = []
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    for kind in kinds:
        if kind == "postgresql" and (problem := postgresql_problem(PG_SERVER)):
            print(f"PostgreSQL skipped: no server answers at {PG_SERVER} ({problem})\n")
            continue
        results.append(run_database(kind, args.n, args.workers, args.clients))
    print("| database | registered/s | p50 ms | p95 ms | p99 ms | max ms |")
    print("|---|---:|---:|---:|---:|---:|")
    for result in results:
        print(result.row())
    print(f"\ngoal: >= {GOAL_PER_S} registrations/s over HTTP on PostgreSQL (PERFORMANCE.md)")


if __name__ == "__main__":
    main()
