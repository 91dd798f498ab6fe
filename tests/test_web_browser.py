"""The staff pages in a real browser: headless Chromium (Debian's, driven by Playwright) against the
app served on 127.0.0.1 in a background thread, on a SQLite engine with the demo bundle. Screenshots
of the task list and a task form land in tests/artifacts/. Skipped, saying why, when
/usr/bin/chromium or the playwright package is missing (`.ci/run` installs both)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from api.composition import bundle_files
from engine import SystemClock
from tests.conftest import ADMIN, DEMO_PROCESSES, INTAKE, new_engine
from tests.test_api_support import PASSWORD
from tests.test_web_support import IMG, SCRIPT, Web, staff_web

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

try:
    from playwright.sync_api import Browser, Page, expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

pytestmark = [
    pytest.mark.skipif(
        sync_playwright is None,
        reason="the playwright package is not installed (pip install playwright)",
    ),
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"no Chromium at {CHROMIUM} (apt-get install -y chromium fonts-noto-cjk)",
    ),
]


class Site:
    def __init__(self, base: str, web: Web) -> None:
        self.base = base
        self.web = web

    def url(self, path: str) -> str:
        return self.base + path

    def start(self, key: str, due_in: timedelta, **data) -> int:
        due = (datetime.now(UTC) + due_in).isoformat()
        start = {"review_limit": "P2D", "review_due": due, **data}
        return self.web.engine.start("engine_demo", start, key, INTAKE).id


@pytest.fixture
def site(tmp_path: Path, calls) -> Iterator[Site]:
    # The wall clock, not the test clock: the browser and the server thread share real time.
    url = f"sqlite:///{tmp_path / 'browser.db'}"
    engine = new_engine(url, calls, SystemClock())
    engine.deploy(bundle_files(DEMO_PROCESSES), ADMIN)
    web = staff_web(engine, url)
    # Chromium keeps Secure cookies from http://127.0.0.1, so the pages run as deployed.
    web.app.config["SESSION_COOKIE_SECURE"] = True
    server = make_server("127.0.0.1", 0, web.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="staff-pages", daemon=True)
    thread.start()
    try:
        yield Site(f"http://127.0.0.1:{server.server_port}", web)
    finally:
        server.shutdown()
        thread.join(timeout=10)
        engine.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=ARGS
        )
        yield browser
        browser.close()


def open_page(browser: Browser, dialogs: list[str]) -> Page:
    context = browser.new_context(viewport={"width": 1280, "height": 860}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    return page


def sign_in(page: Page, site: Site, name: str) -> None:
    page.goto(site.url("/tasks"))
    expect(page).to_have_url(site.url("/login?next=/tasks"))
    page.fill("#username", name)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit].primary")
    expect(page).to_have_url(site.url("/tasks"))


def task_row(page: Page, key: str):
    return page.locator("table.tasks tbody tr", has=page.locator("td.key", has_text=key))


def test_a_clerk_reviews_in_the_browser_and_enforcement_takes_over(
    site: Site, browser: Browser
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    dialogs: list[str] = []
    hostile = site.start(
        "W-001", -timedelta(hours=1), title=SCRIPT + IMG, description=IMG, channel="web"
    )
    site.start("W-002", timedelta(days=2), title="夜间噪声扰民", category="noise")
    site.start("Z-003", timedelta(days=3), category="air")

    clerk = open_page(browser, dialogs)
    sign_in(clerk, site, "li.intake")
    cookie = next(c for c in clerk.context.cookies() if c["name"] == "complaints_session")
    assert cookie["secure"] and cookie["httpOnly"] and cookie["sameSite"] == "Lax"
    expect(clerk.locator("table.tasks tbody tr")).to_have_count(3)
    expect(task_row(clerk, "W-001").locator(".badge.late")).to_have_text("已逾期")
    expect(clerk.locator('.tab[data-view="overdue"] .count')).to_have_text("1")
    clerk.screenshot(path=str(ARTIFACTS / "task-list.png"), full_page=True)

    # Filter by tracking number, then narrow to the overdue view.
    clerk.fill("input[name=q]", "W-00")
    clerk.click(".filters button[type=submit]")
    expect(clerk.locator("table.tasks tbody tr")).to_have_count(2)
    expect(clerk.locator('.tab[data-view="all"] .count')).to_have_text("2")
    clerk.click('.tab[data-view="overdue"]')
    expect(clerk.locator("table.tasks tbody tr")).to_have_count(1)
    expect(clerk.locator("td.key")).to_have_text("W-001")
    clerk.click('.tab[data-view="all"]')

    # Claim W-002 from the list; the row now offers to give it back.
    task_row(clerk, "W-002").locator("button", has_text="认领").click()
    expect(clerk.locator(".flash.ok")).to_have_text("您已认领该任务。")
    expect(task_row(clerk, "W-002").locator("button", has_text="退回")).to_be_visible()
    task_row(clerk, "W-002").locator("td a").first.click()
    expect(clerk.locator("h1")).to_contain_text("审查")
    expect(clerk.locator("#assignee")).to_have_text("li.intake")
    expect(clerk.locator("dl.facts:not(.deadlines)")).to_contain_text("夜间噪声扰民")
    clerk.screenshot(path=str(ARTIFACTS / "task-form.png"), full_page=True)

    # A note over maxLength 200 gets past the browser only with its limit removed by script:
    # the server refuses it beside the field and keeps what was entered.
    clerk.select_option("#field-severity", "high")
    clerk.evaluate("document.querySelector('#field-note').removeAttribute('maxlength')")
    clerk.fill("#field-note", "长" * 201)
    clerk.click("#complete")
    expect(clerk.locator('[data-field="note"] .field-error')).to_have_text("最多 200 个字符。")
    expect(clerk.locator("#field-severity")).to_have_value("high")
    expect(clerk.locator("#field-note")).to_have_value("长" * 201)
    clerk.screenshot(path=str(ARTIFACTS / "task-form-errors.png"), full_page=True)

    clerk.fill("#field-note", "噪声源为夜间施工，需现场检查。")
    clerk.click("#complete")
    expect(clerk).to_have_url(site.url("/tasks"))
    expect(clerk.locator(".flash.ok")).to_have_text("任务已办结。")
    expect(clerk.locator("table.tasks tbody tr")).to_have_count(2)

    # High severity: the inspection goes to enforcement.
    officer = open_page(browser, dialogs)
    sign_in(officer, site, "wang.enforce")
    expect(officer.locator("table.tasks tbody tr")).to_have_count(1)
    row = task_row(officer, "W-002")
    expect(row.locator("td a").first).to_have_text("现场检查")
    expect(row).to_contain_text("执法")
    inspect_path = row.locator("td a").first.get_attribute("href")
    assert inspect_path and inspect_path.startswith("/tasks/")

    # The intake clerk neither sees it nor can complete it, even with a hand-made form.
    clerk.reload()
    expect(task_row(clerk, "W-002")).to_have_count(0)
    answer = clerk.goto(site.url(inspect_path))
    assert answer is not None and answer.status == 403
    expect(clerk.locator(".message")).to_contain_text("此任务属于您不在其中的组")
    clerk.goto(site.url("/tasks"))
    with clerk.expect_navigation():
        clerk.evaluate(
            """path => {
                const form = document.createElement('form');
                form.method = 'post';
                form.action = path;
                const token = document.querySelector('input[name=csrf_token]').cloneNode();
                const box = document.createElement('input');
                box.name = 'violation_found';
                box.value = 'true';
                form.append(token, box);
                document.body.append(form);
                form.submit();
            }""",
            inspect_path,
        )
    expect(clerk.locator("h1")).to_contain_text("无权操作")
    inspect_id = inspect_path.rsplit("/", 1)[1]
    assert site.web.engine.task(inspect_id).status == "open"

    # Enforcement completes it.
    officer.goto(site.url(inspect_path))
    officer.check("#field-violation_found")
    officer.click("#complete")
    expect(officer.locator(".flash.ok")).to_have_text("任务已办结。")
    done = site.web.engine.task(inspect_id)
    assert done.status == "completed" and done.completed_by == "wang.enforce"

    # The complainant's hostile text never ran anywhere on the way.
    clerk.goto(site.url("/tasks"))
    clerk.click('tr:has(td.key:text-is("W-001")) td a >> nth=0')
    expect(clerk.locator("dl.facts:not(.deadlines)")).to_contain_text(SCRIPT + IMG)
    assert clerk.locator("img").count() == 0 and clerk.locator("main script").count() == 0
    assert dialogs == []
    assert hostile


def test_the_pages_switch_to_english_and_stay_there(site: Site, browser: Browser) -> None:
    site.start("E-1", timedelta(days=1), category="water")
    page = open_page(browser, [])
    sign_in(page, site, "li.intake")
    page.click("a.lang")
    expect(page.locator("h1")).to_have_text("Tasks")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    page.locator("table.tasks td a").first.click()
    expect(page.locator("label[for=field-severity]")).to_contain_text("Severity")
    expect(page.locator("dl.facts:not(.deadlines)")).to_contain_text("Water")
    page.click("a.lang")
    expect(page.locator("label[for=field-severity]")).to_contain_text("严重程度")
