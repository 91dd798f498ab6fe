"""When a handler fails or the engine stops, nothing is half-written and nothing is lost."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from api.composition import bundle_files, compile_form
from engine import Engine, HandlerFailed, WorkflowFailed
from engine.models import AuditEvent
from tests.conftest import ADMIN, DEMO_PROCESSES, INTAKE, Calls, new_engine

START_DATA = {"review_limit": "P2D"}


class Switch:
    """A handler that fails until it is mended, as a remote service does."""

    def __init__(self) -> None:
        self.broken = True
        self.calls = 0

    def __call__(self, params: dict, context) -> dict:
        self.calls += 1
        if self.broken:
            raise ConnectionError("notification gateway unreachable")
        return {"sent": True}


def engine_with(url: str, clock, **handlers) -> Engine:
    calls = Calls()
    table = {"number": calls.handler("number"), "remind": calls.handler("remind"), **handlers}
    engine = Engine(
        url, handlers=table, compile_form=compile_form, clock=clock, max_timer_attempts=3
    )
    engine.create_schema()
    engine.deploy(bundle_files(DEMO_PROCESSES), ADMIN)
    return engine


def test_failing_handler_is_named_and_leaves_the_instance_as_it_was(sqlite_url, clock) -> None:
    engine = engine_with(sqlite_url, clock, number=Switch())
    instance = engine.start("engine_demo", START_DATA, "C-1", INTAKE)
    task = engine.tasks(instance_id=instance.id)[0]
    before = engine.instance(instance.id)

    with pytest.raises(HandlerFailed) as failed:
        engine.complete_task(task.id, {"severity": "low"}, INTAKE)
    assert (failed.value.handler, failed.value.element) == ("number", "register")
    assert "unreachable" in str(failed.value)

    after = engine.instance(instance.id)
    assert after.data == before.data and after.timers == before.timers
    assert engine.task(task.id).status == "open"
    trail = engine.history(instance.id)
    assert "task_completed" not in [e.event for e in trail]
    assert trail[-1].event == "task_failed" and "number" in trail[-1].detail["error"]


def test_failing_handler_at_start_leaves_no_instance(sqlite_url, clock) -> None:
    engine = engine_with(sqlite_url, clock, number=Switch())
    engine.deploy(demo_starting_with_registration(), ADMIN)
    with pytest.raises(HandlerFailed):
        engine.start("engine_demo", START_DATA, "C-1", INTAKE)
    assert engine.instances() == []
    assert engine.tasks() == []


def test_rows_written_within_a_start_commit_with_it_or_not_at_all(sqlite_url, clock) -> None:
    """A caller's own rows (an intake marked started) share the start's transaction."""
    engine = engine_with(sqlite_url, clock)

    def note(session: Session) -> None:
        session.add(AuditEvent(at=clock.now(), actor="intake", event="caller_row", detail={}))

    def broken(session: Session) -> None:
        note(session)
        raise RuntimeError("the caller's row cannot be written")

    with pytest.raises(RuntimeError):
        engine.start("engine_demo", START_DATA, "C-1", INTAKE, within=broken)
    assert engine.instances() == [] and engine.tasks() == []
    with Session(engine.sql) as session:
        events = session.scalars(select(AuditEvent.event)).all()
    assert events == ["deployed"]  # the caller's failure is its own, not the engine's

    instance = engine.start("engine_demo", START_DATA, "C-2", INTAKE, within=note)
    assert [t.element_id for t in engine.tasks(instance_id=instance.id)] == ["review"]
    with Session(engine.sql) as session:
        events = session.scalars(select(AuditEvent.event).order_by(AuditEvent.id)).all()
    assert events[1] == "instance_started" and events[-1] == "caller_row"


def test_a_timer_computed_past_the_calendar_fails_the_step_cleanly(sqlite_url, clock) -> None:
    """A duration from data (not a literal, which deploy refuses) that no date can hold."""
    engine = engine_with(sqlite_url, clock)
    with pytest.raises(WorkflowFailed, match="out of range"):
        engine.start("engine_demo", {"review_limit": "P300000M"}, "C-1", INTAKE)
    assert engine.instances() == [] and engine.tasks() == []


def demo_starting_with_registration() -> dict[str, bytes]:
    """The demo with review skipped: its start runs straight into the `number` handler."""
    files = bundle_files(DEMO_PROCESSES)
    text = files["engine_demo.bpmn"].decode()
    text = text.replace(
        'sourceRef="received" targetRef="review"', 'sourceRef="received" targetRef="register"'
    )
    text = text.replace("<bpmn:incoming>to_review</bpmn:incoming>", "")
    text = text.replace(
        "<bpmn:incoming>to_register</bpmn:incoming>",
        "<bpmn:incoming>to_register</bpmn:incoming><bpmn:incoming>to_review</bpmn:incoming>",
    )
    text = text.replace(
        'sourceRef="review" targetRef="register"', 'sourceRef="review" targetRef="escalated"'
    )
    files["engine_demo.bpmn"] = text.encode()
    return files


def test_failing_timer_is_retried_with_back_off_then_becomes_an_incident(sqlite_url, clock) -> None:
    remind = Switch()
    engine = engine_with(sqlite_url, clock, remind=remind)
    instance = engine.start("engine_demo", START_DATA, "C-1", INTAKE)
    clock.advance(days=1, minutes=1)

    assert engine.fire_due_timers() == 0
    timer = next(
        t for t in engine.instance(instance.id).timers if t.element_id == "review_reminder"
    )
    assert (timer.status, timer.attempts) == ("pending", 1)
    assert "unreachable" in timer.last_error
    assert engine.fire_due_timers() == 0 and remind.calls == 1  # backing off, not hammering

    clock.advance(seconds=3)
    engine.fire_due_timers()
    clock.advance(seconds=5)
    engine.fire_due_timers()
    assert remind.calls == 3
    [incident] = engine.incidents()
    assert (incident.element_id, incident.attempts, incident.status) == (
        "review_reminder",
        3,
        "incident",
    )
    assert "incident_opened" in [e.event for e in engine.history(instance.id)]

    remind.broken = False
    engine.retry_incident(incident.id, ADMIN)
    clock.advance(seconds=1)
    assert engine.fire_due_timers() == 1
    assert engine.incidents() == []


def test_an_incident_ends_with_its_task_when_another_timer_of_the_instance_fires(
    sqlite_url, clock
) -> None:
    remind = Switch()
    engine = engine_with(sqlite_url, clock, remind=remind)
    instance = engine.start("engine_demo", START_DATA, "C-1", INTAKE)
    review = engine.tasks(instance_id=instance.id)[0]
    clock.advance(days=1, minutes=1)
    for _ in range(3):
        engine.fire_due_timers()
        clock.advance(seconds=10)
    [incident] = engine.incidents()

    remind.broken = False  # the gateway is back before the review's two days are up
    clock.advance(days=1)
    assert engine.fire_due_timers() == 1  # the timeout; an incident waits for administrators
    after = engine.instance(instance.id)
    assert after.status == "completed" and "escalated" in after.completed_elements
    assert engine.task(review.id).status == "cancelled"
    assert engine.incidents() == []
    assert {t.id: t.status for t in after.timers}[incident.id] == "fired"


def test_failing_timer_does_not_block_the_others(sqlite_url, clock) -> None:
    engine = engine_with(sqlite_url, clock, remind=Switch())
    first = engine.start("engine_demo", START_DATA, "C-1", INTAKE)
    second = engine.start("engine_demo", START_DATA, "C-2", INTAKE)
    engine.complete_task(engine.tasks(instance_id=second.id)[0].id, {"severity": "low"}, INTAKE)
    clock.advance(days=8)
    engine.fire_due_timers()
    assert engine.instance(second.id).status == "completed"
    stuck = engine.instance(first.id)  # its own step fails as a whole and is retried later
    assert stuck.status == "running"
    assert {t.element_id: t.attempts for t in stuck.timers} == {
        "review_reminder": 1,
        "review_timeout": 1,
    }


def test_state_tasks_and_timers_survive_closing_the_engine(sqlite_url, clock) -> None:
    calls = Calls()
    first = new_engine(sqlite_url, calls, clock)
    first.deploy(bundle_files(DEMO_PROCESSES), ADMIN)
    instance = first.start("engine_demo", START_DATA, "C-1", INTAKE)
    task = first.tasks(instance_id=instance.id)[0]
    first.complete_task(task.id, {"severity": "low"}, INTAKE)
    first.close()

    clock.advance(days=30)  # the reply window passed while no worker ran
    second = new_engine(sqlite_url, calls, clock)
    assert [t.element_id for t in second.instance(instance.id).timers if t.status == "pending"] == [
        "await_reply"
    ]
    assert second.fire_due_timers() == 1
    done = second.instance(instance.id)
    assert done.status == "completed" and "lapsed" in done.completed_elements
    fired = next(t for t in done.timers if t.element_id == "await_reply")
    assert fired.status == "fired"
    second.close()


def test_a_crashed_workers_claims_come_back_after_expiry(sqlite_url, clock) -> None:
    calls = Calls()
    crashed = new_engine(
        sqlite_url, calls, clock, worker_id="crashed", claim_ttl=timedelta(seconds=30)
    )
    crashed.deploy(bundle_files(DEMO_PROCESSES), ADMIN)
    instance = crashed.start("engine_demo", START_DATA, "C-1", INTAKE)
    clock.advance(days=1, minutes=1)
    assert len(crashed.claim_due_timers()) == 1  # ... and the worker dies here

    survivor = new_engine(sqlite_url, calls, clock, worker_id="survivor")
    assert survivor.fire_due_timers() == 0
    clock.advance(seconds=31)
    assert survivor.fire_due_timers() == 1
    assert calls.names() == ["remind"]
    assert engine_status(survivor, instance.id) == "running"


def engine_status(engine: Engine, instance_id: int) -> str:
    return engine.instance(instance_id).status
