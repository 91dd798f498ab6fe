"""The audit trail is written with each operation's transaction, in the order things happened,
and is visible to a handler reading it within that transaction. (That a rollback takes the
events with it is shown in test_engine_failures: a failed completion leaves no task_completed.)"""

from __future__ import annotations

from sqlalchemy import event, select

from engine import Engine
from engine.models import AuditEvent, HumanTask
from tests.conftest import INTAKE
from tests.test_engine_failures import engine_with
from tests.test_engine_scenarios import START_DATA, only_open_task


class TrailReader:
    """A numbering handler that reads its instance's trail as it runs."""

    def __init__(self) -> None:
        self.seen: list[list[str]] = []

    def __call__(self, params: dict, context) -> dict:
        rows = context.session.scalars(
            select(AuditEvent.event)
            .where(AuditEvent.instance_id == context.instance_id)
            .order_by(AuditEvent.id)
        )
        self.seen.append(list(rows))
        return {"tracking_number": "T-0001"}


class TaskReader:
    """A numbering handler that reads another table, as handlers do."""

    def __call__(self, params: dict, context) -> dict:
        context.session.scalars(select(HumanTask.id)).all()
        return {"tracking_number": "T-0001"}


def review_and_register(engine: Engine) -> int:
    instance = engine.start("engine_demo", dict(START_DATA), "C-1", INTAKE)
    task = only_open_task(engine, instance.id)
    engine.complete_task(task.id, {"severity": "low"}, INTAKE)
    return instance.id


def test_a_handler_sees_the_events_of_its_own_transaction(sqlite_url, clock) -> None:
    reader = TrailReader()
    engine = engine_with(sqlite_url, clock, number=reader)
    trail = [e.event for e in engine.history(review_and_register(engine))]
    so_far = trail[: trail.index("task_completed") + 1]
    assert reader.seen == [so_far]
    assert so_far[0] == "instance_started"


def test_events_are_kept_in_the_order_they_happened(sqlite_url, clock) -> None:
    engine = engine_with(sqlite_url, clock)
    instance_id = review_and_register(engine)
    trail = engine.history(instance_id)
    events = [e.event for e in trail]
    assert events.index("instance_started") < events.index("task_ready")
    assert events.index("task_ready") < events.index("task_completed")
    assert [e.id for e in trail] == sorted(e.id for e in trail)


def test_a_handler_reading_other_tables_costs_the_trail_no_insert_of_its_own(
    sqlite_url, clock
) -> None:
    engine = engine_with(sqlite_url, clock, number=TaskReader())
    instance = engine.start("engine_demo", dict(START_DATA), "C-1", INTAKE)
    task = only_open_task(engine, instance.id)
    inserts: list[str] = []

    def count(conn, cursor, statement: str, *args) -> None:
        if statement.startswith("INSERT INTO audit_events"):
            inserts.append(statement)

    event.listen(engine.sql, "before_cursor_execute", count)
    try:
        engine.complete_task(task.id, {"severity": "low"}, INTAKE)
    finally:
        event.remove(engine.sql, "before_cursor_execute", count)
    assert len(inserts) == 1
    events = [e.event for e in engine.history(instance.id)]
    after = events[events.index("task_completed") :]
    assert "timer_cancelled" in after and "timer_scheduled" in after  # all in that one insert
