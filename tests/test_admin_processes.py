"""The admin Processes page: deployed versions with hash, time, author and downloadable files;
uploads deployed through the engine (refusals name file, line and element, nothing is deployed);
and migration of running instances, where the move does what the dry run on screen said."""

from __future__ import annotations

import io
import re

import pytest

from engine import Engine
from tests.conftest import ADMIN, INTAKE
from tests.test_admin_pages import text_of
from tests.test_admin_support import Browser, admin_api, signed_in
from tests.test_api_deployments import changed_demo_files, demo_files
from tests.test_api_support import START_DATA, Api
from tests.test_engine_migration import demo_with

PAGE = "/admin/processes"
PLAN_ROW = re.compile(
    r'<tr id="migration-\d+">\s*<td>.*?</td>\s*<td>(.*?)</td>\s*<td>.*?</td>\s*<td>(yes|no)</td>',
    re.S,
)


@pytest.fixture
def api(engine: Engine, sqlite_url: str) -> Api:
    return admin_api(engine, sqlite_url)


@pytest.fixture
def admin(api: Api) -> Browser:
    """An administrator reading the page in English, the language these tests quote."""
    browser = signed_in(api, "admin", lang="en")
    browser.get(PAGE)  # loads the CSRF token the forms carry
    return browser


def upload(browser: Browser, files: dict[str, bytes], *, csrf: bool = True):
    parts = {"files": [(io.BytesIO(content), name) for name, content in files.items()]}
    return browser.post(PAGE, parts, csrf=csrf, content_type="multipart/form-data")


def versions(engine: Engine) -> list[int]:
    return [d.version for d in engine.deployments()]


# ------------------------------------------------------------ access


def test_anonymous_visitors_are_sent_to_sign_in(api: Api) -> None:
    answer = api.client.get(PAGE)
    if "web.login" in api.app.view_functions:
        assert answer.status_code == 302 and answer.headers["Location"].startswith("/login")
    else:
        assert answer.status_code == 401


@pytest.mark.parametrize("path", [PAGE, f"{PAGE}/1/files/review.json"])
def test_staff_who_are_not_administrators_get_403(api: Api, path: str) -> None:
    assert signed_in(api, "li.intake").get(path).status_code == 403
    assert api.as_("chen.design").get(path).status_code == 403


def test_forms_without_the_csrf_token_are_refused(api: Api, admin: Browser) -> None:
    assert upload(admin, changed_demo_files(), csrf=False).status_code == 400
    form = {"process": "engine_demo", "from": "1", "to": "2", "instance_id": "1"}
    assert admin.post(f"{PAGE}/migrate", form, csrf=False).status_code == 400
    assert versions(api.engine) == [1]


# ------------------------------------------------------------ versions and files


def test_the_page_lists_versions_newest_first_with_hash_author_and_files(
    api: Api, admin: Browser
) -> None:
    api.engine.deploy(changed_demo_files(), INTAKE)
    answer = admin.get(PAGE)
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert page.index('id="deployment-2"') < page.index('id="deployment-1"')
    for info in api.engine.deployments():
        assert f'title="{info.content_hash}">{info.content_hash[:12]}</code>' in page
    row = text_of(answer).split("Migrate running instances")[0]
    assert "2026-03-02 09:00:00 +08:00 li.intake engine_demo" in row
    for name in demo_files():
        assert f'href="{PAGE}/1/files/{name}"' in page
    assert f'href="{PAGE}">Processes</a>' in page


def test_a_downloaded_file_is_the_deployed_bytes(admin: Browser) -> None:
    answer = admin.get(f"{PAGE}/1/files/engine_demo.bpmn")
    assert answer.status_code == 200
    assert answer.data == demo_files()["engine_demo.bpmn"]
    assert answer.headers["Content-Disposition"] == 'attachment; filename="engine_demo.bpmn"'
    assert admin.get(f"{PAGE}/1/files/missing.bpmn").status_code == 404
    assert admin.get(f"{PAGE}/9/files/review.json").status_code == 404


# ------------------------------------------------------------ upload


def test_uploading_a_valid_bundle_deploys_a_new_version_once(api: Api, admin: Browser) -> None:
    answer = upload(admin, changed_demo_files())
    assert answer.status_code == 303 and answer.headers["Location"] == PAGE
    assert "Deployed version 2 (4 files)." in text_of(admin.get(PAGE))
    [newest, _] = api.engine.deployments()
    assert (newest.version, newest.created_by) == (2, "admin")

    again = upload(admin, changed_demo_files())
    assert again.status_code == 303
    assert "already deployed as version 2: nothing new" in text_of(admin.get(PAGE))
    assert versions(api.engine) == [2, 1]


@pytest.mark.parametrize(
    ("broken", "where"),
    [
        (b'<?xml version="1.0"?>\n<bpmn:definitions>\n  <oops>\n', r"engine_demo\.bpmn:\d+: "),
        (
            demo_files()["engine_demo.bpmn"].replace(
                b'serviceTaskOperator id="remind"', b'serviceTaskOperator id="no_such"'
            ),
            r"engine_demo\.bpmn:\d+ \[send_reminder\]: .*no_such",
        ),
    ],
    ids=["malformed-xml", "unknown-handler"],
)
def test_a_broken_bpmn_is_422_naming_file_line_and_element(
    api: Api, admin: Browser, broken: bytes, where: str
) -> None:
    files = {**changed_demo_files(), "engine_demo.bpmn": broken}
    answer = upload(admin, files)
    assert answer.status_code == 422
    assert "The bundle was not deployed" in text_of(answer)
    assert re.search(where, text_of(answer)), text_of(answer)
    assert versions(api.engine) == [1]


def test_upload_problems_are_shown_escaped(api: Api, admin: Browser) -> None:
    answer = upload(admin, {**changed_demo_files(), "<img src=x>.txt": b"hello"})
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert "<img" not in page and "&lt;img src=x&gt;.txt" in page
    assert versions(api.engine) == [1]


def test_an_upload_without_files_is_422(admin: Browser) -> None:
    answer = admin.post(PAGE, {"files": (io.BytesIO(b""), "")}, content_type="multipart/form-data")
    assert answer.status_code == 422 and "Choose at least one" in text_of(answer)


# ------------------------------------------------------------ migration


def plan_rows(answer) -> dict[str, str]:
    """Business key -> the row's "can move" cell, as the dry-run table shows it."""
    return dict(PLAN_ROW.findall(answer.get_data(as_text=True)))


def test_the_dry_run_lists_who_can_move_and_applying_moves_exactly_those(
    api: Api, admin: Browser
) -> None:
    engine = api.engine
    at_review = engine.start("engine_demo", dict(START_DATA), "C-1", INTAKE)
    waiting = engine.start("engine_demo", dict(START_DATA), "C-2", INTAKE)
    [task] = engine.tasks(instance_id=waiting.id)
    engine.complete_task(task.id, {"severity": "low", "note": "ok"}, INTAKE)
    engine.deploy(demo_with("escalated", "escalated_to_office"), ADMIN)

    plan = admin.get(f"{PAGE}?process=engine_demo&from=1&to=2")
    assert plan.status_code == 200
    assert plan_rows(plan) == {"C-1": "no", "C-2": "yes"}
    assert "escalated" in text_of(plan).split("C-1")[1]
    assert "Move the 1 movable instance" in text_of(plan)

    moved = admin.post(
        f"{PAGE}/migrate",
        {"process": "engine_demo", "from": "1", "to": "2", "instance_id": str(waiting.id)},
    )
    assert moved.status_code == 303
    after = admin.get(moved.headers["Location"])
    assert "Moved 1 of 1 instances of engine_demo from version 1 to version 2." in text_of(after)
    assert plan_rows(after) == {"C-1": "no"}
    assert engine.instance(waiting.id).deployment_version == 2
    assert engine.instance(at_review.id).deployment_version == 1
    [event] = [e for e in engine.history(waiting.id) if e.event == "instance_migrated"]
    assert event.actor == "admin"


def test_only_the_instances_the_form_lists_move(api: Api, admin: Browser) -> None:
    """The form names the instances its dry run showed: one started since stays where it is."""
    engine = api.engine
    shown = engine.start("engine_demo", dict(START_DATA), "C-1", INTAKE)
    unseen = engine.start("engine_demo", dict(START_DATA), "C-2", INTAKE)
    engine.deploy(demo_with('name="Review"', 'name="Review it"'), ADMIN)
    form = {"process": "engine_demo", "from": "1", "to": "2", "instance_id": str(shown.id)}
    assert admin.post(f"{PAGE}/migrate", form).status_code == 303
    assert engine.instance(shown.id).deployment_version == 2
    assert engine.instance(unseen.id).deployment_version == 1


@pytest.mark.parametrize(
    ("query", "status", "message"),
    [
        ("process=engine_demo&from=1&to=1", 422, "Choose two different versions."),
        ("process=engine_demo&from=1&to=", 422, "Choose both versions."),
        ("process=engine_demo&from=1&to=9", 404, "deployment version 9 not found"),
        ("process=nope&from=1&to=2", 422, "version 1 has no process 'nope'"),
    ],
)
def test_a_dry_run_of_a_wrong_choice_says_why(
    api: Api, admin: Browser, query: str, status: int, message: str
) -> None:
    api.engine.deploy(changed_demo_files(), ADMIN)
    answer = admin.get(f"{PAGE}?{query}")
    assert answer.status_code == status
    assert message in text_of(answer)


def test_moving_nothing_is_422(api: Api, admin: Browser) -> None:
    api.engine.deploy(changed_demo_files(), ADMIN)
    answer = admin.post(f"{PAGE}/migrate", {"process": "engine_demo", "from": "1", "to": "2"})
    assert answer.status_code == 422 and "Nothing to move." in text_of(answer)
