"""Scenarios through the real engine on SQLite, with the injected clock: a clerk reviews, the
system registers and decides, and timers, messages and a call activity take over."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from engine import Actor, Conflict, Engine, Forbidden, InvalidData, NotFound
from engine.models import Instance
from tests.conftest import ENFORCEMENT, INTAKE, Calls

START_DATA = {"review_limit": "P2D", "review_due": "2026-03-04T01:00:00+00:00"}


def start(engine: Engine, key: str = "C-1"):
    return engine.start("engine_demo", dict(START_DATA), key, INTAKE)


def only_open_task(engine: Engine, instance_id: int):
    tasks = engine.tasks(instance_id=instance_id)
    assert len(tasks) == 1, tasks
    return tasks[0]


def events(engine: Engine, instance_id: int) -> list[str]:
    return [e.event for e in engine.history(instance_id)]


def test_started_instance_waits_for_review_by_intake_with_due_date(engine: Engine) -> None:
    instance = start(engine)
    task = only_open_task(engine, instance.id)
    assert (task.element_id, task.form_key, task.candidate_groups) == (
        "review",
        "review",
        ["intake"],
    )
    assert task.due_at.isoformat() == "2026-03-04T01:00:00+00:00"
    assert {t.element_id for t in instance.timers} == {"review_timeout", "review_reminder"}
    assert engine.tasks(actor=ENFORCEMENT) == []
    assert [t.id for t in engine.tasks(actor=INTAKE)] == [task.id]


def test_the_data_survives_a_store_that_reorders_the_saved_tasks(engine: Engine) -> None:
    """PostgreSQL's jsonb returns object keys in an order of its own; SpiffWorkflow needs each
    task after its parent to rebuild the task's data."""
    instance = start(engine)
    with engine.sql.begin() as connection:
        state = connection.execute(
            select(Instance.state).where(Instance.id == instance.id)
        ).scalar_one()
        state["tasks"] = dict(reversed(state["tasks"].items()))
        # written as another process would write it: with the next version, so this engine
        # restores the stored state rather than use the workflow it kept in memory
        connection.execute(
            update(Instance)
            .where(Instance.id == instance.id)
            .values(state=state, version=Instance.version + 1)
        )
    task = only_open_task(engine, instance.id)
    engine.complete_task(task.id, {"severity": "low"}, INTAKE)
    data = engine.instance(instance.id).data
    assert (data["review_limit"], data["severity"], data["route"]) == ("P2D", "low", "reply")


def test_reply_received_before_the_window_ends_completes_the_instance(
    engine: Engine, calls: Calls, clock
) -> None:
    instance = start(engine)
    task = only_open_task(engine, instance.id)
    engine.complete_task(task.id, {"severity": "low"}, INTAKE)

    after = engine.instance(instance.id)
    assert after.data["route"] == "reply"
    assert after.data["registration"] == {"tracking_number": "T-0001"}
    assert calls.seen[0][0] == "number" and calls.seen[0][2].startswith(f"{instance.id}:")
    assert [(t.element_id, t.status) for t in after.timers if t.status == "pending"] == [
        ("await_reply", "pending")
    ]
    clock.advance(days=3)
    done = engine.send_message("C-1", "reply_received", {"text": "ok"}, INTAKE)
    assert done.status == "completed"
    assert "replied" in done.completed_elements and "lapsed" not in done.completed_elements
    assert {"instance_started", "task_completed", "message_received", "instance_completed"} <= set(
        events(engine, instance.id)
    )


def test_reply_window_lapses_after_seven_days_and_not_a_minute_before(
    engine: Engine, clock
) -> None:
    instance = start(engine)
    engine.complete_task(only_open_task(engine, instance.id).id, {"severity": "low"}, INTAKE)

    clock.advance(days=7, minutes=-1)
    assert engine.fire_due_timers() == 0
    assert engine.instance(instance.id).status == "running"

    clock.advance(minutes=2)
    assert engine.fire_due_timers() == 1
    lapsed = engine.instance(instance.id)
    assert lapsed.status == "completed"
    assert "lapsed" in lapsed.completed_elements and "replied" not in lapsed.completed_elements
    with pytest.raises(NotFound):
        engine.send_message("C-1", "reply_received", {}, INTAKE)


def test_reminder_fires_after_one_day_and_leaves_the_review_open(
    engine: Engine, calls: Calls, clock
) -> None:
    instance = start(engine)
    task = only_open_task(engine, instance.id)
    clock.advance(hours=23)
    assert engine.fire_due_timers() == 0
    clock.advance(hours=2)
    assert engine.fire_due_timers() == 1
    assert calls.names() == ["remind"]
    assert only_open_task(engine, instance.id).id == task.id
    assert engine.instance(instance.id).status == "running"


def test_review_overdue_cancels_the_review_and_escalates_after_two_days(
    engine: Engine, clock
) -> None:
    instance = start(engine)
    task = only_open_task(engine, instance.id)
    clock.advance(days=2, minutes=1)
    engine.fire_due_timers()

    after = engine.instance(instance.id)
    assert after.status == "completed"
    assert "escalated" in after.completed_elements
    cancelled = engine.task(task.id)
    assert (cancelled.status, cancelled.completed_at) == ("cancelled", clock.now())
    assert [
        (e.actor, e.instance_id, e.business_key, e.task_id, e.element_id)
        for e in engine.history(instance.id)
        if e.event == "task_cancelled"
    ] == [("timer", instance.id, "C-1", task.id, "review")]
    with pytest.raises(Conflict):
        engine.complete_task(task.id, {"severity": "low"}, INTAKE)


def test_high_severity_calls_the_inspection_process_for_enforcement(engine: Engine) -> None:
    instance = start(engine)
    engine.complete_task(only_open_task(engine, instance.id).id, {"severity": "high"}, INTAKE)
    inspection = only_open_task(engine, instance.id)
    assert (inspection.element_id, inspection.candidate_groups) == ("inspect_site", ["enforcement"])

    with pytest.raises(Forbidden):
        engine.complete_task(inspection.id, {"violation_found": True}, INTAKE)
    engine.complete_task(inspection.id, {"violation_found": True}, ENFORCEMENT)
    done = engine.instance(instance.id)
    assert done.status == "completed"
    assert done.data["violation_found"] is True
    assert "inspected" in done.completed_elements


def test_form_errors_name_the_field_and_change_nothing(engine: Engine) -> None:
    instance = start(engine)
    task = only_open_task(engine, instance.id)
    before = engine.history(instance.id)

    with pytest.raises(InvalidData) as refused:
        engine.complete_task(task.id, {"severity": "catastrophic"}, INTAKE)
    assert "severity" in refused.value.fields
    with pytest.raises(InvalidData) as unknown:
        engine.complete_task(task.id, {"severity": "low", "__import__": "os"}, INTAKE)
    assert "__import__" in unknown.value.fields

    assert engine.task(task.id).status == "open"
    assert engine.history(instance.id) == before


def test_completing_a_task_twice_is_a_conflict(engine: Engine) -> None:
    instance = start(engine)
    task = only_open_task(engine, instance.id)
    engine.complete_task(task.id, {"severity": "low"}, INTAKE)
    with pytest.raises(Conflict):
        engine.complete_task(task.id, {"severity": "low"}, INTAKE)


def test_claim_unclaim_and_reassign_are_checked_and_audited(engine: Engine) -> None:
    instance = start(engine)
    task = only_open_task(engine, instance.id)
    colleague = INTAKE.__class__("zhao.intake", frozenset({"intake"}))

    assert engine.claim(task.id, INTAKE).assignee == INTAKE.id
    with pytest.raises(Conflict):
        engine.claim(task.id, colleague)
    with pytest.raises(Forbidden):
        engine.complete_task(task.id, {"severity": "low"}, colleague)
    with pytest.raises(Forbidden):
        engine.claim(task.id, ENFORCEMENT)
    with pytest.raises(InvalidData):
        engine.assign(task.id, colleague.id, INTAKE, reason=" ")
    assert engine.assign(task.id, colleague.id, INTAKE, reason="on leave").assignee == colleague.id
    assert engine.unclaim(task.id, colleague).assignee is None

    trail = [(e.event, e.actor, e.reason) for e in engine.history(instance.id)]
    assert ("task_claimed", INTAKE.id, None) in trail
    assert ("task_assigned", INTAKE.id, "on leave") in trail
    assert ("task_unclaimed", colleague.id, None) in trail
    assigned = next(e for e in engine.history(instance.id) if e.event == "task_assigned")
    assert assigned.data_before == {"assignee": INTAKE.id}
    assert assigned.data_after == {"assignee": colleague.id}


EXPERT = Actor("zhao.expert", frozenset({"department_head"}))


def test_a_delegated_task_comes_back_to_its_owner_with_the_delegates_values(
    engine: Engine,
) -> None:
    instance = start(engine)
    task = only_open_task(engine, instance.id)
    with pytest.raises(Forbidden):  # only the assignee delegates
        engine.delegate(task.id, EXPERT.id, INTAKE, "needs an expert view")
    engine.claim(task.id, INTAKE)
    with pytest.raises(InvalidData):
        engine.delegate(task.id, EXPERT.id, INTAKE, " ")
    delegated = engine.delegate(task.id, EXPERT.id, INTAKE, "needs an expert view")
    assert (delegated.assignee, delegated.owner, delegated.delegation) == (
        EXPERT.id,
        INTAKE.id,
        "pending",
    )
    assert [t.id for t in engine.tasks(actor=EXPERT)] == [task.id]  # outside the group
    with pytest.raises(Conflict):
        engine.delegate(task.id, "someone.else", INTAKE, "again")
    for actor in (INTAKE, EXPERT):  # the owner waits, the delegate resolves
        with pytest.raises(Forbidden):
            engine.complete_task(task.id, {"severity": "high"}, actor)
    with pytest.raises(Forbidden):
        engine.resolve_task(task.id, {"severity": "low"}, INTAKE)
    with pytest.raises(InvalidData) as refused:
        engine.resolve_task(task.id, {"severity": "medium"}, EXPERT)
    assert "severity" in refused.value.fields

    resolved = engine.resolve_task(task.id, {"severity": "low"}, EXPERT)
    assert (resolved.status, resolved.assignee, resolved.delegation) == (
        "open",
        INTAKE.id,
        "resolved",
    )
    assert engine.task_data(task.id, INTAKE)["severity"] == "low"
    engine.complete_task(task.id, {"severity": "low"}, INTAKE)
    assert engine.instance(instance.id).data["route"] == "reply"
    trail = [(e.event, e.actor, e.reason) for e in engine.history(instance.id)]
    assert ("task_delegated", INTAKE.id, "needs an expert view") in trail
    assert ("task_resolved", EXPERT.id, None) in trail


def test_completion_audits_the_data_before_and_after(engine: Engine) -> None:
    instance = start(engine)
    task = only_open_task(engine, instance.id)
    engine.complete_task(task.id, {"severity": "low", "note": "checked"}, INTAKE)
    completed = next(e for e in engine.history(instance.id) if e.event == "task_completed")
    assert completed.actor == INTAKE.id and completed.task_id == task.id
    assert "task_cancelled" not in events(engine, instance.id)
    done = engine.task(task.id)
    assert (done.status, done.completed_by) == ("completed", INTAKE.id)
    assert completed.data_before == {"severity": None, "note": None}
    assert completed.data_after == {"severity": "low", "note": "checked"}


def test_message_nobody_waits_for_is_refused(engine: Engine) -> None:
    start(engine)
    with pytest.raises(Conflict):
        engine.send_message("C-1", "reply_received", {}, INTAKE)
    with pytest.raises(NotFound):
        engine.send_message("C-unknown", "reply_received", {}, INTAKE)


def test_unknown_task_and_instance_are_not_found(engine: Engine) -> None:
    with pytest.raises(NotFound):
        engine.complete_task("00000000-0000-0000-0000-000000000000", {}, INTAKE)
    with pytest.raises(NotFound):
        engine.instance(999)
    with pytest.raises(NotFound):
        engine.start("no_such_process", {}, None, INTAKE)


def test_next_timer_due_is_the_earliest_pending(engine: Engine, clock) -> None:
    start(engine)
    assert engine.next_timer_due() == clock.now() + timedelta(days=1)


def test_my_tasks_are_those_assigned_to_me_whichever_group_they_belong_to(
    engine: Engine,
) -> None:
    claimed, waiting, handed_on = (
        only_open_task(engine, start(engine, f"C-{n}").id) for n in (1, 2, 3)
    )
    engine.claim(claimed.id, INTAKE)
    engine.claim(handed_on.id, INTAKE)
    engine.delegate(handed_on.id, EXPERT.id, INTAKE, "needs an expert view")

    assert [t.id for t in engine.tasks(actor=INTAKE, mine=True)] == [claimed.id]
    assert engine.count_tasks(actor=INTAKE, mine=True) == 1
    assert [t.id for t in engine.tasks(actor=EXPERT, mine=True)] == [handed_on.id]
    assert engine.count_tasks(actor=EXPERT, mine=True) == 1
    assert waiting.id not in {t.id for t in engine.tasks(actor=EXPERT)}


def test_a_business_key_or_instance_lists_only_what_the_actor_may_see(engine: Engine) -> None:
    instance = start(engine, "C-7")
    task = only_open_task(engine, instance.id)
    for narrowed in ({"business_key": "C-7"}, {"instance_id": instance.id}):
        assert [t.id for t in engine.tasks(actor=INTAKE, **narrowed)] == [task.id]
        assert engine.count_tasks(actor=INTAKE, **narrowed) == 1
        assert engine.tasks(actor=ENFORCEMENT, **narrowed) == []
        assert engine.count_tasks(actor=ENFORCEMENT, **narrowed) == 0
    engine.complete_task(task.id, {"severity": "low"}, INTAKE)
    assert engine.tasks(actor=INTAKE, business_key="C-7") == []
    done = engine.tasks(actor=INTAKE, business_key="C-7", status="completed")
    assert [t.id for t in done] == [task.id]
