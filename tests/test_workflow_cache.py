"""An instance's next step starts from the workflow kept in memory since its last one, never
from a stale or half-changed one: another process's step, a failed step and a caller holding
on to the data all leave the next step exactly where the database says the instance is."""

from __future__ import annotations

import pytest

from engine import Engine, HandlerFailed, spiff
from tests.conftest import INTAKE, Calls, new_engine
from tests.test_engine_failures import Switch, engine_with

START_DATA = {"review_limit": "P2D", "notes": ["called twice"]}


@pytest.fixture
def restores(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many times a workflow was rebuilt from its stored state."""
    counted: list[int] = []
    restore = spiff.Instance.restore.__func__

    def counting(cls, state, specs, call):
        counted.append(1)
        return restore(cls, state, specs, call)

    monkeypatch.setattr(spiff.Instance, "restore", classmethod(counting))
    return counted


def review(engine: Engine, instance_id: int):
    (task,) = engine.tasks(instance_id=instance_id)
    return task


def test_the_next_step_uses_the_workflow_kept_since_the_last(
    engine: Engine, restores: list[int]
) -> None:
    instance = engine.start("engine_demo", START_DATA, "C-1", INTAKE)
    engine.complete_task(review(engine, instance.id).id, {"severity": "low"}, INTAKE)
    assert engine.instance(instance.id).data["route"] == "reply"
    assert restores == []


def test_a_step_taken_by_another_process_is_read_from_the_database(
    engine: Engine, sqlite_url: str, calls: Calls, clock, restores: list[int]
) -> None:
    instance = engine.start("engine_demo", START_DATA, "C-1", INTAKE)
    other = new_engine(sqlite_url, calls, clock)
    try:
        other.complete_task(review(other, instance.id).id, {"severity": "low"}, INTAKE)
    finally:
        other.close()
    assert len(restores) == 1  # the other process had nothing in memory

    seen = engine.instance(instance.id)
    assert (seen.data["severity"], seen.data["route"]) == ("low", "reply")
    assert len(restores) == 2
    clock.advance(days=1)
    done = engine.send_message("C-1", "reply_received", {"text": "ok"}, INTAKE)
    assert done.status == "completed" and len(restores) == 2  # kept after the first read


def test_a_failed_step_leaves_nothing_changed_in_memory(
    sqlite_url: str, clock, restores: list[int]
) -> None:
    gateway = Switch()
    engine = engine_with(sqlite_url, clock, number=gateway)
    try:
        instance = engine.start("engine_demo", START_DATA, "C-1", INTAKE)
        task = review(engine, instance.id)
        with pytest.raises(HandlerFailed):
            engine.complete_task(task.id, {"severity": "high"}, INTAKE)
        after = engine.instance(instance.id)
        assert "severity" not in after.data and "route" not in after.data
        assert len(restores) == 1  # the failed step's workflow was dropped

        gateway.broken = False
        engine.complete_task(task.id, {"severity": "low"}, INTAKE)
        assert engine.instance(instance.id).data["severity"] == "low"
        assert gateway.calls == 2
    finally:
        engine.close()


def test_data_handed_in_or_out_is_never_the_workflows_own(
    engine: Engine, sqlite_url: str, calls: Calls, clock
) -> None:
    given = {"review_limit": "P2D", "notes": ["called twice"]}
    instance = engine.start("engine_demo", given, "C-1", INTAKE)
    given["notes"].append("changed by the caller afterwards")
    instance.data["notes"].append("changed in the view")
    form = {"severity": "low"}
    engine.complete_task(review(engine, instance.id).id, form, INTAKE)
    form["severity"] = "high"

    kept = engine.instance(instance.id).data
    fresh = new_engine(sqlite_url, calls, clock)  # nothing in memory: the stored state
    try:
        stored = fresh.instance(instance.id).data
    finally:
        fresh.close()
    assert kept == stored
    assert (stored["notes"], stored["severity"]) == (["called twice"], "low")


def test_memory_holds_at_most_the_configured_number_of_running_workflows(
    sqlite_url: str, calls: Calls, clock
) -> None:
    from api.composition import bundle_files
    from tests.conftest import ADMIN, DEMO_PROCESSES

    engine = new_engine(sqlite_url, calls, clock, workflow_cache=2)
    none_kept = new_engine(sqlite_url, calls, clock, workflow_cache=0)
    try:
        engine.deploy(bundle_files(DEMO_PROCESSES), ADMIN)
        ids = [engine.start("engine_demo", START_DATA, f"C-{i}", INTAKE).id for i in range(3)]
        assert engine._workflows.kept() == ids[1:]  # the least recently used went first
        engine.instance(ids[1])
        assert engine._workflows.kept() == [ids[2], ids[1]]

        none_kept.complete_task(review(none_kept, ids[0]).id, {"severity": "low"}, INTAKE)
        assert none_kept._workflows.kept() == []
        assert none_kept.instance(ids[0]).data["route"] == "reply"
    finally:
        engine.close()
        none_kept.close()


def test_a_finished_instance_is_not_kept(engine: Engine, clock) -> None:
    instance = engine.start("engine_demo", START_DATA, "C-1", INTAKE)
    engine.complete_task(review(engine, instance.id).id, {"severity": "low"}, INTAKE)
    assert engine._workflows.kept() == [instance.id]
    clock.advance(days=1)
    assert engine.send_message("C-1", "reply_received", {}, INTAKE).status == "completed"
    assert engine._workflows.kept() == []


def test_the_number_kept_is_set_through_the_environment(sqlite_url: str) -> None:
    from api.composition import build_engine
    from api.settings import Settings

    assert Settings.from_env({}).workflow_cache == 256
    env = {"COMPLAINTS_DATABASE_URL": sqlite_url, "COMPLAINTS_WORKFLOW_CACHE": "0"}
    engine = build_engine(Settings.from_env(env))
    try:
        assert engine._workflows.size == 0
    finally:
        engine.close()
    with pytest.raises(ValueError, match="cannot be negative"):
        build_engine(Settings.from_env({**env, "COMPLAINTS_WORKFLOW_CACHE": "-1"}))


def test_data_json_would_change_is_never_kept_in_memory(
    engine: Engine, restores: list[int]
) -> None:
    """A tuple or a number as a key comes back from the stored state as a list or a string:
    a workflow holding such values must not stand in for its stored state, or the next step
    would depend on whether it happened to be in memory."""
    data = {"review_limit": "P2D", "pair": (1, 2), "by_id": {7: "seven"}}
    instance = engine.start("engine_demo", data, "C-1", INTAKE)
    assert engine._workflows.kept() == []
    seen = engine.instance(instance.id).data
    assert (seen["pair"], seen["by_id"]) == ([1, 2], {"7": "seven"})
    assert len(restores) == 1
    assert engine._workflows.kept() == [instance.id]  # as restored, it is what is stored


def test_a_kept_workflows_tasks_share_no_data_and_call_no_handler(engine: Engine) -> None:
    """In memory SpiffWorkflow lets a new task's data share nested values with its parent's;
    restored, they never do. Kept between steps, a workflow is made to look restored, and its
    handlers are unhooked until the next operation attaches its own."""
    data = {"review_limit": "P2D", "location": {"tags": ["river"]}}
    instance = engine.start("engine_demo", data, "C-1", INTAKE)
    kept = engine._workflows._entries[instance.id][2]
    (ready,) = [t for t in kept.workflow.get_tasks() if t.task_spec.bpmn_id == "review"]
    assert ready.data["location"] == ready.parent.data["location"]
    assert ready.data["location"]["tags"] is not ready.parent.data["location"]["tags"]
    with pytest.raises(HandlerFailed, match="called outside an operation"):
        kept.workflow.script_engine.call_service(ready, "number", {})


class _Kept:
    """What the cache asks of a workflow: saved as is, still running."""

    saved_waits = None
    stored_as_is = True
    completed = False

    def detach(self) -> None:
        pass


def test_an_older_reader_neither_drops_nor_replaces_a_newer_steps_workflow() -> None:
    from types import SimpleNamespace

    from engine.workflow_cache import WorkflowCache

    class Committed(SimpleNamespace):
        info: dict

    cache = WorkflowCache(4)
    newer, older = _Kept(), _Kept()
    session = Committed(info={})
    cache.lend(session, SimpleNamespace(id=1, version=3, deployment_id=1), newer)
    cache.keep_committed(session)
    stale_row = SimpleNamespace(id=1, version=2, deployment_id=1)
    assert cache.take(stale_row) is None
    cache.lend(session, stale_row, older)
    cache.keep_committed(session)
    assert cache.take(SimpleNamespace(id=1, version=3, deployment_id=1)) is newer
