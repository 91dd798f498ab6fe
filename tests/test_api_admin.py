"""Instances, their history and incidents over HTTP: admins see everything; other staff see an
instance only when they have or had a task on it; incidents are for admins alone."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from api.composition import bundle_files, compile_form
from engine import Engine
from tests.conftest import ADMIN, DEMO_PROCESSES, INTAKE
from tests.test_api_support import START_DATA, Api, error_of, make_app, staff_api


@pytest.fixture
def api(engine: Engine, sqlite_url: str) -> Api:
    return staff_api(engine, sqlite_url)


def test_admins_list_instances_with_filters_and_others_get_403(api: Api) -> None:
    first = api.start("C-1")
    second = api.start("C-2")
    admin = api.as_("admin")

    answer = admin.get("/api/instances")
    assert answer.status_code == 200
    body = answer.get_json()
    assert [i["id"] for i in body["items"]] == [second.id, first.id]
    assert body["count"] == 2 and body["has_more"] is False
    item = body["items"][1]
    assert item["business_key"] == "C-1" and item["status"] == "running"
    assert item["created_at"] == "2026-03-02T01:00:00+00:00" and item["completed_at"] is None

    assert [i["id"] for i in admin.get("/api/instances?business_key=C-1").get_json()["items"]] == [
        first.id
    ]
    assert admin.get("/api/instances?status=completed").get_json()["items"] == []
    assert admin.get("/api/instances?process=engine_demo&limit=1").get_json()["has_more"] is True
    assert error_of(admin.get("/api/instances?limit=x"))[0] == 422
    assert error_of(api.as_("li.intake").get("/api/instances"))[:2] == (403, "forbidden")


def test_an_instance_is_shown_to_admins_and_to_staff_with_a_task_on_it(api: Api) -> None:
    instance = api.start()
    path = f"/api/instances/{instance.id}"

    shown = api.as_("admin").get(path)
    assert shown.status_code == 200
    body = shown.get_json()
    assert body["id"] == instance.id and body["deployment_version"] == 1
    assert [t["element_id"] for t in body["tasks"]] == ["review"]
    assert {t["element_id"] for t in body["timers"]} == {"review_timeout", "review_reminder"}
    assert all(t["due_at"].endswith("+00:00") for t in body["timers"])
    assert body["data"]["review_limit"] == "P2D"

    assert api.as_("li.intake").get(path).status_code == 200
    assert error_of(api.as_("wang.enforce").get(path))[:2] == (403, "forbidden")
    assert error_of(api.as_("wang.enforce").get(f"{path}/history"))[:2] == (403, "forbidden")


def test_staff_keep_seeing_an_instance_after_their_task_is_done(api: Api) -> None:
    instance = api.start()
    li = api.as_("li.intake")
    task = li.get("/api/tasks").get_json()["items"][0]
    li.post(f"/api/tasks/{task['id']}/complete", json={"data": {"severity": "high"}})

    assert li.get(f"/api/instances/{instance.id}").status_code == 200
    assert api.as_("wang.enforce").get(f"/api/instances/{instance.id}").status_code == 200


def test_history_lists_the_audit_trail_oldest_first(api: Api) -> None:
    instance = api.start()
    li = api.as_("li.intake")
    task_id = li.get("/api/tasks").get_json()["items"][0]["id"]
    li.post(f"/api/tasks/{task_id}/claim")

    answer = li.get(f"/api/instances/{instance.id}/history")
    assert answer.status_code == 200
    events = answer.get_json()["items"]
    names = [e["event"] for e in events]
    assert names[0] == "instance_started" and names[-1] == "task_claimed"
    claimed = events[-1]
    assert claimed["actor"] == "li.intake" and claimed["task_id"] == task_id
    assert claimed["data_after"] == {"assignee": "li.intake"}
    assert claimed["at"] == "2026-03-02T01:00:00+00:00"
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)


@pytest.mark.parametrize("who", ["admin", "li.intake"])
def test_an_unknown_instance_is_404_for_everyone(api: Api, who: str) -> None:
    for path in ("/api/instances/999", "/api/instances/999/history"):
        assert error_of(api.as_(who).get(path))[:2] == (404, "not_found")


# ------------------------------------------------------------ incidents


def failing_remind(params: dict, context) -> None:
    raise RuntimeError("mail server down")


@pytest.fixture
def broken_api(sqlite_url: str, clock) -> Iterator[Api]:
    """The demo process with a reminder handler that always fails, one attempt allowed."""
    engine = Engine(
        sqlite_url,
        handlers={"number": lambda params, context: {"n": 1}, "remind": failing_remind},
        compile_form=compile_form,
        clock=clock,
        max_timer_attempts=1,
    )
    engine.create_schema()
    engine.deploy(bundle_files(DEMO_PROCESSES), ADMIN)
    helper = Api(make_app(engine, sqlite_url), engine)
    helper.add_user("admin", admin=True)
    helper.add_user("li.intake", "intake")
    yield helper
    engine.close()


def test_admins_list_incidents_and_retry_them(broken_api: Api, clock) -> None:
    instance = broken_api.engine.start("engine_demo", dict(START_DATA), "C-9", INTAKE)
    clock.advance(days=1, minutes=1)
    broken_api.engine.fire_due_timers()

    admin = broken_api.as_("admin")
    listed = admin.get("/api/incidents")
    assert listed.status_code == 200
    [incident] = listed.get_json()["items"]
    assert incident["instance_id"] == instance.id
    assert incident["element_id"] == "review_reminder" and incident["status"] == "incident"
    assert "mail server down" in incident["last_error"]

    retried = admin.post(f"/api/incidents/{incident['id']}/retry")
    assert retried.status_code == 200
    assert retried.get_json() == {"id": incident["id"], "status": "pending"}
    assert admin.get("/api/incidents").get_json()["items"] == []
    assert error_of(admin.post(f"/api/incidents/{incident['id']}/retry"))[:2] == (404, "not_found")
    trail = [e.event for e in broken_api.engine.history(instance.id)]
    assert "incident_retried" in trail


def test_incidents_are_for_admins_only(api: Api) -> None:
    clerk = api.as_("li.intake")
    assert error_of(clerk.get("/api/incidents"))[:2] == (403, "forbidden")
    assert error_of(clerk.post("/api/incidents/1/retry"))[:2] == (403, "forbidden")
    assert error_of(api.as_("admin").post("/api/incidents/12345/retry"))[0] == 404
