"""The staff pages through Flask's test client: sign-in with its cookie, CSRF and throttle; the task
list with views, filters, counts, sorting and paging; the task form with its context, field errors,
conflicts and refusals; handing over; languages; and complainant text shown inert everywhere."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from api import create_app, web_tasks
from api.composition import bundle_files
from api.settings import Settings
from engine import Engine
from tests.conftest import ADMIN, DEMO_PROCESSES, new_engine
from tests.test_api_support import PASSWORD, Api
from tests.test_web_support import (
    HOSTILE,
    IMG,
    SCRIPT,
    Web,
    field_error,
    staff_web,
    text_of,
)


@pytest.fixture
def web(engine: Engine, sqlite_url: str) -> Web:
    return staff_web(engine, sqlite_url)


def rows(answer) -> list[str]:
    """Tracking numbers of the task list's rows, in order."""
    page = answer.get_data(as_text=True)
    return re.findall(r'<td class="key">([^<]*)</td>', page)


def count(answer, view: str) -> int:
    page = answer.get_data(as_text=True)
    found = re.search(rf'data-view="{view}"[^>]*>[^<]*<span class="count">(\d+)</span>', page)
    assert found, f"no tab {view}"
    return int(found.group(1))


# ------------------------------------------------------------ signing in and out


def test_pages_redirect_to_login_when_signed_out_and_come_back_after(web: Web) -> None:
    instance = web.start()
    task_id = web.task_of(instance)
    visitor = web.anonymous()

    answer = visitor.get("/tasks?view=mine")
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/login?next=/tasks?view%3Dmine"
    assert visitor.get(f"/tasks/{task_id}").status_code == 302
    claim = visitor.post(f"/tasks/{task_id}/claim")
    assert claim.status_code == 303
    assert claim.headers["Location"] == f"/login?next=/tasks/{task_id}"
    assert web.engine.task(task_id).assignee is None

    login = visitor.get("/login?next=/tasks?view%3Dmine")
    assert 'name="next" value="/tasks?view=mine"' in login.get_data(as_text=True)
    answer = visitor.post(
        "/login",
        {"username": "li.intake", "password": PASSWORD, "next": "/tasks?view=mine"},
    )
    assert answer.status_code == 303 and answer.headers["Location"] == "/tasks?view=mine"
    assert visitor.get("/tasks").status_code == 200


def test_login_cookie_is_secure_httponly_and_lax_by_default(engine: Engine, sqlite_url) -> None:
    app = create_app(Settings.from_env({"COMPLAINTS_DATABASE_URL": sqlite_url}), engine=engine)
    answer = app.test_client().get("/login")
    cookie = answer.headers["Set-Cookie"]
    assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_login_refuses_wrong_passwords_and_throttles_like_the_api(web: Web) -> None:
    visitor = web.anonymous()
    for _ in range(5):
        answer = visitor.login("li.intake", "wrong password!")
        assert answer.status_code == 401
        assert "用户名或密码错误" in text_of(answer)
        assert 'value="li.intake"' in answer.get_data(as_text=True)  # the name is kept

    answer = visitor.login("li.intake")  # even the right password waits now
    assert answer.status_code == 429 and int(answer.headers["Retry-After"]) > 0
    assert "登录失败次数过多" in text_of(answer)
    api = Api(web.app, web.engine)
    assert api.login("li.intake").status_code == 429  # one throttle for pages and API
    events = [e["event"] for e in web.accounts.auth_events("li.intake")]
    assert events.count("login_failed") == 5 and "login_throttled" in events


def test_login_needs_both_fields(web: Web) -> None:
    answer = web.anonymous().login("li.intake", "")
    assert answer.status_code == 422 and "请输入用户名和密码" in text_of(answer)


def test_login_goes_only_to_local_pages_after(web: Web) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example", "tasks"):
        visitor = web.anonymous()
        visitor.get("/login")
        answer = visitor.post(
            "/login", {"username": "li.intake", "password": PASSWORD, "next": target}
        )
        assert answer.status_code == 303 and answer.headers["Location"] == "/tasks", target


def test_every_post_without_the_csrf_token_is_refused_with_400(web: Web) -> None:
    task_id = web.task_of(web.start())
    visitor = web.anonymous()
    answer = visitor.post("/login", {"username": "li.intake", "password": PASSWORD}, csrf=False)
    assert answer.status_code == 400 and "表单已过期" in text_of(answer)

    clerk = web.as_("li.intake")
    for path, data in (
        (f"/tasks/{task_id}/claim", {}),
        (f"/tasks/{task_id}/unclaim", {}),
        (f"/tasks/{task_id}/assign", {"assignee": "zhao.intake", "reason": "leave"}),
        (f"/tasks/{task_id}", {"severity": "low"}),
        ("/logout", {}),
    ):
        assert clerk.post(path, data, csrf=False).status_code == 400, path
        forged = clerk.post(path, {**data, "csrf_token": "forged"}, csrf=False)
        assert forged.status_code == 400, path
    task = web.engine.task(task_id)
    assert task.status == "open" and task.assignee is None
    assert clerk.get("/tasks").status_code == 200  # still signed in


def test_logout_ends_the_session_and_revokes_its_token(web: Web) -> None:
    clerk = web.as_("li.intake")
    cookie = clerk.client.get_cookie("complaints_session")
    assert cookie is not None
    answer = clerk.post("/logout")
    assert answer.status_code == 303 and answer.headers["Location"] == "/login"
    assert clerk.get("/tasks").status_code == 302
    # The old cookie, replayed, opens nothing: its token is revoked.
    replay = web.anonymous()
    replay.client.set_cookie("complaints_session", cookie.value)
    assert replay.get("/tasks").status_code == 302


def test_signed_in_user_visiting_login_goes_to_tasks(web: Web) -> None:
    clerk = web.as_("li.intake")
    answer = clerk.get("/login")
    assert answer.status_code == 302 and answer.headers["Location"] == "/tasks"


# ------------------------------------------------------------ the task list


def test_task_list_shows_each_task_with_title_key_groups_times_and_overdue_badge(
    web: Web, clock
) -> None:
    web.start("C-1", review_due="2026-03-02T03:00:00+00:00")
    web.start("C-2", review_due="2026-03-09T03:00:00+00:00")
    clock.advance(hours=3)
    clerk = web.as_("li.intake")
    answer = clerk.get("/tasks")
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert rows(answer) == ["C-1", "C-2"]  # soonest due first
    first = page[page.index("C-1") - 400 : page.index("C-2")]
    assert "审查" in first  # the form's title, in Chinese
    assert "受理" in first  # group label
    assert "2026-03-02 09:00" in first  # created, Beijing time
    assert "2026-03-02 11:00" in first  # due
    assert "已逾期" in first
    assert "已逾期" not in page[page.index("C-2") :].split("</tr>")[0]
    assert count(answer, "all") == 2 and count(answer, "overdue") == 1
    assert answer.headers["Cache-Control"] == "no-store"
    assert "script-src 'self'" in answer.headers["Content-Security-Policy"]


def test_task_list_views_filters_and_counts(web: Web, clock) -> None:
    web.start("T-2026-001", review_due="2026-03-02T02:00:00+00:00")
    second = web.start("T-2026-002")
    web.start("X-9")
    clock.advance(hours=2)
    clerk = web.as_("li.intake")
    clerk.post(f"/tasks/{web.task_of(second)}/claim")

    everything = clerk.get("/tasks")
    assert {v: count(everything, v) for v in ("all", "mine", "unclaimed", "overdue")} == {
        "all": 3,
        "mine": 1,
        "unclaimed": 2,
        "overdue": 1,
    }
    assert rows(clerk.get("/tasks?view=mine")) == ["T-2026-002"]
    assert sorted(rows(clerk.get("/tasks?view=unclaimed"))) == ["T-2026-001", "X-9"]
    assert rows(clerk.get("/tasks?view=overdue")) == ["T-2026-001"]

    searched = clerk.get("/tasks?q=2026")
    assert sorted(rows(searched)) == ["T-2026-001", "T-2026-002"]
    assert count(searched, "all") == 2 and count(searched, "mine") == 1
    assert 'value="2026"' in searched.get_data(as_text=True)
    assert rows(clerk.get("/tasks?q=t-2026-001")) == ["T-2026-001"]  # any case

    by_process = clerk.get("/tasks?process=engine_demo&group=intake")
    assert len(rows(by_process)) == 3
    assert "engine_demo (3)" in by_process.get_data(as_text=True)
    assert rows(clerk.get("/tasks?process=other")) == []
    assert rows(clerk.get("/tasks?group=enforcement")) == []
    assert "这里没有任务" in text_of(clerk.get("/tasks?group=enforcement"))

    # Enforcement sees none of intake's tasks; an admin sees them all.
    assert rows(web.as_("wang.enforce").get("/tasks")) == []
    assert len(rows(web.as_("admin").get("/tasks"))) == 3


def test_task_list_sorts_by_due_date_both_ways_and_pages(
    web: Web, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(web_tasks, "PAGE_SIZE", 2)
    for day, key in ((5, "C-5"), (3, "C-3"), (4, "C-4")):
        web.start(key, review_due=f"2026-03-0{day}T01:00:00+00:00")
    clerk = web.as_("li.intake")
    first = clerk.get("/tasks")
    assert rows(first) == ["C-3", "C-4"]
    assert "第 1 页，共 2 页" in text_of(first)
    assert rows(clerk.get("/tasks?page=2")) == ["C-5"]
    assert rows(clerk.get("/tasks?page=99")) == ["C-5"]  # past the end: the last page
    assert rows(clerk.get("/tasks?page=nonsense")) == ["C-3", "C-4"]
    assert rows(clerk.get("/tasks?sort=-due")) == ["C-5", "C-4"]
    assert 'href="/tasks?page=2"' in first.get_data(as_text=True)


def test_claim_and_unclaim_from_the_list_go_back_to_it(web: Web) -> None:
    task_id = web.task_of(web.start())
    clerk = web.as_("li.intake")
    answer = clerk.post(f"/tasks/{task_id}/claim", {"next": "/tasks?view=unclaimed"})
    assert answer.status_code == 303 and answer.headers["Location"] == "/tasks?view=unclaimed"
    assert web.engine.task(task_id).assignee == "li.intake"
    listed = clerk.get("/tasks?view=mine")
    assert "您已认领该任务" in text_of(listed)
    assert f'action="/tasks/{task_id}/unclaim"' in listed.get_data(as_text=True)

    answer = clerk.post(f"/tasks/{task_id}/unclaim", {"next": "https://evil.example/"})
    assert answer.headers["Location"] == f"/tasks/{task_id}"  # never off-site
    assert web.engine.task(task_id).assignee is None


def test_claiming_a_task_a_colleague_claimed_meanwhile_is_a_409(web: Web) -> None:
    task_id = web.task_of(web.start())
    li, zhao = web.as_("li.intake"), web.as_("zhao.intake")
    li.post(f"/tasks/{task_id}/claim")
    answer = zhao.post(f"/tasks/{task_id}/claim")
    assert answer.status_code == 409
    assert "该任务刚被 li.intake 认领" in text_of(answer)
    answer = zhao.post(f"/tasks/{task_id}", {"severity": "low"})
    assert answer.status_code == 409
    assert web.engine.task(task_id).status == "open"
    # Unclaiming someone else's task is the engine's refusal: 403.
    assert zhao.post(f"/tasks/{task_id}/unclaim").status_code == 403


# ------------------------------------------------------------ one task


def test_task_page_shows_the_form_in_chinese_with_context_and_no_complainant_identity(
    web: Web,
) -> None:
    instance = web.start(
        "C-7",
        channel="hotline",
        category="water",
        title="河道排污",
        description="工厂夜间向河道排放污水。\n气味刺鼻。",
        location={
            "region_code": "420102",
            "address": "江岸区沿河大道1号",
            "lat": 30.6,
            "lon": 114.3,
        },
        respondent="某化工厂",
        requested_outcome="停止排污",
        urgent=True,
        complainant={"name": "张三", "phone": "13800000000", "email": "zs@example.cn"},
        deadlines={"start": "2026-03-02T01:00:00+00:00", "routing": "2026-03-09T16:00:00+00:00"},
    )
    page = web.as_("li.intake").get(f"/tasks/{web.task_of(instance)}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    shown = text_of(page)
    assert '<html lang="zh-CN">' in html
    for expected in (
        "审查",  # form title
        "严重程度 *",  # label with its required mark
        "备注",
        "12369 热线",
        "水",
        "河道排污",
        "工厂夜间向河道排放污水。",
        "江岸区沿河大道1号",
        "420102",
        "某化工厂",
        "停止排污",
        "紧急",
        "deadlines · routing",
        "2026-03-10 00:00",  # a deadline in Beijing time
        "review_due",
    ):
        assert expected in shown, expected
    for secret in ("张三", "13800000000", "zs@example.cn"):
        assert secret not in html
    assert '<option value="high">严重</option>' in html
    assert 'name="note" type="text" value="" maxlength="200"' in html
    assert re.search(r'<select id="field-severity" name="severity" required', html)


def test_task_page_in_english_on_request_and_the_choice_sticks(web: Web) -> None:
    task_id = web.task_of(web.start(category="noise"))
    clerk = web.as_("li.intake")
    english = clerk.get(f"/tasks/{task_id}?lang=en")
    shown = text_of(english)
    assert '<html lang="en">' in english.get_data(as_text=True)
    assert "Severity *" in shown and "Note" in shown and "Noise" in shown
    assert "Complete task" in shown and "严重程度" not in shown
    assert "Severity" in text_of(clerk.get(f"/tasks/{task_id}"))  # kept in the session
    assert "Tasks" in text_of(clerk.get("/tasks"))
    assert "严重程度" in text_of(clerk.get(f"/tasks/{task_id}?lang=zh"))
    assert "任务" in text_of(clerk.get("/tasks"))


def test_tasks_of_other_groups_are_403_and_unknown_tasks_404(web: Web) -> None:
    task_id = web.task_of(web.start())
    outsider = web.as_("wang.enforce")
    for answer in (
        outsider.get(f"/tasks/{task_id}"),
        outsider.post(f"/tasks/{task_id}", {"severity": "low"}),
        outsider.post(f"/tasks/{task_id}/claim"),
        outsider.post(f"/tasks/{task_id}/assign", {"assignee": "wang.enforce", "reason": "x"}),
    ):
        assert answer.status_code == 403
        assert "此任务属于您不在其中的组" in text_of(answer)
    assert web.engine.task(task_id).status == "open"
    assert web.engine.task(task_id).assignee is None

    clerk = web.as_("li.intake")
    assert clerk.get("/tasks/no-such-task").status_code == 404
    assert "没有这个任务" in text_of(clerk.get("/tasks/no-such-task"))
    assert clerk.post("/tasks/no-such-task", {"severity": "low"}).status_code == 404


def test_form_errors_appear_beside_their_fields_and_entries_are_kept(web: Web) -> None:
    task_id = web.task_of(web.start())
    clerk = web.as_("li.intake")
    clerk.get(f"/tasks/{task_id}")
    answer = clerk.post(f"/tasks/{task_id}", {"note": "看过现场"})
    assert answer.status_code == 422
    assert field_error(answer, "severity") == "此项为必填项。"
    assert field_error(answer, "note") == ""
    assert 'value="看过现场"' in answer.get_data(as_text=True)
    assert "请更正标出的项目" in text_of(answer)

    answer = clerk.post(f"/tasks/{task_id}", {"severity": "high", "note": "长" * 201})
    assert answer.status_code == 422
    assert field_error(answer, "note") == "最多 200 个字符。"
    assert '<option value="high" selected>' in answer.get_data(as_text=True)

    answer = clerk.post(f"/tasks/{task_id}?lang=en", {"severity": "extreme"})
    assert field_error(answer, "severity") == "Choose one of the offered values."
    assert web.engine.task(task_id).status == "open"


def test_completing_the_review_moves_the_complaint_on_to_enforcement(web: Web) -> None:
    instance = web.start()
    task_id = web.task_of(instance)
    clerk = web.as_("li.intake")
    clerk.post(f"/tasks/{task_id}/claim")
    answer = clerk.post(f"/tasks/{task_id}", {"severity": "high", "note": "需现场检查"})
    assert answer.status_code == 303 and answer.headers["Location"] == "/tasks"
    assert "任务已办结" in text_of(clerk.get("/tasks"))
    assert rows(clerk.get("/tasks")) == []

    officer = web.as_("wang.enforce")
    assert rows(officer.get("/tasks")) == ["C-1"]
    inspect_id = web.engine.tasks(actor=None, instance_id=instance.id)[0].id
    form = officer.get(f"/tasks/{inspect_id}")
    html = form.get_data(as_text=True)
    assert "现场检查" in text_of(form)
    assert 'type="checkbox" id="field-violation_found" name="violation_found" value="true"' in html
    assert clerk.get(f"/tasks/{inspect_id}").status_code == 403
    # An unchecked box is a "no", so the required boolean is answered.
    done = officer.post(f"/tasks/{inspect_id}", {})
    assert done.status_code == 303
    completed = web.engine.task(inspect_id)
    assert completed.status == "completed" and completed.completed_by == "wang.enforce"
    assert web.engine.instance(instance.id).data["violation_found"] is False


def test_completing_a_task_someone_completed_meanwhile_is_a_clear_409(web: Web) -> None:
    task_id = web.task_of(web.start())
    li, zhao = web.as_("li.intake"), web.as_("zhao.intake")
    li.get(f"/tasks/{task_id}")
    zhao.get(f"/tasks/{task_id}")
    assert zhao.post(f"/tasks/{task_id}", {"severity": "low"}).status_code == 303
    answer = li.post(f"/tasks/{task_id}", {"severity": "high", "note": "mine"})
    assert answer.status_code == 409
    assert "该任务已由 zhao.intake 于 2026-03-02 09:00 办结" in text_of(answer)
    assert "您填写的内容未保存" in text_of(answer)
    assert li.post(f"/tasks/{task_id}/claim").status_code == 409
    later = li.get(f"/tasks/{task_id}")
    assert later.status_code == 200 and "该任务已由 zhao.intake" in text_of(later)
    assert 'id="task-form"' not in later.get_data(as_text=True)


def test_task_claimed_by_a_colleague_shows_no_form_to_others(web: Web) -> None:
    task_id = web.task_of(web.start())
    web.as_("li.intake").post(f"/tasks/{task_id}/claim")
    page = web.as_("zhao.intake").get(f"/tasks/{task_id}")
    assert page.status_code == 200
    assert 'id="task-form"' not in page.get_data(as_text=True)
    assert "li.intake 已认领该任务" in text_of(page)


def test_handing_a_task_to_a_colleague_needs_a_group_member_and_a_reason(web: Web) -> None:
    task_id = web.task_of(web.start())
    clerk = web.as_("li.intake")
    clerk.post(f"/tasks/{task_id}/claim")

    answer = clerk.post(f"/tasks/{task_id}/assign", {"assignee": "wang.enforce", "reason": ""})
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert "wang.enforce 不在该任务的任何组中" in text_of(answer)
    assert "此项为必填项" in text_of(answer)
    assert 'value="wang.enforce"' in page
    assert '<details class="card reassign" id="reassign" open>' in page
    answer = clerk.post(f"/tasks/{task_id}/assign", {"assignee": "nobody", "reason": "x"})
    assert answer.status_code == 422 and "没有在用的用户 nobody" in text_of(answer)
    assert web.engine.task(task_id).assignee == "li.intake"

    answer = clerk.post(
        f"/tasks/{task_id}/assign", {"assignee": " Zhao.Intake ", "reason": "休假交接"}
    )
    assert answer.status_code == 303
    assert web.engine.task(task_id).assignee == "zhao.intake"
    assert "任务已转交给 zhao.intake" in text_of(clerk.get("/tasks"))
    history = web.engine.history(web.engine.task(task_id).instance_id)
    assert any(e.event == "task_assigned" and e.reason == "休假交接" for e in history)
    assert rows(web.as_("zhao.intake").get("/tasks?view=mine")) == ["C-1"]


def test_a_delegated_task_is_answered_by_the_colleague_and_completed_by_its_owner(
    web: Web,
) -> None:
    task_id = web.task_of(web.start())
    clerk, expert = web.as_("li.intake"), web.as_("wang.enforce")
    assert 'id="delegate"' not in clerk.get(f"/tasks/{task_id}").get_data(as_text=True)
    clerk.post(f"/tasks/{task_id}/claim")
    refused = clerk.post(f"/tasks/{task_id}/delegate", {"user": "li.intake", "reason": ""})
    assert refused.status_code == 422 and "请委托给他人" in text_of(refused)
    answer = clerk.post(
        f"/tasks/{task_id}/delegate", {"user": "wang.enforce", "reason": "请执法队判断严重程度"}
    )
    assert answer.status_code == 303
    waiting = text_of(clerk.get(f"/tasks/{task_id}"))
    assert "li.intake 已委托 wang.enforce 办理，尚未退回" in waiting

    page = expert.get(f"/tasks/{task_id}")  # outside the task's group, but asked
    assert page.status_code == 200 and "li.intake 请您提出意见" in text_of(page)
    assert f'action="/tasks/{task_id}/resolve"' in page.get_data(as_text=True)
    wrong = expert.post(f"/tasks/{task_id}/resolve", {"severity": "medium"})
    assert wrong.status_code == 422
    assert expert.post(f"/tasks/{task_id}/resolve", {"severity": "high"}).status_code == 303
    assert web.engine.task(task_id).assignee == "li.intake"

    back = clerk.get(f"/tasks/{task_id}")
    assert "受托人的意见已填入下方" in text_of(back)
    assert re.search(r'<option value="high"\s+selected', back.get_data(as_text=True))
    assert clerk.post(f"/tasks/{task_id}", {"severity": "high"}).status_code == 303
    events = [e.event for e in web.engine.history(web.engine.task(task_id).instance_id)]
    assert events.count("task_delegated") == events.count("task_resolved") == 1


# ------------------------------------------------------------ every kind of field

RICH_REVIEW = {
    "title": {"zh": "审查", "en": "Review"},
    "description": {"zh": "逐项核实。", "en": "Check each point."},
    "type": "object",
    "required": ["severity", "visited_on", "units", "confirmed"],
    "properties": {
        "tracking_number": {
            "type": "string",
            "readOnly": True,
            "title": {"zh": "受理编号", "en": "Tracking number"},
        },
        "severity": {
            "type": "string",
            "enum": ["high", "low"],
            "enumTitles": {
                "high": {"zh": "严重", "en": "High"},
                "low": {"zh": "一般", "en": "Low"},
            },
            "title": {"zh": "严重程度", "en": "Severity"},
            "widget": "radio",
        },
        "note": {
            "type": "string",
            "maxLength": 200,
            "minLength": 2,
            "widget": "textarea",
            "title": {"zh": "备注", "en": "Note"},
            "help": {"zh": "写明事实。", "en": "State the facts."},
        },
        "visited_on": {"type": "string", "format": "date", "title": {"zh": "日期", "en": "Date"}},
        "visited_at": {
            "type": "string",
            "format": "date-time",
            "title": {"zh": "时间", "en": "Time"},
        },
        "inspectors": {
            "type": "integer",
            "minimum": 1,
            "maximum": 9,
            "default": 2,
            "title": {"zh": "人数", "en": "Inspectors"},
        },
        "fine": {"type": "number", "minimum": 0, "title": {"zh": "罚款", "en": "Fine"}},
        "contact": {"type": "string", "format": "email", "title": {"zh": "邮箱", "en": "E-mail"}},
        "confirmed": {"type": "boolean", "title": {"zh": "已核实", "en": "Confirmed"}},
        "follow_up": {
            "type": "boolean",
            "widget": "radio",
            "title": {"zh": "需回访", "en": "Follow-up"},
        },
        "units": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "string",
                "enum": ["enforcement", "ecology"],
                "enumTitles": {
                    "enforcement": {"zh": "执法支队", "en": "Enforcement"},
                    "ecology": {"zh": "生态处", "en": "Ecology"},
                },
            },
            "title": {"zh": "协办单位", "en": "Units"},
        },
        "topics": {
            "type": "array",
            "widget": "multiselect",
            "items": {
                "type": "string",
                "enum": ["air", "water"],
                "enumTitles": {
                    "air": {"zh": "大气", "en": "Air"},
                    "water": {"zh": "水", "en": "Water"},
                },
            },
            "title": {"zh": "事项", "en": "Topics"},
        },
    },
}


@pytest.fixture
def rich(tmp_path, calls, clock) -> Iterator[Web]:
    url = f"sqlite:///{tmp_path / 'rich.db'}"
    engine = new_engine(url, calls, clock)
    files = bundle_files(DEMO_PROCESSES)
    files["review.json"] = json.dumps(RICH_REVIEW, ensure_ascii=False).encode()
    engine.deploy(files, ADMIN)
    yield staff_web(engine, url)
    engine.close()


def test_every_widget_is_drawn_from_the_form_file(rich: Web) -> None:
    task_id = rich.task_of(rich.start(tracking_number="T-42"))
    page = rich.as_("li.intake").get(f"/tasks/{task_id}")
    html = page.get_data(as_text=True)
    shown = text_of(page)
    assert "逐项核实。" in shown and "写明事实。" in shown
    assert re.search(r'data-field="tracking_number">\s*<span class="label">受理编号</span>', html)
    assert '<span class="value">T-42</span>' in html
    assert 'name="tracking_number"' not in html  # read-only: shown, never posted
    assert html.count('type="radio" name="severity"') == 2
    assert '<textarea id="field-note" name="note" rows="5" minlength="2" maxlength="200"' in html
    assert 'type="date"' in html and 'type="datetime-local"' in html
    assert 'name="inspectors" type="number" inputmode="decimal" value="2" min="1" max="9"' in html
    assert 'name="fine" type="number" inputmode="decimal" value="" min="0" step="any"' in html
    assert 'type="email"' in html
    assert 'name="confirmed" value="true">' in html
    assert 'name="follow_up" value="true"' in html and 'name="follow_up" value="false"' in html
    assert html.count('type="checkbox" name="units"') == 2
    assert '<select id="field-topics" name="topics" multiple size="2"' in html


def test_every_widget_keeps_its_entries_on_errors_and_round_trips(rich: Web) -> None:
    instance = rich.start(tracking_number="T-42")
    task_id = rich.task_of(instance)
    clerk = rich.as_("li.intake")
    clerk.get(f"/tasks/{task_id}")
    bad = {
        "severity": "low",
        "note": "x",
        "visited_on": "2026-02-30",
        "inspectors": "0",
        "fine": "-1",
        "contact": "not mail",
        "follow_up": "true",
        "topics": ["water"],
    }
    answer = clerk.post(f"/tasks/{task_id}", bad)
    assert answer.status_code == 422
    assert field_error(answer, "note") == "应为 2 至 200 个字符。"
    assert field_error(answer, "visited_on") == "请输入日期（年-月-日）。"
    assert field_error(answer, "inspectors") == "应在 1 至 9 之间。"
    assert field_error(answer, "fine") == "不能小于 0。"
    assert field_error(answer, "contact") == "请输入有效的电子邮件地址。"
    assert field_error(answer, "units") == "至少选择 1 项。"
    html = answer.get_data(as_text=True)
    assert 'value="low" checked' in html and 'value="true" checked' in html
    assert 'value="2026-02-30"' in html and 'value="0"' in html
    assert '<option value="water" selected>' in html
    assert '<span class="value">T-42</span>' in html

    good = {
        "severity": "low",
        "note": "查明属实",
        "visited_on": "2026-03-05",
        "visited_at": "2026-03-05T10:30",
        "inspectors": "3",
        "fine": "1500.5",
        "contact": "duty@example.cn",
        "confirmed": "true",
        "follow_up": "false",
        "units": ["enforcement", "ecology"],
    }
    assert clerk.post(f"/tasks/{task_id}", good).status_code == 303
    data = rich.engine.instance(instance.id).data
    assert data["visited_at"] == "2026-03-05T10:30:00+08:00"  # entered as Beijing time
    assert data["inspectors"] == 3 and data["fine"] == 1500.5
    assert data["confirmed"] is True and data["follow_up"] is False
    assert data["units"] == ["enforcement", "ecology"] and data["topics"] == []
    assert data["visited_on"] == "2026-03-05" and data["note"] == "查明属实"


# ------------------------------------------------------------ complainant text is inert


def test_hostile_text_stays_inert_in_the_list_the_form_and_the_json_api(web: Web) -> None:
    instance = web.start(
        f"K{SCRIPT}{IMG}",
        title=SCRIPT + IMG,
        description=IMG + "\n" + SCRIPT,
        respondent=IMG,
        location={"address": SCRIPT, "region_code": IMG},
    )
    task_id = web.task_of(instance)
    clerk = web.as_("li.intake")

    def assert_inert(answer) -> None:
        page = answer.get_data(as_text=True)
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
        assert "&lt;img src=x onerror=alert(1)&gt;" in page

    listed = clerk.get(f"/tasks?q={SCRIPT}")
    assert_inert(listed)
    assert rows(listed) == [
        "K&lt;script&gt;alert(1)&lt;/script&gt;&#34;&gt;&lt;img src=x onerror=alert(1)&gt;"
    ]
    assert_inert(clerk.get(f"/tasks/{task_id}"))

    # Every text field of the form gets the payloads: refused first, so they are echoed back...
    for payload in HOSTILE:
        answer = clerk.post(f"/tasks/{task_id}", {"note": payload})
        assert answer.status_code == 422
        page = answer.get_data(as_text=True)
        assert "<script>alert" not in page and "<img src=x" not in page
    # ...then accepted, and the next task shows the complaint just as inert.
    assert clerk.post(f"/tasks/{task_id}", {"severity": "high", "note": IMG + SCRIPT}).status_code
    inspect_id = web.engine.tasks(instance_id=instance.id)[0].id
    officer = web.as_("wang.enforce")
    assert_inert(officer.get("/tasks"))
    assert_inert(officer.get(f"/tasks/{inspect_id}"))

    api = Api(web.app, web.engine)
    api_answer = api.as_("wang.enforce").get(f"/api/tasks/{inspect_id}")
    assert api_answer.status_code == 200
    assert api_answer.mimetype == "application/json"
    body = api_answer.get_json()
    assert body["business_key"] == f"K{SCRIPT}{IMG}"  # kept exactly, escaped only when shown
    assert body["data"]["title"] == SCRIPT + IMG
    assert body["data"]["note"] == IMG + SCRIPT
