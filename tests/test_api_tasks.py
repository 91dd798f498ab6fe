"""The task endpoints over HTTP: who sees which tasks, filters, reading a task with its data,
claim, unclaim, assign and complete, and every refusal as the standard error body."""

from __future__ import annotations

import pytest

from engine import Engine
from tests.test_api_support import Api, error_of, staff_api


@pytest.fixture
def api(engine: Engine, sqlite_url: str) -> Api:
    return staff_api(engine, sqlite_url)


def open_task_id(api: Api, instance_id: int) -> str:
    tasks = api.engine.tasks(instance_id=instance_id)
    assert len(tasks) == 1
    return tasks[0].id


def test_intake_sees_its_review_task_with_iso_dates_and_enforcement_does_not(api: Api) -> None:
    instance = api.start()
    answer = api.as_("li.intake").get("/api/tasks")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["count"] == 1 and body["has_more"] is False
    task = body["items"][0]
    assert task["element_id"] == "review" and task["candidate_groups"] == ["intake"]
    assert isinstance(task["id"], str) and task["instance_id"] == instance.id
    assert task["due_at"] == "2026-03-04T01:00:00+00:00"
    assert task["created_at"] == "2026-03-02T01:00:00+00:00"
    assert task["status"] == "open" and task["assignee"] is None

    assert api.as_("wang.enforce").get("/api/tasks").get_json() == {
        "items": [],
        "count": 0,
        "limit": 50,
        "offset": 0,
        "has_more": False,
    }
    assert api.as_("admin").get("/api/tasks").get_json()["count"] == 1


def test_task_list_filters_narrow_the_list(api: Api, clock) -> None:
    due_tomorrow = {"review_limit": "P2D", "review_due": "2026-03-03T01:00:00+00:00"}
    first = api.start("C-1", due_tomorrow)
    second = api.start("C-2", due_tomorrow)
    clerk = api.as_("li.intake")
    clerk.post(f"/api/tasks/{open_task_id(api, first.id)}/claim")

    def keys(query: str) -> list[str]:
        answer = clerk.get(f"/api/tasks?{query}")
        assert answer.status_code == 200, answer.get_json()
        return sorted(t["business_key"] for t in answer.get_json()["items"])

    assert keys("") == ["C-1", "C-2"]
    assert keys("mine=true") == ["C-1"]
    assert keys("business_key=C-2") == ["C-2"]
    assert keys(f"instance={second.id}") == ["C-2"]
    assert keys("process=engine_demo") == ["C-1", "C-2"]
    assert keys("process=other") == []
    assert keys("group=intake") == ["C-1", "C-2"]
    assert keys("group=enforcement") == ["C-1"]  # assigned to the caller, whatever the group
    assert keys("overdue=1") == []
    assert keys("status=completed") == []
    assert keys("status=all") == ["C-1", "C-2"]

    page = clerk.get("/api/tasks?limit=1").get_json()
    assert page["count"] == 1 and page["has_more"] is True
    rest = clerk.get("/api/tasks?limit=1&offset=1").get_json()
    assert rest["count"] == 1 and rest["has_more"] is False
    assert page["items"][0]["id"] != rest["items"][0]["id"]

    clock.advance(days=1, seconds=1)  # past review_due, the review timeout not yet
    clerk = api.as_("li.intake", fresh=True)
    assert keys("overdue=true") == ["C-1", "C-2"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=1000", "limit"),
        ("limit=ten", "limit"),
        ("offset=-1", "offset"),
        ("instance=abc", "instance"),
        ("mine=perhaps", "mine"),
        ("overdue=2", "overdue"),
        ("status=lost", "status"),
    ],
)
def test_bad_task_list_parameters_answer_422_naming_the_parameter(
    api: Api, query: str, field: str
) -> None:
    status, error, fields = error_of(api.as_("li.intake").get(f"/api/tasks?{query}"))
    assert (status, error) == (422, "invalid_data") and field in fields


def test_a_task_is_read_with_the_data_it_sees(api: Api) -> None:
    instance = api.start()
    task_id = open_task_id(api, instance.id)
    answer = api.as_("li.intake").get(f"/api/tasks/{task_id}")
    assert answer.status_code == 200
    body = answer.get_json()
    assert body["id"] == task_id and body["form_key"] == "review"
    assert body["data"]["review_due"] == "2026-03-04T01:00:00+00:00"


def test_a_task_of_other_groups_is_403_and_an_unknown_one_404(api: Api) -> None:
    task_id = open_task_id(api, api.start().id)
    enforcement = api.as_("wang.enforce")
    assert error_of(enforcement.get(f"/api/tasks/{task_id}"))[:2] == (403, "forbidden")
    for action in ("claim", "complete"):
        answer = enforcement.post(f"/api/tasks/{task_id}/{action}", json={"data": {}})
        assert error_of(answer)[:2] == (403, "forbidden")
    assert error_of(api.as_("li.intake").get("/api/tasks/no-such-task"))[:2] == (404, "not_found")
    assert error_of(api.as_("li.intake").post("/api/tasks/no-such-task/claim"))[0] == 404


def test_claim_then_a_colleagues_claim_conflicts_and_unclaim_frees_the_task(api: Api) -> None:
    task_id = open_task_id(api, api.start().id)
    li, zhao = api.as_("li.intake"), api.as_("zhao.intake")

    claimed = li.post(f"/api/tasks/{task_id}/claim")
    assert claimed.status_code == 200 and claimed.get_json()["assignee"] == "li.intake"
    assert error_of(zhao.post(f"/api/tasks/{task_id}/claim"))[:2] == (409, "conflict")
    assert error_of(zhao.post(f"/api/tasks/{task_id}/unclaim"))[:2] == (403, "forbidden")
    complete = zhao.post(f"/api/tasks/{task_id}/complete", json={"data": {"severity": "low"}})
    assert error_of(complete)[0] == 403

    freed = li.post(f"/api/tasks/{task_id}/unclaim")
    assert freed.status_code == 200 and freed.get_json()["assignee"] is None
    assert zhao.post(f"/api/tasks/{task_id}/claim").get_json()["assignee"] == "zhao.intake"


def test_assign_hands_the_task_to_a_colleague_of_its_groups_with_a_reason(api: Api) -> None:
    instance = api.start()
    task_id = open_task_id(api, instance.id)
    li = api.as_("li.intake")
    li.post(f"/api/tasks/{task_id}/claim")

    answer = li.post(
        f"/api/tasks/{task_id}/assign", json={"assignee": "Zhao.Intake", "reason": "on leave"}
    )
    assert answer.status_code == 200 and answer.get_json()["assignee"] == "zhao.intake"
    assigned = [e for e in api.engine.history(instance.id) if e.event == "task_assigned"]
    assert [(e.actor, e.reason) for e in assigned] == [("li.intake", "on leave")]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"assignee": "nobody", "reason": "x"}, "assignee"),
        ({"assignee": "wang.enforce", "reason": "x"}, "assignee"),
        ({"reason": "x"}, "assignee"),
        ({"assignee": ["zhao.intake"], "reason": "x"}, "assignee"),
        ({"assignee": "zhao.intake"}, "reason"),
        ({"assignee": "zhao.intake", "reason": "  "}, "reason"),
        ({"assignee": "zhao.intake", "reason": 3}, "reason"),
    ],
)
def test_assign_refuses_with_422_naming_the_field(api: Api, body: dict, field: str) -> None:
    task_id = open_task_id(api, api.start().id)
    answer = api.as_("li.intake").post(f"/api/tasks/{task_id}/assign", json=body)
    status, _, fields = error_of(answer)
    assert status == 422 and field in fields
    assert api.engine.task(task_id).assignee is None


def test_delegate_and_resolve_send_the_task_out_and_back_with_the_answer(api: Api) -> None:
    instance = api.start()
    task_id = open_task_id(api, instance.id)
    li, wang = api.as_("li.intake"), api.as_("wang.enforce")
    body = {"user": "wang.enforce", "reason": "expert view"}
    assert li.post(f"/api/tasks/{task_id}/delegate", json=body).status_code == 403  # unclaimed
    li.post(f"/api/tasks/{task_id}/claim")
    status, _, fields = error_of(
        li.post(f"/api/tasks/{task_id}/delegate", json={"user": "nobody", "reason": "x"})
    )
    assert status == 422 and "user" in fields
    answer = li.post(f"/api/tasks/{task_id}/delegate", json=body)
    assert answer.status_code == 200
    assert {k: answer.get_json()[k] for k in ("assignee", "owner", "delegation")} == {
        "assignee": "wang.enforce",
        "owner": "li.intake",
        "delegation": "pending",
    }
    again = li.post(f"/api/tasks/{task_id}/delegate", json=body)
    assert again.status_code == 409
    assert wang.post(f"/api/tasks/{task_id}/complete", json={"data": {}}).status_code == 403
    wrong = wang.post(f"/api/tasks/{task_id}/resolve", json={"data": {"severity": "x"}})
    assert error_of(wrong)[0] == 422
    resolved = wang.post(f"/api/tasks/{task_id}/resolve", json={"data": {"severity": "high"}})
    assert resolved.status_code == 200
    assert (resolved.get_json()["assignee"], resolved.get_json()["delegation"]) == (
        "li.intake",
        "resolved",
    )
    assert li.get(f"/api/tasks/{task_id}").get_json()["data"]["severity"] == "high"
    done = li.post(f"/api/tasks/{task_id}/complete", json={"data": {"severity": "high"}})
    assert done.status_code == 200 and done.get_json()["status"] == "completed"


def test_completing_with_form_errors_answers_422_by_field_and_changes_nothing(api: Api) -> None:
    task_id = open_task_id(api, api.start().id)
    answer = api.as_("li.intake").post(
        f"/api/tasks/{task_id}/complete", json={"data": {"severity": "catastrophic"}}
    )
    status, error, fields = error_of(answer)
    assert (status, error) == (422, "invalid_data") and "severity" in fields
    assert api.engine.task(task_id).status == "open"


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        (b"{not json", 400, None),
        (b"", 400, None),
        (b"[1, 2]", 422, "body"),
        (b"null", 422, "body"),
        (b"{}", 422, "data"),
        (b'{"data": [1]}', 422, "data"),
        (b'{"data": "severity=low"}', 422, "data"),
    ],
)
def test_complete_bodies_that_are_not_objects_are_refused_never_500(
    api: Api, body: bytes, status: int, field: str | None
) -> None:
    task_id = open_task_id(api, api.start().id)
    answer = api.as_("li.intake").post(
        f"/api/tasks/{task_id}/complete", data=body, content_type="application/json"
    )
    got, _, fields = error_of(answer)
    assert got == status
    if field:
        assert field in fields


def test_claim_with_a_body_that_is_not_json_is_400(api: Api) -> None:
    task_id = open_task_id(api, api.start().id)
    answer = api.as_("li.intake").post(
        f"/api/tasks/{task_id}/claim", data=b"\xff\xfe{", content_type="application/json"
    )
    assert error_of(answer)[:2] == (400, "invalid_json")


def test_a_completed_task_can_no_longer_be_claimed_assigned_or_completed(api: Api) -> None:
    task_id = open_task_id(api, api.start().id)
    li = api.as_("li.intake")
    done = li.post(f"/api/tasks/{task_id}/complete", json={"data": {"severity": "low"}})
    assert done.status_code == 200 and done.get_json()["status"] == "completed"
    assert done.get_json()["completed_by"] == "li.intake"

    assert error_of(li.post(f"/api/tasks/{task_id}/claim"))[:2] == (409, "conflict")
    again = li.post(f"/api/tasks/{task_id}/complete", json={"data": {"severity": "low"}})
    assert error_of(again)[:2] == (409, "conflict")
    handed = li.post(
        f"/api/tasks/{task_id}/assign", json={"assignee": "zhao.intake", "reason": "x"}
    )
    assert error_of(handed)[:2] == (409, "conflict")
    assert li.get(f"/api/tasks/{task_id}").get_json()["status"] == "completed"


def test_review_completed_over_http_brings_the_site_inspection_to_enforcement_only(
    api: Api,
) -> None:
    """The whole staff flow: an intake clerk claims and completes the review with high
    severity; the inspection appears for enforcement, not for intake, and enforcement ends it."""
    instance = api.start()
    li, wang = api.as_("li.intake"), api.as_("wang.enforce")

    review = li.get("/api/tasks").get_json()["items"][0]
    assert li.post(f"/api/tasks/{review['id']}/claim").status_code == 200
    assert li.get("/api/tasks?mine=true").get_json()["count"] == 1
    done = li.post(
        f"/api/tasks/{review['id']}/complete", json={"data": {"severity": "high", "note": "smoke"}}
    )
    assert done.status_code == 200, done.get_json()

    assert li.get("/api/tasks").get_json()["items"] == []
    inspections = wang.get("/api/tasks").get_json()["items"]
    assert [(t["element_id"], t["candidate_groups"]) for t in inspections] == [
        ("inspect_site", ["enforcement"])
    ]
    inspection = inspections[0]
    assert inspection["instance_id"] == instance.id
    assert error_of(li.get(f"/api/tasks/{inspection['id']}"))[0] == 403
    shown = wang.get(f"/api/tasks/{inspection['id']}")
    assert shown.status_code == 200 and isinstance(shown.get_json()["data"], dict)

    finished = wang.post(
        f"/api/tasks/{inspection['id']}/complete", json={"data": {"violation_found": True}}
    )
    assert finished.status_code == 200
    assert api.engine.instance(instance.id).status == "completed"
    assert wang.get("/api/tasks").get_json()["count"] == 0
