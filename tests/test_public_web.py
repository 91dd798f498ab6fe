"""The public pages without JavaScript: the report form (Chinese by default, English on request,
CSRF-protected, a nonce against double submission), the once-only receipt page, and tracking
with the review, re-review and evaluation forms on the real complaint process."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest

from engine import Engine
from handlers.models import Complaint
from tests.lifecycle import REGION, REVIEWER, lifecycle_engine
from tests.test_public_support import NAME, PHONE, Site, identity_free


@pytest.fixture
def engine(sqlite_url: str, clock) -> Iterator[Engine]:
    engine = lifecycle_engine(sqlite_url, clock)
    yield engine
    engine.close()


@pytest.fixture
def site(engine: Engine, sqlite_url: str) -> Site:
    return Site(engine, sqlite_url)


def hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    assert found, f"no hidden field {name}"
    return html.unescape(found.group(1))


def report_form(site: Site, query: str = "") -> dict[str, str]:
    page = site.client.get(f"/report{query}").get_data(as_text=True)
    return {"csrf_token": hidden(page, "csrf_token"), "nonce": hidden(page, "nonce")}


def filled(site: Site, **values: str) -> dict[str, str]:
    data = {
        **report_form(site),
        "category": "noise",
        "title": "夜间施工噪声",
        "description": "每晚十一点后工地仍在打桩。",
        "region_code": REGION,
        "address": "江岸区解放大道1号",
        "lat": "",
        "lon": "",
        "identity": "real_name",
        "name": NAME,
        "phone": PHONE,
        "written_reply": "1",
    }
    data.update(values)
    return data


def receipt(site: Site, data: dict[str, str]) -> tuple[str, str]:
    answer = site.client.post("/report", data=data)
    assert answer.status_code == 303, answer.get_data(as_text=True)
    page = site.client.get(answer.headers["Location"]).get_data(as_text=True)
    number = re.search(r'id="tracking-number">([^<]+)<', page).group(1)
    token = re.search(r'id="access-token">([^<]+)<', page).group(1)
    return number, token


def track(site: Site, number: str, token: str):
    page = site.client.get("/track").get_data(as_text=True)
    data = {"csrf_token": hidden(page, "csrf_token"), "tracking_number": number}
    return site.client.post("/track", data={**data, "access_token": token})


def test_the_report_form_is_chinese_by_default_english_on_request_and_needs_no_script(
    site: Site,
) -> None:
    zh = site.client.get("/report")
    assert zh.status_code == 200
    page = zh.get_data(as_text=True)
    assert '<html lang="zh-CN">' in page and "我要投诉举报" in page
    assert "<script" not in page
    for name in ("category", "description", "region_code", "identity", "written_reply"):
        assert f'name="{name}"' in page
    assert "reward_interest" in page and "addressed_to_leader" in page and "urgent" in page
    assert "湖北省武汉市江岸区" in page
    assert "暂不支持上传" in page  # attachments are left out, and the form says so
    assert "script-src" not in zh.headers["Content-Security-Policy"]
    assert zh.headers["X-Frame-Options"] == "DENY"

    en = site.client.get("/report?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in en and "Report a problem" in en
    assert 'action="/report?lang=en"' in en


def test_a_form_without_the_session_csrf_token_is_refused(site: Site) -> None:
    data = filled(site)
    data["csrf_token"] = "forged"
    answer = site.client.post("/report", data=data)
    assert answer.status_code == 400
    assert "表单已过期" in answer.get_data(as_text=True)
    fresh = site.app.test_client()  # another browser: no session at all
    assert fresh.post("/report", data=filled(site)).status_code == 400
    assert site.count(Complaint) == 0


def test_a_reported_complaint_shows_its_number_and_access_code_once(site: Site) -> None:
    answer = site.client.post("/report", data=filled(site))
    assert answer.status_code == 303
    done = site.client.get(answer.headers["Location"])
    page = done.get_data(as_text=True)
    assert done.headers["Cache-Control"] == "no-store"
    number = re.search(r'id="tracking-number">([^<]+)<', page).group(1)
    token = re.search(r'id="access-token">([^<]+)<', page).group(1)
    assert "@media print" in page and "已登记，正在审查分流" in page
    assert site.view(number, token).status_code == 200
    again = site.client.get(answer.headers["Location"]).get_data(as_text=True)
    assert token not in again and "只显示一次" in again
    complaint = site.complaint(number)
    assert (complaint.channel, complaint.category, complaint.written_reply) == (
        "web",
        "noise",
        True,
    )
    assert complaint.reward_interest is False
    assert site.identity(number).name == NAME


def test_submitting_the_same_form_twice_registers_one_complaint(site: Site) -> None:
    data = filled(site)
    first = receipt(site, data)
    second = receipt(site, data)
    assert first[0] == second[0]
    assert site.count(Complaint) == 1
    assert site.view(second[0], second[1]).status_code == 200
    # the same form changed and sent again is not taken for the first one
    changed = site.client.post("/report", data={**data, "description": "另一处工地"})
    assert changed.status_code == 409
    assert "已经提交过" in changed.get_data(as_text=True)
    assert site.count(Complaint) == 1


def test_mistakes_are_shown_beside_their_fields_in_the_pages_language(site: Site) -> None:
    data = filled(site, description="", region_code="", name="", phone="12", lat="north")
    answer = site.client.post("/report", data=data)
    assert answer.status_code == 422
    page = answer.get_data(as_text=True)
    assert "请修改标出的内容" in page
    assert "必填" in page and "实名反映须填写姓名" in page and "电话号码格式不正确" in page
    assert "应为数字" in page
    assert 'value="夜间施工噪声"' in page  # what was typed is kept
    assert hidden(page, "nonce") == data["nonce"]
    assert 'href="/report?lang=en"' in page  # the language switch leads to the form page
    english = site.client.post("/report?lang=en", data=data).get_data(as_text=True)
    assert "required when not anonymous" in english
    assert site.count(Complaint) == 0


def test_a_coordinate_is_a_plain_decimal_number(site: Site) -> None:
    """A mistyped coordinate, the only mistake of the form, is told like any other (telling it
    once looped forever, adding the mistake to the list being read, until memory ran out)."""
    for odd in ("north", "1_0", "nan", "infinity"):  # the last three are floats to Python
        answer = site.client.post("/report", data=filled(site, lat=odd))
        assert answer.status_code == 422 and "应为数字" in answer.get_data(as_text=True), odd
    ok = site.client.post("/report", data=filled(site, lat="30.5", lon="114.3"))
    assert ok.status_code in (200, 303), ok.get_data(as_text=True)
    assert site.count(Complaint) == 1


def test_an_anonymous_report_keeps_no_name(site: Site) -> None:
    number, _ = receipt(site, filled(site, identity="anonymous", name="", phone=""))
    identity = site.identity(number)
    assert identity.anonymous is True and identity.name is None


def test_tracking_needs_the_right_access_code_and_shows_the_timeline(site: Site) -> None:
    number, token = receipt(site, filled(site))
    wrong = track(site, number, "not-the-code")
    unknown = track(site, "HB-2026-424242", token)
    assert wrong.status_code == unknown.status_code == 404
    assert "没有与该编号和查询码相符的事项" in wrong.get_data(as_text=True)
    assert site.client.get("/track/status").status_code == 200  # only the form again
    assert number not in site.client.get("/track/status").get_data(as_text=True)

    answer = track(site, number, token)
    assert answer.status_code == 303
    page = site.client.get(answer.headers["Location"]).get_data(as_text=True)
    assert number in page and "已登记，正在审查分流" in page
    assert "信访事项登记告知书" in page and "尚未确定" in page
    assert identity_free(page)
    assert "申请复查" not in page  # no forms before they apply
    english = site.client.get("/track/status?lang=en").get_data(as_text=True)
    assert "Registered; being examined and routed" in english


def test_the_review_form_appears_when_it_applies_and_a_refusal_is_explained(
    site: Site, clock
) -> None:
    number, token = receipt(site, filled(site))
    site.petition_answered(number)
    status_page = site.client.get(track(site, number, token).headers["Location"])
    page = status_page.get_data(as_text=True)
    assert 'action="/track/review-request"' in page and "信访处理意见书" in page
    csrf = hidden(page, "csrf_token")

    empty = site.client.post("/track/review-request", data={"csrf_token": csrf, "reason": ""})
    assert empty.status_code == 422 and "必填" in empty.get_data(as_text=True)

    sent = site.client.post(
        "/track/review-request", data={"csrf_token": csrf, "reason": "事实认定有误"}
    )
    assert sent.status_code == 303
    page = site.client.get("/track/status").get_data(as_text=True)
    assert "已提交" in page and "复查（复核）中" in page
    assert site.complaint(number).status == "in_review"

    again = site.client.post(
        "/track/review-request", data={"csrf_token": csrf, "reason": "再次申请"}
    )
    assert again.status_code == 409
    assert "已经提出复查申请" in again.get_data(as_text=True)

    site.complete(
        number,
        "review",
        REVIEWER,
        review_outcome="upheld",
        review_opinion="原处理意见正确",
        review_basis="《信访工作条例》第三十五条",
    )
    page = site.client.get("/track/status").get_data(as_text=True)
    assert 'action="/track/re-review-request"' in page and "信访事项复查意见书" in page

    clock.advance(days=31)
    site.engine.fire_due_timers()  # the re-review window lapses: final, evaluation opens
    expired = site.client.get("/track/status").get_data(as_text=True)
    assert "查询已超时" in expired  # a tracking session lasts 30 minutes of inactivity
    page = site.client.get(track(site, number, token).headers["Location"]).get_data(as_text=True)
    assert 'action="/track/evaluation"' in page and "已办理终结" in page
    rated = site.client.post(
        "/track/evaluation",
        data={"csrf_token": csrf, "satisfaction": "dissatisfied", "comment": "太慢"},
    )
    assert rated.status_code == 303
    assert site.complaint(number).satisfaction == "dissatisfied"


def test_leaving_the_tracking_page_forgets_the_complaint(site: Site) -> None:
    number, token = receipt(site, filled(site))
    page = site.client.get(track(site, number, token).headers["Location"]).get_data(as_text=True)
    left = site.client.post("/track/leave", data={"csrf_token": hidden(page, "csrf_token")})
    assert left.status_code == 303
    assert number not in site.client.get("/track/status").get_data(as_text=True)
