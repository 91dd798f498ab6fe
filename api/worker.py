"""The timer worker: an APScheduler job that claims and fires due timers. The timers table, not
the scheduler's memory, is the truth, so several workers and restarts lose and duplicate nothing."""

from __future__ import annotations

import logging
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from functools import partial

from apscheduler.schedulers.background import BackgroundScheduler

from engine import Engine

log = logging.getLogger(__name__)

POSTGRESQL_THREADS = 4  # enough to overlap commits; the pool holds 10 connections


def fire_until_idle(engine: Engine, batch: int, threads: int = 1) -> int:
    """Fire due timers batch after batch until none are due, so a backlog drains in one tick;
    returns how many were handled. With `threads` > 1 the timers of different instances fire
    side by side, each still in its own transaction, so one's commit need not wait for
    another's; those of one instance always fire in order, in one thread."""
    handled = 0
    fire = partial(_fire_in_order, engine)
    with ThreadPoolExecutor(threads) if threads > 1 else nullcontext() as pool:
        run = pool.map if pool is not None else map
        while True:
            groups = engine.claim_due_timer_groups(batch)
            list(run(fire, groups))
            claimed = sum(len(group) for group in groups)
            handled += claimed
            if claimed < batch:
                return handled


def _fire_in_order(engine: Engine, timer_ids: list[int]) -> None:
    for timer_id in timer_ids:
        engine.fire_claimed_timer(timer_id)


def default_threads(engine: Engine) -> int:
    """PostgreSQL commits in parallel; SQLite has one writer at a time, so threads only wait."""
    return POSTGRESQL_THREADS if engine.sql.dialect.name == "postgresql" else 1


def start_scheduler(
    engine: Engine, interval: float, batch: int, threads: int = 1
) -> BackgroundScheduler:
    scheduler = BackgroundScheduler()
    scheduler.add_job(
        fire_until_idle,
        "interval",
        seconds=interval,
        args=[engine, batch, threads],
        id="fire_due_timers",
        max_instances=1,
        coalesce=True,
    )
    scheduler.start()
    return scheduler


def run_forever(engine: Engine, interval: float, batch: int, threads: int | None = None) -> None:
    """Run the worker in the foreground until SIGINT or SIGTERM."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    threads = threads or default_threads(engine)
    scheduler = start_scheduler(engine, interval, batch, threads)
    log.info(
        "timer worker %s running every %ss with %s thread(s)", engine.worker_id, interval, threads
    )
    stop.wait()
    scheduler.shutdown(wait=True)
