"""An administrator migrates running instances over HTTP: dry run first, then apply."""

from __future__ import annotations

import pytest

from engine import Engine
from tests.conftest import ADMIN
from tests.test_api_support import Api, error_of, staff_api
from tests.test_engine_migration import demo_with


@pytest.fixture
def api(engine: Engine, sqlite_url: str) -> Api:
    return staff_api(engine, sqlite_url)


def test_dry_run_then_apply_moves_the_instances_the_plan_called_movable(
    api: Api, engine: Engine
) -> None:
    instance = api.start("C-1")
    engine.deploy(demo_with('name="Review"', 'name="Review it"'), ADMIN)
    admin = api.as_("admin")
    plan = admin.get("/api/migrations/plan?process=engine_demo&from=1&to=2").get_json()
    assert [(i["instance_id"], i["movable"]) for i in plan["items"]] == [(instance.id, True)]

    moved = admin.post(
        "/api/migrations", json={"process": "engine_demo", "from_version": 1, "to_version": 2}
    )
    assert moved.status_code == 200 and moved.get_json()["moved"] == 1
    assert engine.instance(instance.id).deployment_version == 2


def test_migration_is_for_administrators_and_checks_its_input(api: Api) -> None:
    assert (
        error_of(api.as_("li.intake").get("/api/migrations/plan?process=engine_demo&from=1&to=1"))[
            0
        ]
        == 403
    )
    admin = api.as_("admin")
    assert error_of(admin.get("/api/migrations/plan?from=1&to=2"))[2].keys() == {"process"}
    assert error_of(admin.get("/api/migrations/plan?process=engine_demo&from=1&to=7"))[0] == 404
    bad = admin.post("/api/migrations", json={"process": "engine_demo", "from_version": "1"})
    assert error_of(bad)[:2] == (422, "invalid_data")


def test_one_version_as_source_and_target_is_refused_and_moves_nothing(
    api: Api, engine: Engine
) -> None:
    instance = api.start("C-1")
    engine.deploy(demo_with('name="Review"', 'name="Review it"'), ADMIN)
    admin = api.as_("admin")
    plan = admin.get("/api/migrations/plan?process=engine_demo&from=1&to=1")
    assert error_of(plan) == (422, "invalid_data", {"to": ["must differ from 'from'"]})
    moved = admin.post(
        "/api/migrations", json={"process": "engine_demo", "from_version": 1, "to_version": 1}
    )
    assert error_of(moved) == (
        422,
        "invalid_data",
        {"to_version": ["must differ from 'from_version'"]},
    )
    assert engine.instance(instance.id).deployment_version == 1
    assert "instance_migrated" not in [e.event for e in engine.history(instance.id)]


@pytest.mark.parametrize("version", [999, 2**31, 2**63 - 1])
def test_a_version_no_deployment_can_have_is_unknown(api: Api, version: int) -> None:
    """2**31 and above cannot exist (an INTEGER column) and PostgreSQL would refuse to bind it:
    not found, as any version never deployed."""
    api.start("C-1")
    admin = api.as_("admin")
    for query in (f"from=1&to={version}", f"from={version}&to=1"):
        answer = admin.get(f"/api/migrations/plan?process=engine_demo&{query}")
        assert error_of(answer)[:2] == (404, "not_found"), query
    for body in (
        {"from_version": 1, "to_version": version},
        {"from_version": version, "to_version": 1},
        {"from_version": 10**20, "to_version": version},
    ):
        answer = admin.post("/api/migrations", json={"process": "engine_demo", **body})
        assert error_of(answer)[:2] == (404, "not_found"), body
