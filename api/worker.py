"""The timer worker: an APScheduler job that claims and fires due timers. The timers table, not
the scheduler's memory, is the truth, so several workers and restarts lose and duplicate nothing."""

from __future__ import annotations

import logging
import signal
import threading

from apscheduler.schedulers.background import BackgroundScheduler

from engine import Engine

log = logging.getLogger(__name__)


def fire_until_idle(engine: Engine, batch: int) -> int:
    """Fire due timers batch after batch until none are due, so a backlog drains in one tick;
    returns how many were handled."""
    handled = 0
    while True:
        claimed = engine.claim_due_timers(batch)
        for timer_id in claimed:
            engine.fire_claimed_timer(timer_id)
        handled += len(claimed)
        if len(claimed) < batch:
            return handled


def start_scheduler(engine: Engine, interval: float, batch: int) -> BackgroundScheduler:
    scheduler = BackgroundScheduler()
    scheduler.add_job(
        fire_until_idle,
        "interval",
        seconds=interval,
        args=[engine, batch],
        id="fire_due_timers",
        max_instances=1,
        coalesce=True,
    )
    scheduler.start()
    return scheduler


def run_forever(engine: Engine, interval: float, batch: int) -> None:
    """Run the worker in the foreground until SIGINT or SIGTERM."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    scheduler = start_scheduler(engine, interval, batch)
    log.info("timer worker %s running every %ss", engine.worker_id, interval)
    stop.wait()
    scheduler.shutdown(wait=True)
