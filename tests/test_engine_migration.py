"""An administrator moves running instances to a new version: the dry run says which can move,
applying moves exactly those, and their timers keep the due times they had."""

from __future__ import annotations

import pytest

from api.composition import bundle_files
from engine import Engine, InvalidData, NotFound
from tests.conftest import ADMIN, DEMO_PROCESSES, INTAKE

START_DATA = {"review_limit": "P2D"}


def demo_with(old: str, new: str) -> dict[str, bytes]:
    files = bundle_files(DEMO_PROCESSES)
    text = files["engine_demo.bpmn"].decode()
    assert old in text
    files["engine_demo.bpmn"] = text.replace(old, new).encode()
    return files


def test_dry_run_lists_what_can_move_and_applying_moves_exactly_that(engine: Engine, clock) -> None:
    at_review = engine.start("engine_demo", START_DATA, "C-1", INTAKE)
    waiting = engine.start("engine_demo", START_DATA, "C-2", INTAKE)
    engine.complete_task(engine.tasks(instance_id=waiting.id)[0].id, {"severity": "low"}, INTAKE)
    timers = engine.instance(waiting.id).timers
    due_before = {t.element_id: t.due_at for t in timers if t.status == "pending"}

    # version 2 renames the escalation end: the instance still at review has it ahead of it
    engine.deploy(demo_with("escalated", "escalated_to_office"), ADMIN)
    plan = {c.business_key: c for c in engine.migration_plan("engine_demo", 1, 2)}
    assert not plan["C-1"].movable and plan["C-1"].missing_other == ["escalated"]
    assert plan["C-1"].active_elements == ["review", "review_reminder", "review_timeout"]
    assert plan["C-2"].movable and plan["C-2"].active_elements == ["await_reply"]

    moved = engine.migrate_instances("engine_demo", 1, 2, ADMIN)
    assert [c.business_key for c in moved] == [k for k, c in plan.items() if c.movable]
    assert engine.instance(at_review.id).deployment_version == 1
    assert engine.instance(waiting.id).deployment_version == 2
    pending = engine.instance(waiting.id).timers
    assert {t.element_id: t.due_at for t in pending if t.status == "pending"} == due_before
    [migrated] = [e for e in engine.history(waiting.id) if e.event == "instance_migrated"]
    assert migrated.actor == ADMIN.id and migrated.detail["to_version"] == 2

    clock.advance(days=7, minutes=1)
    engine.fire_due_timers()
    assert "lapsed" in engine.instance(waiting.id).completed_elements


def test_unknown_versions_and_processes_are_refused(engine: Engine) -> None:
    with pytest.raises(NotFound):
        engine.migration_plan("engine_demo", 1, 9)
    engine.deploy(demo_with('name="Review"', 'name="Review it"'), ADMIN)
    with pytest.raises(InvalidData):
        engine.migration_plan("no_such_process", 1, 2)


def test_a_moved_instance_runs_on_in_the_new_version(engine: Engine) -> None:
    instance = engine.start("engine_demo", START_DATA, "C-1", INTAKE)
    engine.deploy(demo_with('name="Review"', 'name="Review the complaint"'), ADMIN)
    engine.migrate_instances("engine_demo", 1, 2, ADMIN)
    task = engine.tasks(instance_id=instance.id)[0]
    engine.complete_task(task.id, {"severity": "low"}, INTAKE)
    assert engine.instance(instance.id).data["route"] == "reply"
