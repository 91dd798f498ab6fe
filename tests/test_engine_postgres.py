"""Concurrency on the production store, PostgreSQL, for real: racing clerks and racing workers."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from api.composition import bundle_files
from api.worker import default_threads, fire_until_idle
from engine import Conflict, Engine
from engine.models import AuditEvent, Timer
from tests.conftest import ADMIN, DEMO_PROCESSES, INTAKE, Calls, new_engine

START_DATA = {"review_limit": "P2D"}


def deployed(url: str, calls: Calls, clock, **kwargs) -> Engine:
    engine = new_engine(url, calls, clock, **kwargs)
    engine.deploy(bundle_files(DEMO_PROCESSES), ADMIN)
    return engine


def run_together(*actions) -> list:
    """Start the actions at the same moment and collect each result or exception."""
    barrier = threading.Barrier(len(actions))
    results: list = [None] * len(actions)

    def run(index: int, action) -> None:
        barrier.wait()
        try:
            results[index] = action()
        except Exception as err:  # noqa: BLE001 - the race's loser is part of the result
            results[index] = err

    threads = [threading.Thread(target=run, args=(i, a)) for i, a in enumerate(actions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_two_clerks_completing_the_same_task_one_wins_one_gets_a_conflict(
    pg_url, calls, clock
) -> None:
    first = deployed(pg_url, calls, clock)
    second = new_engine(pg_url, calls, clock)
    for n in range(5):  # repeated: a single race could be won by luck of scheduling
        instance = first.start("engine_demo", START_DATA, f"C-{n}", INTAKE)
        task = first.tasks(instance_id=instance.id)[0]
        results = run_together(
            lambda task=task: first.complete_task(task.id, {"severity": "low"}, INTAKE),
            lambda task=task: second.complete_task(task.id, {"severity": "low"}, INTAKE),
        )
        assert sorted(type(r).__name__ for r in results) == ["Conflict", "TaskView"], results
        completions = [e for e in first.history(instance.id) if e.event == "task_completed"]
        assert len(completions) == 1
    assert calls.names() == ["number"] * 5
    first.close()
    second.close()


def test_an_operation_that_loses_a_race_gets_a_conflict_and_changes_nothing(
    pg_url, calls, clock
) -> None:
    """PostgreSQL gives up one of two operations that wait on each other's rows (a timer's
    firing and a completion of the task it cancels can): here a trigger makes the server
    report that for the completion, every time, instead of waiting for the scheduling."""
    engine = deployed(pg_url, calls, clock)
    instance = engine.start("engine_demo", START_DATA, "C-1", INTAKE)
    task = engine.tasks(instance_id=instance.id)[0]
    with engine.sql.begin() as connection:
        connection.execute(
            text(
                "CREATE FUNCTION lose_the_race() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                "RAISE EXCEPTION 'deadlock detected' USING ERRCODE = 'deadlock_detected'; "
                "END $$"
            )
        )
        connection.execute(
            text(
                "CREATE TRIGGER lose_the_race BEFORE INSERT ON audit_events FOR EACH ROW "
                "WHEN (NEW.event = 'task_completed') EXECUTE FUNCTION lose_the_race()"
            )
        )
    with pytest.raises(Conflict, match="reload"):
        engine.complete_task(task.id, {"severity": "low"}, INTAKE)
    assert engine.task(task.id).status == "open"
    assert "severity" not in engine.instance(instance.id).data

    with engine.sql.begin() as connection:
        connection.execute(text("DROP TRIGGER lose_the_race ON audit_events"))
    assert engine.complete_task(task.id, {"severity": "low"}, INTAKE).status == "completed"


def test_two_workers_over_200_due_timers_fire_each_exactly_once(pg_url, calls, clock) -> None:
    engine_a = deployed(pg_url, calls, clock, worker_id="worker-a")
    engine_b = new_engine(pg_url, calls, clock, worker_id="worker-b")
    for n in range(200):
        engine_a.start("engine_demo", START_DATA, f"C-{n}", INTAKE)
    clock.advance(days=1, minutes=1)  # every reminder is due, no timeout yet

    handled = run_together(
        lambda: fire_until_idle(engine_a, 25), lambda: fire_until_idle(engine_b, 25)
    )
    assert sum(handled) >= 200
    keys = Counter(key for name, _, key in calls.seen if name == "remind")
    assert len(keys) == 200 and set(keys.values()) == {1}
    with engine_a.sql.connect() as connection:
        fired = connection.scalar(
            select(func.count()).select_from(Timer).where(Timer.status == "fired")
        )
        audited = connection.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.event == "timer_fired")
        )
    assert fired == 200 and audited == 200
    engine_a.close()
    engine_b.close()


def test_concurrent_claims_never_overlap(pg_url, calls, clock) -> None:
    engine_a = deployed(pg_url, calls, clock, worker_id="worker-a")
    engine_b = new_engine(pg_url, calls, clock, worker_id="worker-b")
    for n in range(40):
        engine_a.start("engine_demo", START_DATA, f"C-{n}", INTAKE)
    clock.advance(days=1, minutes=1)
    claimed_a, claimed_b = run_together(
        lambda: engine_a.claim_due_timers(30), lambda: engine_b.claim_due_timers(30)
    )
    assert not set(claimed_a) & set(claimed_b)
    assert len(claimed_a) + len(claimed_b) == 40
    engine_a.close()
    engine_b.close()


def test_a_killed_workers_timers_fire_after_claim_expiry(pg_url, calls, clock) -> None:
    killed = deployed(pg_url, calls, clock, worker_id="killed", claim_ttl=timedelta(seconds=30))
    for n in range(5):
        killed.start("engine_demo", START_DATA, f"C-{n}", INTAKE)
    clock.advance(days=1, minutes=1)
    assert len(killed.claim_due_timers()) == 5
    killed.close()  # dies holding its claims

    survivor = new_engine(pg_url, calls, clock, worker_id="survivor")
    assert survivor.fire_due_timers() == 0
    clock.advance(seconds=31)
    assert survivor.fire_due_timers() == 5
    assert calls.names() == ["remind"] * 5
    survivor.close()


def test_one_worker_with_threads_fires_an_instances_timers_in_order(pg_url, calls, clock) -> None:
    """Both timers of each instance are due: the reminder, then the timeout that ends it. The
    threads take instances side by side, never two timers of one instance at once."""
    engine = deployed(pg_url, calls, clock)
    instances = [engine.start("engine_demo", START_DATA, f"C-{n}", INTAKE).id for n in range(30)]
    clock.advance(days=2, minutes=1)

    threads = default_threads(engine)
    assert threads > 1
    assert fire_until_idle(engine, 200, threads) == 60
    assert Counter(name for name, _, _ in calls.seen) == {"remind": 30}
    assert {engine.instance(i).status for i in instances} == {"completed"}
    with engine.sql.connect() as connection:
        outcomes = connection.execute(
            select(Timer.status, Timer.attempts, func.count()).group_by(
                Timer.status, Timer.attempts
            )
        ).all()
    assert sorted(outcomes) == [("fired", 0, 60)]
    engine.close()
