"""The administrators' pages speak the staff pages' languages: Chinese by default, English with
`?lang=en` (kept in the session), `<html lang>` and the switch link set the same way; every text
the admin templates and admin_*.py mark has a Chinese translation; data stays as it is, escaped."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from api import admin_assets
from engine import Actor, Engine
from tests.test_admin_pages import text_of
from tests.test_admin_support import (
    Browser,
    admin_api,
    broken_admin_api,
    broken_engine,
    open_incident,
    signed_in,
)
from tests.test_api_support import Api
from tests.test_web_i18n import texts, used_messages, zh_catalog

PAGES = ("/admin/instances", "/admin/instances/1", "/admin/audit", "/admin/incidents")
HEADINGS = {
    "/admin/instances": ("流程实例", "Process instances"),
    "/admin/instances/1": ("流程实例 1", "Instance 1"),
    "/admin/audit": ("审计日志", "Audit trail"),
    "/admin/incidents": ("异常事件", "Incidents"),
    "/admin/processes": ("流程", "Processes"),
}
SWITCH = re.compile(r'<a class="admin-lang" href="([^"]+)" hreflang="([^"]+)"[^>]*>([^<]+)</a>')


def admin_messages() -> set[str]:
    return used_messages(modules=("admin_*.py",), templates=("admin",))


def phrases() -> list[str]:
    """Interface texts of several words without placeholders: none can be part of the data."""
    return sorted(m for m in admin_messages() if " " in m and "%(" not in m and "\n" not in m)


def heading(answer) -> str:
    found = re.search(r"<h1>(.*?)</h1>", answer.get_data(as_text=True), re.S)
    assert found, "no heading"
    return re.sub(r"<[^>]+>", " ", found.group(1)).split("  ")[0].strip()


@pytest.fixture
def api(engine: Engine, sqlite_url: str) -> Api:
    helper = admin_api(engine, sqlite_url)
    helper.start("C-1")
    return helper


@pytest.fixture
def admin(api: Api) -> Browser:
    return signed_in(api, "admin")


# ------------------------------------------------------------ languages of the pages


@pytest.mark.parametrize("path", [*PAGES, "/admin/processes"])
def test_the_admin_pages_are_chinese_by_default(admin: Browser, path: str) -> None:
    answer = admin.get(path)
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert '<html lang="zh-CN">' in page
    assert heading(answer) == HEADINGS[path][0]
    shown = text_of(answer)
    assert "系统管理" in shown and "审计日志" in shown and "退出" in shown
    assert [p for p in phrases() if p in shown] == []
    [(href, hreflang, label)] = SWITCH.findall(page)
    assert (href, hreflang, label) == (f"{path}?lang=en", "en", "English")


@pytest.mark.parametrize("path", [*PAGES, "/admin/processes"])
def test_the_admin_pages_are_english_on_request(admin: Browser, path: str) -> None:
    answer = admin.get(f"{path}?lang=en")
    assert answer.status_code == 200
    page = answer.get_data(as_text=True)
    assert '<html lang="en">' in page
    assert heading(answer) == HEADINGS[path][1]
    shown = text_of(answer)
    assert "Administration" in shown and "Sign out" in shown
    assert "系统管理" not in shown
    [(href, hreflang, label)] = SWITCH.findall(page)
    assert (href, hreflang, label) == (f"{path}?lang=zh", "zh-CN", "中文")


def test_the_choice_is_kept_for_the_session_and_the_switch_keeps_the_query(
    admin: Browser,
) -> None:
    assert '<html lang="en">' in admin.get("/admin/audit?lang=en").get_data(as_text=True)
    later = admin.get("/admin/audit?event=instance_started")
    assert '<html lang="en">' in later.get_data(as_text=True)
    assert "1 matching event, newest first." in text_of(later)
    [(href, _, _)] = SWITCH.findall(later.get_data(as_text=True))
    assert href == "/admin/audit?event=instance_started&amp;lang=zh"
    back = admin.get("/admin/instances?lang=zh")
    assert "运行中" in text_of(back) and ">running<" not in back.get_data(as_text=True)
    assert '<html lang="zh-CN">' in admin.get("/admin/audit").get_data(as_text=True)


def test_signing_in_with_a_token_keeps_the_language_asked_for(api: Api) -> None:
    browser = signed_in(api, "admin", lang="en")
    answer = browser.get("/admin/instances")
    assert '<html lang="en">' in answer.get_data(as_text=True)
    assert "running" in text_of(answer)


def test_counts_read_in_english_singular_and_plural(api: Api, admin: Browser) -> None:
    one = text_of(admin.get("/admin/audit?event=instance_started&lang=en"))
    assert "1 matching event, newest first." in one
    api.start("C-2")
    two = text_of(admin.get("/admin/audit?event=instance_started"))
    assert "2 matching events, newest first." in two
    chinese = text_of(admin.get("/admin/audit?event=instance_started&lang=zh"))
    assert "共 2 条匹配事件，最新的在前。" in chinese


def test_error_pages_and_refusals_speak_the_readers_language(api: Api, admin: Browser) -> None:
    clerk = signed_in(api, "li.intake")
    refused = clerk.get("/admin/instances")
    assert refused.status_code == 403
    assert "无权操作" in text_of(refused) and "这些页面仅供管理员使用。" in text_of(refused)
    english = clerk.get("/admin/instances?lang=en")
    assert "Not allowed" in text_of(english)
    assert "These pages are for administrators." in text_of(english)

    missing = admin.get("/admin/instances/999")
    assert missing.status_code == 404 and heading(missing) == "未找到"
    wrong = admin.get("/admin/processes?process=engine_demo&from=1&to=1")
    assert wrong.status_code == 422 and "请选择两个不同的版本。" in text_of(wrong)
    for query, said in (
        ("from=soon", "起始时间有误：请输入日期和时间。"),
        ("instance=x", "实例有误：请输入整数。"),
        ("from=2026-03-02&to=2026-03-01", "起始时间有误：须早于截止时间。"),
        ("actor=" + "x" * 201, "操作人有误：最多 200 个字符。"),
    ):
        for page in ("audit", "audit.csv"):
            filtered = admin.get(f"/admin/{page}?{query}")
            assert filtered.status_code == 422 and said in text_of(filtered), (page, query)


def test_a_flash_message_is_in_the_language_of_the_session(sqlite_url: str, clock) -> None:
    engine = broken_engine(sqlite_url, clock)
    try:
        broken = broken_admin_api(engine, sqlite_url)
        _, incident = open_incident(broken, clock)
        browser = signed_in(broken, "admin")
        browser.get("/admin/incidents")
        assert browser.post(f"/admin/incidents/{incident}/retry").status_code == 303
        page = text_of(browser.get("/admin/incidents"))
        assert f"异常事件 {incident}：定时器将在下一轮后台处理时重新触发。" in page
        assert "incident_retried" in page  # event names are data: never translated
    finally:
        engine.close()


def test_the_missing_viewer_answer_is_in_the_readers_language(api: Api, tmp_path: Path) -> None:
    api.app.config["COMPLAINTS_NODE_MODULES"] = str(tmp_path / "absent")
    path = f"/admin/assets/bpmn-js/{admin_assets.VIEWER}"
    chinese = api.client.get(path).get_data(as_text=True)
    assert "未安装" in chinese and "npm ci" in chinese
    english = api.client.get(f"{path}?lang=en").get_data(as_text=True)
    assert english.startswith("The BPMN diagram viewer (bpmn-js) is not installed")


# ------------------------------------------------------------ data stays data, escaped


def test_data_in_translated_sentences_stays_escaped(api: Api, admin: Browser) -> None:
    [task] = api.engine.tasks(instance_id=1)
    evil = "<img src=x onerror=alert(1)>"
    api.engine.claim(task.id, Actor(id=evil, groups=frozenset({"intake"})))
    for lang in ("zh", "en"):
        page = admin.get(f"/admin/instances/1?lang={lang}").get_data(as_text=True)
        assert evil not in page
        assert "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "已由 &lt;img src=x onerror=alert(1)&gt; 认领" in admin.get(
        "/admin/instances/1?lang=zh"
    ).get_data(as_text=True)


# ------------------------------------------------------------ the catalog


def test_every_text_of_the_admin_pages_has_a_chinese_translation() -> None:
    catalog = zh_catalog()
    used = admin_messages()
    assert len(used) > 100
    missing = sorted(m for m in used if not catalog.get(m) or not all(texts(catalog.get(m))))
    assert missing == []
    for message in used:
        translated = " ".join(texts(catalog.get(message)))
        assert re.search(r"[\u4e00-\u9fff]", translated), message
