"""A process designer deploys bundles: good ones become versions, bad ones are refused with the
file, line and element at fault, and nothing is stored."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from api.composition import bundle_files
from engine import BundleInvalid, Engine, NotFound
from tests.clock import TravelClock
from tests.conftest import ADMIN, DEMO_PROCESSES, INTAKE, Calls, new_engine, shared_dir
from tests.test_engine_failures import demo_starting_with_registration

DEMO = "engine_demo.bpmn"


def demo_bundle() -> dict[str, bytes]:
    return bundle_files(DEMO_PROCESSES)


def with_demo_text(old: str, new: str) -> dict[str, bytes]:
    files = demo_bundle()
    text = files[DEMO].decode()
    assert old in text, old
    files[DEMO] = text.replace(old, new, 1).encode()
    return files


def refused(engine: Engine, files: dict[str, bytes]) -> list:
    versions_before = [d.version for d in engine.deployments()]
    with pytest.raises(BundleInvalid) as err:
        engine.deploy(files, ADMIN)
    assert [d.version for d in engine.deployments()] == versions_before
    return err.value.problems


def test_identical_content_deploys_as_the_same_version(engine: Engine) -> None:
    again = engine.deploy(demo_bundle(), ADMIN)
    assert (again.version, again.created) == (1, False)
    assert again.process_ids == ["engine_demo", "engine_demo_inspection"]
    assert engine.deployment_files(1) == demo_bundle()


def test_running_instances_stay_on_their_version_when_a_new_one_deploys(engine: Engine) -> None:
    old = engine.start("engine_demo", {"review_limit": "P2D"}, "C-old", INTAKE)
    changed = with_demo_text('name="Review"', 'name="Review the complaint"')
    assert engine.deploy(changed, ADMIN).version == 2
    new = engine.start("engine_demo", {"review_limit": "P2D"}, "C-new", INTAKE)
    assert (old.deployment_version, new.deployment_version) == (1, 2)
    assert engine.tasks(instance_id=old.id)[0].name == "Review"
    assert engine.tasks(instance_id=new.id)[0].name == "Review the complaint"
    task = engine.tasks(instance_id=old.id)[0]
    engine.complete_task(task.id, {"severity": "low"}, INTAKE)
    assert engine.instance(old.id).deployment_version == 1


def test_a_version_deployed_by_another_process_is_the_one_new_starts_use(
    engine: Engine, sqlite_url: str, calls: Calls, clock: TravelClock
) -> None:
    """The web process starts instances while a designer deploys through the CLI: the next
    start after the deployment runs the new version, though this engine knew the old one."""
    assert (
        engine.start("engine_demo", {"review_limit": "P2D"}, "C-1", INTAKE).deployment_version == 1
    )
    designer = new_engine(sqlite_url, calls, clock)
    try:
        changed = with_demo_text('name="Review"', 'name="Review the complaint"')
        assert designer.deploy(changed, ADMIN).version == 2
    finally:
        designer.close()
    started = engine.start("engine_demo", {"review_limit": "P2D"}, "C-2", INTAKE)
    assert started.deployment_version == 2
    assert started.tasks[0].name == "Review the complaint"
    with pytest.raises(NotFound, match="'nowhere' is not deployed"):
        engine.start("nowhere", {}, "C-3", INTAKE)


def test_a_start_that_calls_a_handler_at_once_runs_a_version_deployed_elsewhere(
    engine: Engine,
    sqlite_url: str,
    calls: Calls,
    clock: TravelClock,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Both versions' starts run straight into a handler: it is called once per start, for
    the instance on the newest version, never for one on the version this engine knew."""
    starting_with_registration = demo_starting_with_registration()
    assert engine.deploy(starting_with_registration, ADMIN).version == 2
    data = {"review_limit": "P2D", "severity": "low"}
    assert engine.start("engine_demo", data, "C-1", INTAKE).deployment_version == 2
    designer = new_engine(sqlite_url, calls, clock)
    try:
        renamed = starting_with_registration[DEMO].replace(b'name="Review"', b'name="Check"')
        files = {**starting_with_registration, DEMO: renamed}
        assert designer.deploy(files, ADMIN).version == 3
    finally:
        designer.close()
    with caplog.at_level(logging.INFO, logger="engine.service"):
        started = engine.start("engine_demo", data, "C-2", INTAKE)
    assert "deployments changed while starting engine_demo" in caplog.text  # ran twice
    assert started.deployment_version == 3
    assert started.data["registration"] == {"tracking_number": "T-0001"}
    assert [name for name, _, _ in calls.seen] == ["number", "number"]
    assert calls.seen[1][2].startswith(f"{started.id}:")
    assert [i["business_key"] for i in engine.instances()] == ["C-2", "C-1"]
    assert [e.event for e in engine.history(started.id)][:1] == ["instance_started"]


def test_malformed_xml_names_the_file_and_line(engine: Engine) -> None:
    problems = refused(engine, with_demo_text("<bpmn:userTask id=", "<bpmn:userTask <id="))
    assert problems[0].file == DEMO and problems[0].line is not None
    assert "malformed" in problems[0].message.lower()


def test_xsd_invalid_file_is_refused_with_its_line(engine: Engine) -> None:
    bogus = '<bpmn:startEvent id="received" name="Received" colour="red">'
    problems = refused(
        engine, with_demo_text('<bpmn:startEvent id="received" name="Received">', bogus)
    )
    assert (problems[0].file, problems[0].element) == (DEMO, "received")
    assert problems[0].line and "XSD" in problems[0].message


def test_unknown_handler_names_the_service_task(engine: Engine) -> None:
    problems = refused(
        engine, with_demo_text('serviceTaskOperator id="number"', 'serviceTaskOperator id="numbr"')
    )
    assert [(p.element, p.file) for p in problems] == [("register", DEMO)]
    assert "numbr" in problems[0].message and problems[0].line


def test_missing_form_names_the_user_task(engine: Engine) -> None:
    files = demo_bundle()
    del files["inspect_site.json"]
    problems = refused(engine, files)
    assert [(p.element, "inspect_site" in p.message) for p in problems] == [("inspect_site", True)]


def test_bad_form_file_is_refused_with_its_path(engine: Engine) -> None:
    files = demo_bundle()
    files["review.json"] = (
        b'{"title": {"zh": "x", "en": "x"}, "type": "object", "properties": {"a": {}}}'
    )
    problems = refused(engine, files)
    assert problems[0].file == "review.json"


def test_unquoted_timer_literal_is_refused(engine: Engine) -> None:
    problems = refused(engine, with_demo_text('>"P7D"<', ">P7D<"))
    assert problems[0].element == "reply_window" and "quoted" in problems[0].message


def test_missing_decision_names_the_business_rule_task(engine: Engine) -> None:
    files = demo_bundle()
    del files["route.dmn"]
    problems = refused(engine, files)
    assert problems[0].file == DEMO and "route" in problems[0].message


def test_condition_that_does_not_compile_is_refused(engine: Engine) -> None:
    problems = refused(engine, with_demo_text('route == "inspect"', 'route = = "inspect"'))
    assert problems[0].element == "to_inspect"


def test_unknown_file_type_is_refused(engine: Engine) -> None:
    files = demo_bundle()
    files["notes.txt"] = b"hello"
    assert refused(engine, files)[0].file == "notes.txt"


def miwg_files() -> list[Path]:
    shared = shared_dir()
    if shared is None:
        return []
    return sorted((shared / "conformance" / "miwg").rglob("*.bpmn"))


@pytest.mark.skipif(shared_dir() is None, reason="shared/conformance not found beside the checkout")
@pytest.mark.parametrize("path", miwg_files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_models_from_other_tools_deploy_or_are_refused_precisely(
    engine: Engine, path: Path
) -> None:
    try:
        info = engine.deploy({path.name: path.read_bytes()}, ADMIN)
    except BundleInvalid as err:
        assert err.problems
        for problem in err.problems:
            assert problem.file == path.name and problem.message
            assert "Traceback" not in problem.message
    else:
        assert info.process_ids
