"""The statistics pages: `/admin/stats` for staff (signed in through the web session or with a
bearer token) with server-drawn SVG charts, and the public `/disclosure` page that shows only
approved monthly counts, never a complainant, a respondent or a complaint's text."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest

from engine import Engine
from tests.clock import TravelClock
from tests.test_stats_support import (
    NOW,
    PRIVATE_RESPONDENTS,
    SECRET_TEXT,
    SECRETS,
    Api,
    load_dataset,
    load_november,
    run_monthly_disclosure,
    shipped_engine,
    stats_app,
)


@pytest.fixture
def shipped(sqlite_url: str, clock: TravelClock) -> Iterator[Engine]:
    engine = shipped_engine(sqlite_url, clock)
    yield engine
    engine.close()


@pytest.fixture
def api(shipped: Engine, sqlite_url: str, clock: TravelClock) -> Api:
    load_dataset(shipped.sql)
    load_november(shipped.sql)
    clock.move_to(NOW)
    return stats_app(shipped, sqlite_url)


def signed_in(api: Api, name: str):
    """The test client with `name` signed in through the staff session, as the web UI does."""
    token = api.token(name)
    with api.client.session_transaction() as session:
        session["staff_token"] = token
    return api.client


def test_the_statistics_page_needs_a_signed_in_member_of_the_right_groups(api: Api) -> None:
    anonymous = api.client.get("/admin/stats?region=4201")
    if "web.login" in api.app.view_functions:
        assert anonymous.status_code == 302
        assert anonymous.headers["Location"].startswith("/login?next=")
        assert "region%3D4201" in anonymous.headers["Location"]
    else:
        assert anonymous.status_code == 401
    assert api.client.get("/admin/stats", headers={"Authorization": "Bearer x"}).status_code == 401
    assert api.as_("li.intake").get("/admin/stats").status_code == 403
    assert api.as_("zhou.opinion").get("/admin/stats.csv").status_code == 403
    assert api.as_("liu.leader").get("/admin/stats").status_code == 200
    client = signed_in(api, "wu.office")
    assert client.get("/admin/stats").status_code == 200
    assert client.get("/admin/stats.csv").status_code == 200


def test_the_task_list_links_to_the_figures_only_for_those_who_may_read_them(api: Api) -> None:
    office = signed_in(api, "wu.office").get("/tasks").get_data(as_text=True)
    assert 'href="/admin/stats"' in office
    intake = signed_in(api, "li.intake").get("/tasks").get_data(as_text=True)
    assert "/admin/stats" not in intake


def test_the_page_shows_the_figures_with_svg_charts_and_tables(api: Api) -> None:
    answer = api.as_("wu.office").get("/admin/stats")
    assert answer.status_code == 200
    html = answer.get_data(as_text=True)
    assert answer.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert answer.headers["Cache-Control"] == "no-store"
    assert html.count("<svg") == 7  # monthly line + six breakdowns
    assert "<polyline" in html and "<rect" in html
    assert "<script" not in html and "style=" not in html
    assert "信访投诉统计分析" in html and "按月受理与办结" in html
    assert "江岸区 (420102)" in html and "大气" in html and "复查结论" in html
    assert ">14<" in html  # received: ten of 2026 and four of December and January
    assert "甲化工厂" in html or "甲 化工厂（）" in html  # staff see respondents
    for secret in SECRETS:
        assert secret not in html


def test_the_page_keeps_its_filters_speaks_english_and_names_a_bad_filter(api: Api) -> None:
    office = api.as_("wu.office")
    html = office.get("/admin/stats?lang=en&region=4201&category=air").get_data(as_text=True)
    assert "Complaint statistics" in html and "Received and closed by month" in html
    assert 'name="region" inputmode="numeric" pattern="[0-9]{2,6}" maxlength="6" value="4201"' in (
        html
    )
    assert '<option value="air" selected>Air</option>' in html
    assert "/admin/stats.csv?" in html and "region=4201" in html
    bad = office.get("/admin/stats?from=someday&region=4x")
    assert bad.status_code == 422
    text = bad.get_data(as_text=True)
    assert "查询条件有误" in text and "from:" in text and "region:" in text
    assert "<svg" not in text


def test_the_page_and_its_csv_name_a_day_outside_the_calendar(api: Api) -> None:
    client = signed_in(api, "wu.office")
    for query, field in (("to=9999-12-31", "to"), ("from=0001-01-01", "from")):
        page = client.get(f"/admin/stats?{query}")
        assert page.status_code == 422
        text = page.get_data(as_text=True)
        assert "查询条件有误" in text and f"{field}:" in text and "<svg" not in text
        assert "1900-01-01" in text and "9998-12-31" in text
        csv_answer = client.get(f"/admin/stats.csv?{query}")
        assert csv_answer.status_code == 422
        assert csv_answer.get_data(as_text=True).startswith(f"{field}: must lie between")


def test_the_page_csv_is_the_api_csv(api: Api) -> None:
    client = signed_in(api, "admin")
    page = client.get("/admin/stats.csv?channel=web").get_data(as_text=True)
    api_csv = api.as_("admin").get("/api/stats.csv?channel=web").get_data(as_text=True)
    assert page == api_csv
    assert client.get("/admin/stats.csv?channel=fax").status_code == 422


def test_the_stylesheet_is_served_to_anyone(api: Api) -> None:
    answer = api.client.get("/stats.css")
    assert answer.status_code == 200 and answer.mimetype == "text/css"
    assert "svg.chart" in answer.get_data(as_text=True)


def test_nothing_is_disclosed_before_petition_office_approves_a_month(
    api: Api, shipped: Engine, clock: TravelClock
) -> None:
    page = api.client.get("/disclosure")
    assert page.status_code == 200
    assert "暂无已批准公开的月度数据" in page.get_data(as_text=True)
    run_monthly_disclosure(shipped, clock, "withhold")
    assert "暂无已批准公开的月度数据" in api.client.get("/disclosure").get_data(as_text=True)


def test_an_approved_month_is_disclosed_as_counts_by_category_region_and_result(
    api: Api, shipped: Engine, clock: TravelClock
) -> None:
    run_monthly_disclosure(shipped, clock, "publish")
    answer = api.client.get("/disclosure")
    assert answer.status_code == 200
    assert answer.headers["Cache-Control"].startswith("public")
    html = answer.get_data(as_text=True)
    assert "2026年11月" in html
    cells = re.findall(r"<td>([^<]*)</td><td class=\"n\">(\d+)</td>", html)
    assert ("大气", "2") in cells and ("噪声", "1") in cells
    assert ("江岸区 (420102)", "2") in cells and ("武昌区 (420106)", "1") in cells
    assert ("已办结", "1") in cells and ("已受理", "1") in cells and ("已分流", "1") in cells
    assert re.search(r'<span class="value">3</span><span class="name">本月受理', html)
    assert "<svg" in html

    english = api.client.get("/disclosure?lang=en").get_data(as_text=True)
    assert "November 2026" in english and "Air" in english and "Handling results" in english


def test_the_disclosure_never_shows_identities_respondents_or_complaint_text(
    api: Api, shipped: Engine, clock: TravelClock
) -> None:
    run_monthly_disclosure(shipped, clock, "publish")
    for path in ("/disclosure", "/disclosure?lang=en"):
        html = api.client.get(path).get_data(as_text=True)
        for private in (*SECRETS, *PRIVATE_RESPONDENTS, SECRET_TEXT, "D01", "C01"):
            assert private not in html, (path, private)
