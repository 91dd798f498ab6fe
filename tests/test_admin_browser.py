"""The admin instance page in a real browser: headless Chromium (Debian's, driven by Playwright)
draws the demo instance with bpmn-js after its review was completed, with completed elements
marked, the waiting timer highlighted with its due time and the timeline listing the completed
task. A screenshot lands in tests/artifacts/. Skipped, saying why, without /usr/bin/chromium,
the playwright package or node_modules/bpmn-js (`npm ci`)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from werkzeug.serving import make_server

from api import admin_assets
from api.admin_present import local_time
from api.composition import bundle_files
from engine import Engine, SystemClock
from tests.conftest import ADMIN, DEMO_PROCESSES, INTAKE, new_engine
from tests.test_admin_support import admin_api, complete_review
from tests.test_api_support import START_DATA, Api

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
VIEWER = admin_assets.ROOT / "node_modules" / "bpmn-js" / "dist" / admin_assets.VIEWER
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

try:
    from playwright.sync_api import Browser, expect, sync_playwright
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
    pytest.mark.skipif(
        not VIEWER.is_file(), reason="node_modules/bpmn-js is not installed (run npm ci)"
    ),
]


class Site:
    def __init__(self, base: str, api: Api) -> None:
        self.base = base
        self.api = api

    @property
    def engine(self) -> Engine:
        return self.api.engine

    def url(self, path: str) -> str:
        return self.base + path


@pytest.fixture
def site(tmp_path: Path, calls) -> Iterator[Site]:
    # The wall clock, not the test clock: the browser and the server thread share real time.
    url = f"sqlite:///{tmp_path / 'admin-browser.db'}"
    engine = new_engine(url, calls, SystemClock())
    engine.deploy(bundle_files(DEMO_PROCESSES), ADMIN)
    api = admin_api(engine, url)
    server = make_server("127.0.0.1", 0, api.app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="admin-pages", daemon=True)
    thread.start()
    try:
        yield Site(f"http://127.0.0.1:{server.server_port}", api)
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


def test_the_instance_view_marks_the_path_the_waiting_timer_and_lists_the_timeline(
    site: Site, browser: Browser
) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    instance = site.engine.start("engine_demo", dict(START_DATA), "C-1", INTAKE)
    complete_review(site.engine, instance, "low")
    [timer] = [t for t in site.engine.instance(instance.id).timers if t.status == "pending"]
    with site.api.app.app_context():
        due_label = local_time(timer.due_at)

    context = browser.new_context(viewport={"width": 1400, "height": 1000}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(15_000)
    problems: list[str] = []
    page.on("pageerror", lambda err: problems.append(f"page error: {err}"))
    page.on(
        "console",
        lambda message: (
            problems.append(f"console: {message.text}") if message.type == "error" else None
        ),
    )

    token = site.api.token("admin")
    page.goto(site.url(f"/admin/instances/{instance.id}?token={token}"))
    assert page.url == site.url(f"/admin/instances/{instance.id}")  # the token left the address
    expect(page.locator("#admin-diagram")).to_have_attribute("data-state", "ready")

    def shape(element_id: str):
        return page.locator(f'svg g.djs-element[data-element-id="{element_id}"]')

    for element_id in ("received", "review", "register", "decide_route", "route_split"):
        expect(shape(element_id)).to_have_class(_has("admin-completed"))
    for flow in ("to_review", "to_register", "to_decide_route", "to_await_reply"):
        expect(shape(flow)).to_have_class(_has("admin-taken"))
    for element_id in ("reply_window", "reply", "await_reply"):
        expect(shape(element_id)).to_have_class(_has("admin-waiting"))
    for untouched in ("inspect", "escalated", "lapsed"):
        assert "admin-" not in (shape(untouched).get_attribute("class") or "")

    badge = page.locator('.djs-overlays .admin-due[data-element-id="reply_window"]')
    expect(badge).to_have_text(f"到期 {due_label}")  # the page's language, Chinese by default
    expect(badge).to_be_visible()
    expect(page.locator('.djs-overlays .admin-due[data-element-id="reply"]')).to_have_text(
        "等待消息 reply_received"
    )

    completed = page.locator("#admin-timeline tr.admin-event-task_completed")
    expect(completed).to_have_count(1)
    expect(completed).to_contain_text("li.intake")
    expect(completed.locator(".admin-diff-added")).to_have_count(2)
    expect(completed.locator(".admin-diff ins").first).to_have_text("low")
    expect(page.locator("#admin-timeline > tbody > tr")).to_have_count(
        len(site.engine.history(instance.id))
    )

    # Clicking the review task lists its audit events beside the diagram.
    shape("review").click()
    expect(page.locator("#admin-element-title")).to_have_text("Review (review)")
    listed = page.locator("#admin-element-events li")
    expect(listed.filter(has_text="task_completed")).to_have_count(1)
    expect(listed.filter(has_text="task_ready")).to_have_count(1)
    expect(page.locator("#admin-element-hint")).to_have_text("2 条审计事件")
    expect(completed).to_have_class(_has("admin-selected"))

    page.screenshot(path=str(ARTIFACTS / "admin-instance.png"), full_page=True)
    assert problems == []
    context.close()


def _has(name: str) -> re.Pattern:
    return re.compile(rf"(^|\s){re.escape(name)}(\s|$)")
