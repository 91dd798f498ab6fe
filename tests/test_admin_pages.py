"""The administrators' pages: sign-in (the staff session, or `?token=` once), the instance page
with its diagram data and timeline, the audit page with filters and CSV, the bpmn-js assets from
node_modules (503 without them), and incidents retried or skipped, audited, over the pages and
the JSON API."""

from __future__ import annotations

import html
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from api import admin_assets
from engine import Engine, WorkflowFailed
from engine.audit_query import AuditFilters
from engine.models import Timer
from tests.conftest import ADMIN, INTAKE
from tests.test_admin_support import (
    Browser,
    admin_api,
    broken_admin_api,
    broken_engine,
    complete_review,
    open_incident,
    signed_in,
)
from tests.test_api_support import Api, error_of

DATA = re.compile(r'<script type="application/json" id="admin-instance-data">(.*?)</script>', re.S)


@pytest.fixture
def api(engine: Engine, sqlite_url: str) -> Api:
    return admin_api(engine, sqlite_url)


def page_data(answer) -> dict:
    found = DATA.search(answer.get_data(as_text=True))
    assert found, "no embedded page data"
    return json.loads(found.group(1))


def text_of(answer) -> str:
    without_tags = re.sub(r"<[^>]+>", " ", answer.get_data(as_text=True))
    return re.sub(r"\s+", " ", html.unescape(without_tags))


# ------------------------------------------------------------ sign-in


PAGES = ("/admin/instances", "/admin/instances/1", "/admin/audit", "/admin/incidents")


@pytest.mark.parametrize("path", PAGES)
def test_anonymous_visitors_are_sent_to_sign_in(api: Api, path: str) -> None:
    api.start()
    answer = api.client.get(path)
    if "web.login" in api.app.view_functions:
        assert answer.status_code == 302
        assert answer.headers["Location"].startswith(f"/login?next={path}")
    else:
        assert answer.status_code == 401
        assert "请先以管理员身份登录。" in text_of(answer)


@pytest.mark.parametrize("path", PAGES)
def test_staff_who_are_not_administrators_get_403(api: Api, path: str) -> None:
    api.start()
    assert api.as_("li.intake").get(path).status_code == 403
    clerk = signed_in(api, "li.intake")
    answer = clerk.get(path)
    assert answer.status_code == 403
    assert "这些页面仅供管理员使用。" in text_of(answer)  # Chinese unless English is asked for


def test_a_token_in_the_address_signs_the_browser_in_and_leaves_the_address(api: Api) -> None:
    instance = api.start()
    browser = Browser(api.app.test_client())
    token = api.token("admin")
    answer = browser.get(f"/admin/instances/{instance.id}?token={token}&x=1")
    assert answer.status_code == 302
    assert answer.headers["Location"] == f"/admin/instances/{instance.id}?x=1"
    assert browser.get(f"/admin/instances/{instance.id}").status_code == 200

    stranger = Browser(api.app.test_client())
    refused = stranger.get("/admin/audit?token=not-a-token")
    assert refused.status_code in (302, 401)
    assert stranger.get("/admin/audit").status_code in (302, 401)


def test_a_staff_session_from_the_sign_in_page_opens_the_admin_pages(api: Api) -> None:
    if "web.login" not in api.app.view_functions:
        pytest.skip("the staff web UI (/login) is not registered in this app")
    browser = Browser(api.app.test_client())
    browser.get("/login")
    signed = browser.post("/login", {"username": "admin", "password": "a long test password"})
    assert signed.status_code == 303
    assert browser.get("/admin/audit").status_code == 200


def test_pages_send_a_strict_content_security_policy(api: Api) -> None:
    answer = api.as_("admin").get("/admin/audit")
    policy = answer.headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    assert answer.headers["X-Frame-Options"] == "DENY"
    assert answer.headers["Cache-Control"] == "no-store"


# ------------------------------------------------------------ instance page


def test_the_instance_page_embeds_the_diagram_and_lists_every_audit_event(api: Api) -> None:
    instance = api.start()
    complete_review(api.engine, instance, "low")
    answer = api.as_("admin").get(f"/admin/instances/{instance.id}")
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    data = page_data(answer)

    assert data["diagram"]["bpmn_xml"].startswith("<?xml")
    assert "</script" not in DATA.search(page).group(1)  # the XML cannot end the script early
    timer = next(w for w in data["diagram"]["waiting"] if w["kind"] == "timer")
    assert timer["element_id"] == "reply_window"
    assert timer["due_label"] == "2026-03-09 09:00:00 +08:00"  # Beijing time, offset shown

    history = api.engine.history(instance.id)
    assert [e["id"] for e in data["events"]] == [e.id for e in history]
    completed = next(e for e in data["events"] if e["event"] == "task_completed")
    assert completed["element_id"] == "review" and completed["element_name"] == "Review"
    assert completed["actor"] == "li.intake"
    assert {"field": "severity", "kind": "added", "before": "", "after": "low"} in completed[
        "changes"
    ]
    assert len(re.findall(r'<tr id="event-\d+"', page)) == len(history)
    assert 'class="admin-event admin-event-task_completed"' in page
    assert "<ins>low</ins>" in page
    assert "2026-03-02 09:00:00 +08:00" in page
    assert "bpmn-navigated-viewer.production.min.js" in page or "npm ci" in page
    assert "/admin/static/instance.js" in page


def test_the_timeline_shows_reasons_and_changed_fields(api: Api) -> None:
    instance = api.start()
    [task] = api.engine.tasks(instance_id=instance.id)
    api.engine.claim(task.id, INTAKE)
    api.engine.assign(task.id, "zhao.intake", INTAKE, "on leave tomorrow")
    answer = api.as_("admin").get(f"/admin/instances/{instance.id}")
    assigned = next(e for e in page_data(answer)["events"] if e["event"] == "task_assigned")
    assert assigned["reason"] == "on leave tomorrow"
    assert assigned["changes"] == [
        {"field": "assignee", "kind": "changed", "before": "li.intake", "after": "zhao.intake"}
    ]
    assert "on leave tomorrow" in text_of(answer)


def test_an_unknown_instance_page_is_404(api: Api) -> None:
    answer = api.as_("admin").get("/admin/instances/999")
    assert answer.status_code == 404
    assert "instance 999 not found" in text_of(answer)


def test_the_instance_list_links_to_each_instance(api: Api) -> None:
    first = api.start("C-1")
    api.start("C-2")
    answer = api.as_("admin").get("/admin/instances?business_key=C-1")
    assert answer.status_code == 200
    assert f'href="/admin/instances/{first.id}"' in answer.get_data(as_text=True)
    assert "C-2" not in text_of(answer)


# ------------------------------------------------------------ assets


def test_bpmn_js_is_served_from_node_modules_and_nothing_else_of_it(api: Api) -> None:
    if not (
        admin_assets.ROOT / "node_modules" / "bpmn-js" / "dist" / admin_assets.VIEWER
    ).is_file():
        pytest.skip("node_modules/bpmn-js is not installed (npm ci)")
    client = api.client
    script = client.get(f"/admin/assets/bpmn-js/{admin_assets.VIEWER}")
    assert script.status_code == 200 and b"BpmnJS" in script.data
    assert client.get("/admin/assets/bpmn-js/assets/diagram-js.css").status_code == 200
    assert client.get("/admin/assets/bpmn-js/bpmn-modeler.production.min.js").status_code == 404
    assert client.get("/admin/assets/bpmn-js/assets/../../package.json").status_code == 404
    assert client.get("/admin/static/instance.js").status_code == 200


def test_without_node_modules_the_viewer_answers_503_saying_to_run_npm_ci(
    api: Api, tmp_path: Path
) -> None:
    api.app.config["COMPLAINTS_NODE_MODULES"] = str(tmp_path / "absent")
    answer = api.client.get(f"/admin/assets/bpmn-js/{admin_assets.VIEWER}")
    assert answer.status_code == 503
    assert "npm ci" in answer.get_data(as_text=True)

    instance = api.start()
    page = api.as_("admin").get(f"/admin/instances/{instance.id}")
    assert page.status_code == 200
    body = page.get_data(as_text=True)
    assert 'id="admin-viewer-missing"' in body and "npm ci" in body
    assert admin_assets.VIEWER not in body


# ------------------------------------------------------------ audit page


def test_the_audit_page_filters_and_links_a_csv_of_the_same_filters(api: Api, clock) -> None:
    api.start("C-1")
    clock.advance(hours=2)
    second = api.start("C-2")
    complete_review(api.engine, second)
    admin = api.as_("admin")

    answer = admin.get("/admin/audit?event=task_completed")
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert page.count('class="admin-event admin-event-') == 1
    assert "共 1 条匹配事件" in text_of(answer)
    csv_link = re.search(r'id="admin-audit-csv" href="([^"]+)"', page).group(1)
    assert html.unescape(csv_link) == "/admin/audit.csv?event=task_completed"

    exported = admin.get(html.unescape(csv_link))
    assert exported.status_code == 200 and exported.headers["X-Total-Count"] == "1"
    assert exported.get_data(as_text=True).count("\r\n") == 2

    # A time without offset, as a datetime-local field sends it, is office (Beijing) time.
    later = admin.get("/admin/audit?event=instance_started&from=2026-03-02T10:00&lang=en")
    assert "1 matching event," in text_of(later) and "C-2" in text_of(later)

    refused = admin.get("/admin/audit?from=soon&lang=en")
    assert refused.status_code == 422
    assert "From: Enter a date and time." in text_of(refused)


def test_the_audit_page_pages_older_events_by_id(api: Api) -> None:
    for n in range(30):
        api.start(f"C-{n}")  # four events each
    admin = api.as_("admin")
    first = admin.get("/admin/audit").get_data(as_text=True)
    older = re.search(r'id="admin-audit-older" href="([^"]+)"', first).group(1)
    second = admin.get(html.unescape(older)).get_data(as_text=True)
    ids = [int(i) for i in re.findall(r"<tr class=\"admin-event[^>]*>\s*<td>(\d+)</td>", first)]
    more = [int(i) for i in re.findall(r"<tr class=\"admin-event[^>]*>\s*<td>(\d+)</td>", second)]
    assert len(ids) == 100 and ids == sorted(ids, reverse=True)
    assert more and max(more) == min(ids) - 1
    assert 'id="admin-audit-older"' not in second


# ------------------------------------------------------------ incidents


@pytest.fixture
def broken(sqlite_url: str, clock) -> Iterator[Api]:
    engine = broken_engine(sqlite_url, clock)
    yield broken_admin_api(engine, sqlite_url)
    engine.close()


def test_the_incidents_page_shows_error_attempts_and_instance(broken: Api, clock) -> None:
    instance, incident = open_incident(broken, clock)
    browser = signed_in(broken, "admin")
    answer = browser.get("/admin/incidents")
    assert answer.status_code == 200
    row = re.search(
        rf'<tr id="incident-{incident}">(.*?)</tr>', answer.get_data(as_text=True), re.S
    )
    assert row, "the incident is not listed"
    cells = html.unescape(row.group(1))
    assert "mail server down" in cells and "review_reminder" in cells
    assert f'href="/admin/instances/{instance.id}"' in cells
    assert "<td>1</td>" in cells  # attempts


def test_retrying_an_incident_from_the_page_is_audited(broken: Api, clock) -> None:
    instance, incident = open_incident(broken, clock)
    browser = signed_in(broken, "admin", lang="en")
    browser.get("/admin/incidents")

    forged = browser.post(f"/admin/incidents/{incident}/retry", csrf=False)
    assert forged.status_code == 400
    assert [i.id for i in broken.engine.incidents()] == [incident]

    answer = browser.post(f"/admin/incidents/{incident}/retry")
    assert answer.status_code == 303 and answer.headers["Location"] == "/admin/incidents"
    assert "fires again" in text_of(browser.get("/admin/incidents"))
    assert broken.engine.incidents() == []
    [retried] = broken.engine.audit(AuditFilters(events=("incident_retried",)))
    assert retried.actor == "admin" and retried.instance_id == instance.id
    assert browser.post(f"/admin/incidents/{incident}/retry").status_code == 404


def test_skipping_an_incident_needs_a_reason_and_is_audited_with_it(broken: Api, clock) -> None:
    instance, incident = open_incident(broken, clock)
    browser = signed_in(broken, "admin", lang="en")
    browser.get("/admin/incidents")

    refused = browser.post(f"/admin/incidents/{incident}/skip", {"reason": "  "})
    assert refused.status_code == 422
    assert "Skipping needs a reason." in text_of(refused)
    assert [i.id for i in broken.engine.incidents()] == [incident]

    browser.get("/admin/incidents")
    answer = browser.post(f"/admin/incidents/{incident}/skip", {"reason": "mail server retired"})
    assert answer.status_code == 303
    page = browser.get("/admin/incidents")
    assert "skipped: the timer will not fire" in text_of(page)
    assert "mail server retired" in text_of(page)  # under "Recently"
    assert broken.engine.incidents() == []

    [skipped] = broken.engine.audit(AuditFilters(events=("incident_skipped",)))
    assert skipped.actor == "admin" and skipped.reason == "mail server retired"
    assert skipped.instance_id == instance.id and skipped.business_key == "C-9"
    assert skipped.element_id == "review_reminder"
    assert skipped.data_before == {"status": "incident"}
    assert skipped.data_after == {"status": "skipped"}
    assert "mail server down" in skipped.detail["error"]
    timers = {t.element_id: t.status for t in broken.engine.instance(instance.id).timers}
    assert timers["review_reminder"] == "skipped"


def test_the_json_api_skips_incidents_for_administrators_only(broken: Api, clock) -> None:
    _, incident = open_incident(broken, clock)
    path = f"/api/incidents/{incident}/skip"
    assert error_of(broken.client.post(path, json={"reason": "x"}))[0] == 401
    assert error_of(broken.as_("li.intake").post(path, json={"reason": "x"}))[0] == 403
    admin = broken.as_("admin")
    assert error_of(admin.post(path, json={}))[:3] == (
        422,
        "invalid_data",
        {"reason": ["required"]},
    )
    assert error_of(admin.post("/api/incidents/999/skip", json={"reason": "x"}))[0] == 404
    answer = admin.post(path, json={"reason": "duplicate reminder"})
    assert answer.status_code == 200
    assert answer.get_json() == {"id": incident, "status": "skipped"}
    assert error_of(admin.post(path, json={"reason": "again"}))[0] == 404
    [skipped] = broken.engine.audit(AuditFilters(events=("incident_skipped",)))
    assert skipped.reason == "duplicate reminder"


def test_a_skipped_timer_is_never_claimed_again(broken: Api, clock) -> None:
    instance, incident = open_incident(broken, clock)
    broken.engine.skip_incident(incident, ADMIN, "not needed")
    clock.advance(hours=22)  # later, but before the review's own two-day timeout
    assert broken.engine.fire_due_timers() == 0
    [timer] = [t for t in broken.engine.instance(instance.id).timers if t.id == incident]
    assert timer.status == "skipped" and timer.attempts == 1
    trail = [e.event for e in broken.engine.history(instance.id)]
    assert trail.count("incident_opened") == 1 and "timer_fired" not in trail


def test_a_skipped_timer_does_not_fire_when_another_timer_of_its_instance_does(
    broken: Api, clock
) -> None:
    instance, incident = open_incident(broken, clock)
    broken.engine.skip_incident(incident, ADMIN, "not needed")
    clock.advance(days=1)  # the review's two-day timeout is due now
    broken.engine.fire_due_timers()
    assert broken.engine.incidents() == []
    assert broken.engine.instance(instance.id).status == "completed"


def test_a_timer_on_the_process_path_cannot_be_skipped(broken: Api, clock) -> None:
    instance = broken.start("C-9")
    task = broken.engine.tasks(instance_id=instance.id)[0]
    broken.engine.complete_task(task.id, {"severity": "low"}, INTAKE)
    [timer] = [t for t in broken.engine.instance(instance.id).timers if t.status == "pending"]
    with broken.engine._transaction() as session:  # make the reply window an incident
        row = session.get(Timer, timer.id)
        row.status = "incident"
    with pytest.raises(WorkflowFailed, match="retry it instead"):
        broken.engine.skip_incident(timer.id, ADMIN, "not needed")


def test_every_admin_api_route_has_its_openapi_entry(api: Api) -> None:
    from api.admin_blueprints import OPENAPI_PATHS

    routes = set()
    for rule in api.app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] == "admin_api":
            path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
            routes |= {(path, m.lower()) for m in rule.methods - {"HEAD", "OPTIONS"}}
    assert routes == {(path, m) for path, item in OPENAPI_PATHS.items() for m in item}
