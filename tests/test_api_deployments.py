"""Deployments over HTTP: listing and downloading for any staff, uploading bundles (files or a
zip) for designers and admins, and refusals that name file, line and element."""

from __future__ import annotations

import io
import re
import zipfile

import pytest

from api.composition import bundle_files
from engine import Engine
from tests.conftest import DEMO_PROCESSES
from tests.test_api_support import Api, error_of, staff_api


@pytest.fixture
def api(engine: Engine, sqlite_url: str) -> Api:
    return staff_api(engine, sqlite_url)


def demo_files() -> dict[str, bytes]:
    return bundle_files(DEMO_PROCESSES)


def changed_demo_files() -> dict[str, bytes]:
    """The demo bundle with one form changed, so its content hash is new."""
    files = demo_files()
    files["review.json"] = files["review.json"].rstrip() + b"\n\n"
    return files


def unknown_form(bpmn: bytes) -> bytes:
    changed = re.sub(
        rb'name="formKey" value="review"', b'name="formKey" value="no_such_form"', bpmn
    )
    assert changed != bpmn
    return changed


def multipart(files: dict[str, bytes], field: str = "files") -> dict:
    return {field: [(io.BytesIO(content), name) for name, content in files.items()]}


def zipped(files: dict[str, bytes], folder: str = "bundle/") -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(folder + name, content)
        archive.writestr("__MACOSX/._review.json", b"junk")
    return buffer.getvalue()


def test_any_staff_lists_deployments_newest_first(api: Api) -> None:
    answer = api.as_("wang.enforce").get("/api/deployments")
    assert answer.status_code == 200
    [deployment] = answer.get_json()["items"]
    assert deployment["version"] == 1 and deployment["created_by"] == "admin"
    assert deployment["process_ids"] and "engine_demo" in deployment["process_ids"]
    assert sorted(deployment["files"]) == sorted(demo_files())
    assert deployment["created_at"] == "2026-03-02T01:00:00+00:00"


def test_a_deployed_file_downloads_as_it_was_deployed(api: Api) -> None:
    answer = api.as_("li.intake").get("/api/deployments/1/files/engine_demo.bpmn")
    assert answer.status_code == 200
    assert answer.data == demo_files()["engine_demo.bpmn"]
    assert answer.mimetype == "application/xml"
    assert 'filename="engine_demo.bpmn"' in answer.headers["Content-Disposition"]
    form = api.as_("li.intake").get("/api/deployments/1/files/review.json")
    assert form.mimetype == "application/json" and form.data == demo_files()["review.json"]


@pytest.mark.parametrize(
    "path", ["/api/deployments/1/files/missing.bpmn", "/api/deployments/7/files/review.json"]
)
def test_an_unknown_version_or_file_is_404(api: Api, path: str) -> None:
    assert error_of(api.as_("li.intake").get(path))[:2] == (404, "not_found")


def test_a_designer_uploads_several_files_as_a_new_version(api: Api) -> None:
    designer = api.as_("chen.design")
    answer = designer.post("/api/deployments", data=multipart(changed_demo_files()))
    assert answer.status_code == 201, answer.get_json()
    body = answer.get_json()
    assert body["version"] == 2 and body["created"] is True
    assert body["created_by"] == "chen.design"

    again = designer.post("/api/deployments", data=multipart(changed_demo_files()))
    assert again.status_code == 200
    assert again.get_json()["version"] == 2 and again.get_json()["created"] is False
    versions = [d["version"] for d in designer.get("/api/deployments").get_json()["items"]]
    assert versions == [2, 1]


def test_an_admin_uploads_a_zip_whose_folders_are_flattened(api: Api) -> None:
    archive = {"files": (io.BytesIO(zipped(changed_demo_files())), "bundle.zip")}
    answer = api.as_("admin").post("/api/deployments", data=archive)
    assert answer.status_code == 201, answer.get_json()
    assert sorted(answer.get_json()["files"]) == sorted(demo_files())


def test_staff_outside_designer_and_admin_may_not_deploy(api: Api) -> None:
    answer = api.as_("li.intake").post("/api/deployments", data=multipart(changed_demo_files()))
    assert error_of(answer)[:2] == (403, "forbidden")


def test_an_invalid_bundle_is_refused_with_file_line_and_element(api: Api) -> None:
    files = changed_demo_files()
    files["engine_demo.bpmn"] = unknown_form(files["engine_demo.bpmn"])
    files["notes.txt"] = b"hello"
    answer = api.as_("chen.design").post("/api/deployments", data=multipart(files))
    status, error, fields = error_of(answer)
    assert (status, error) == (422, "bundle_invalid")
    problems = answer.get_json()["problems"]
    assert {"file", "line", "element", "message"} <= set(problems[0])
    assert "notes.txt" in fields
    assert [d.version for d in api.engine.deployments()] == [1]


def test_a_bundle_with_an_unknown_form_names_the_task(api: Api) -> None:
    files = changed_demo_files()
    files["engine_demo.bpmn"] = unknown_form(files["engine_demo.bpmn"])
    answer = api.as_("chen.design").post("/api/deployments", data=multipart(files))
    assert answer.status_code == 422
    problems = answer.get_json()["problems"]
    assert any(p["file"] == "engine_demo.bpmn" and p["element"] == "review" for p in problems)
    assert any(isinstance(p["line"], int) for p in problems)


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({}, "files"),
        ({"files": (io.BytesIO(b"PK not really"), "bundle.zip")}, "bundle.zip"),
        (
            {
                "files": [
                    (io.BytesIO(b"{}"), "review.json"),
                    (io.BytesIO(b"{}"), "sub/review.json"),
                ]
            },
            "review.json",
        ),
    ],
)
def test_uploads_without_files_bad_zips_or_twin_names_are_422(
    api: Api, data: dict, field: str
) -> None:
    answer = api.as_("chen.design").post("/api/deployments", data=data)
    status, _, fields = error_of(answer)
    assert status == 422 and field in fields


def test_a_json_body_instead_of_files_is_422_not_500(api: Api) -> None:
    answer = api.as_("chen.design").post("/api/deployments", json={"files": ["a.bpmn"]})
    assert error_of(answer)[0] == 422
