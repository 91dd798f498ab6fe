"""Numbers and days at the edge of what a request may name: an id larger than any id column holds
names nothing (404); a number written in other digits ("²") or too large for its column, and a
day outside 1900-01-01 .. 9998-12-31, is refused naming the field, never a 500 from inside a
statement or from date arithmetic. On both databases (PostgreSQL binds BIGINT and INTEGER
strictly; SQLite's INTEGER stops at 2**63 - 1)."""

from __future__ import annotations

import pytest

from api.request_numbers import LARGEST_ID
from engine import Engine
from engine.models import LARGEST_VERSION
from handlers.times import OUT_OF_CALENDAR
from tests.test_admin_pages import text_of
from tests.test_admin_support import admin_api, signed_in
from tests.test_api_support import Api, error_of

TOO_LARGE = "99999999999999999999"


@pytest.fixture
def api(engine: Engine, sqlite_url: str) -> Api:
    helper = admin_api(engine, sqlite_url)
    helper.start("C-1")
    return helper


def test_an_id_no_column_holds_names_nothing(api: Api) -> None:
    admin = api.as_("admin")
    for number in (str(LARGEST_ID), TOO_LARGE):
        for path in (f"/api/instances/{number}", f"/api/instances/{number}/history"):
            assert error_of(admin.get(path))[0] == 404, path
        assert error_of(admin.post(f"/api/incidents/{number}/retry", json={}))[0] == 404
    for version in (LARGEST_VERSION + 1, TOO_LARGE):
        assert error_of(admin.get(f"/api/deployments/{version}/files/a.bpmn"))[0] == 404
    browser = signed_in(api, "admin")
    assert browser.get(f"/admin/instances/{TOO_LARGE}").status_code == 404
    assert browser.get(f"/admin/processes/{LARGEST_VERSION + 1}/files/x").status_code == 404


def test_a_number_too_large_or_in_other_digits_is_refused_naming_it(api: Api) -> None:
    clerk, admin = api.as_("li.intake"), api.as_("admin")
    for query, field in (("offset", "offset"), ("instance", "instance")):
        answer = clerk.get(f"/api/tasks?{query}={LARGEST_ID + 1}")
        assert error_of(answer)[:2] == (422, "invalid_data") and field in error_of(answer)[2]
    assert error_of(admin.get("/api/instances?offset=" + TOO_LARGE))[0] == 422
    assert error_of(admin.get("/api/audit?instance=%C2%B2"))[2] == {
        "instance": ["must be an integer"]
    }
    assert error_of(admin.get(f"/api/audit?instance={TOO_LARGE}"))[2] == {
        "instance": ["must be an integer"]
    }
    browser = signed_in(api, "admin", lang="en")
    for path in ("/admin/audit?instance=%C2%B2", "/admin/instances?offset=%C2%B2"):
        assert browser.get(path).status_code == 422, path
    page = browser.get("/admin/processes?process=engine_demo&from=%C2%B2&to=1")
    assert page.status_code == 422 and "Choose both versions." in text_of(page)


@pytest.mark.parametrize(
    "query",
    [
        "to=9999-12-31",
        "from=0001-01-01",
        "from=0001-01-01T00:00:00%2B01:00",
        "to=9999-12-31T23:00:00-05:00",
    ],
)
def test_a_day_outside_the_calendar_is_refused_naming_it(api: Api, query: str) -> None:
    field = query.split("=")[0]
    answer = api.as_("admin").get(f"/api/audit?{query}")
    assert error_of(answer) == (422, "invalid_data", {field: [OUT_OF_CALENDAR]})
    assert api.as_("admin").get(f"/api/audit.csv?{query}").status_code == 422
    page = signed_in(api, "admin", lang="en").get(f"/admin/audit?{query}")
    assert page.status_code == 422
    assert "Must lie between 1900-01-01 and 9998-12-31." in text_of(page)


def test_a_due_time_outside_the_calendar_is_refused_naming_it(api: Api) -> None:
    clerk = api.as_("li.intake")
    for query in ("due_before=0001-01-01T00:00:00%2B01:00", "due_after=9999-12-31T23:59:59-01:00"):
        field = query.split("=")[0]
        assert error_of(clerk.get(f"/api/tasks?{query}"))[2] == {field: [OUT_OF_CALENDAR]}
