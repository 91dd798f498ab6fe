"""Text no database can store (NUL, which PostgreSQL refuses; a lone UTF-16 surrogate, which no
driver can encode) is refused where it enters a request, naming the field: never a 500 from deep
in a statement, and never stored on SQLite to break every page that shows it later."""

from __future__ import annotations

import pytest

from api.storable import PROBLEM
from engine import Engine
from tests.test_api_support import Api, error_of, staff_api
from tests.test_public_support import body

BAD_TEXTS = ("a\u0000b", "\ud800")


@pytest.fixture
def api(engine: Engine, sqlite_url: str) -> Api:
    return staff_api(engine, sqlite_url)


def open_task(api: Api) -> str:
    return api.engine.tasks(instance_id=api.start().id)[0].id


@pytest.mark.parametrize("text", BAD_TEXTS, ids=["nul", "surrogate"])
def test_a_json_body_carrying_it_is_refused_and_changes_nothing(api: Api, text: str) -> None:
    task = open_task(api)
    clerk = api.as_("li.intake")
    answer = clerk.post(f"/api/tasks/{task}/complete", json={"data": {"note": text}})
    assert error_of(answer) == (422, "invalid_data", {"data.note": [PROBLEM]})
    answer = clerk.post(
        f"/api/tasks/{task}/assign", json={"assignee": "zhao.intake", "reason": text}
    )
    assert error_of(answer) == (422, "invalid_data", {"reason": [PROBLEM]})
    assert api.engine.task(task).status == "open" and api.engine.task(task).assignee is None
    events = [e.event for e in api.engine.history(api.engine.task(task).instance_id)]
    assert "task_completed" not in events and "task_assigned" not in events

    login = api.client.post("/api/auth/token", json={"username": text, "password": "x"})
    assert error_of(login) == (422, "invalid_data", {"username": [PROBLEM]})
    complaint = api.client.post("/api/complaints", json=body(title=text))
    assert error_of(complaint) == (422, "invalid_data", {"title": [PROBLEM]})
    nested = api.client.post("/api/complaints", json=body(location={"address": text}))
    assert error_of(nested)[2] == {"location.address": [PROBLEM]}


@pytest.mark.parametrize("text", ["%00", "a%00b"], ids=["alone", "inside"])
def test_a_query_argument_or_path_part_carrying_nul_is_refused(api: Api, text: str) -> None:
    """(A URL cannot carry a lone surrogate: its bytes are not UTF-8 and decode to U+FFFD.)"""
    clerk = api.as_("li.intake")
    assert error_of(clerk.get(f"/api/tasks?q={text}")) == (400, "bad_request", {"q": [PROBLEM]})
    assert error_of(clerk.get(f"/api/tasks/{text}"))[2] == {"task_id": [PROBLEM]}
    assert error_of(api.as_("admin").get(f"/api/audit?actor={text}"))[2] == {"actor": [PROBLEM]}
    assert api.client.get(f"/open311/v2/requests/{text}.json").status_code == 400


def test_a_staff_page_or_form_carrying_it_answers_400(api: Api) -> None:
    page = api.client.get("/login")
    assert page.status_code == 200
    signed = api.client.post("/login", data={"username": "a\u0000", "password": "x"})
    assert signed.status_code == 400
    assert api.client.get("/admin/instances?status=%00").status_code == 400


def test_json_nested_as_deep_as_the_parser_allows_is_checked_without_failing(api: Api) -> None:
    task = open_task(api)
    deep = "[" * 900 + '"\\u0000"' + "]" * 900
    answer = api.as_("li.intake").post(
        f"/api/tasks/{task}/complete",
        data=f'{{"data": {{"note": {deep}}}}}',
        content_type="application/json",
    )
    status, _, fields = error_of(answer)
    assert status == 422 and fields == {"data.note" + "[0]" * 900: [PROBLEM]}
