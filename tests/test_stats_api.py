"""`GET /api/stats`, `GET /api/stats.csv` and `GET /api/stats/spot-check` over HTTP: who may read
them, how filters are checked, what the CSV holds, and that no complainant identity leaves."""

from __future__ import annotations

import csv
import io

import pytest

from engine import Engine
from handlers.times import OUT_OF_CALENDAR
from tests.clock import TravelClock
from tests.test_api_support import error_of
from tests.test_stats_support import NOW, SECRETS, Api, load_dataset, stats_app


@pytest.fixture
def api(engine: Engine, sqlite_url: str, clock: TravelClock) -> Api:
    clock.move_to(NOW)
    load_dataset(engine.sql)
    return stats_app(engine, sqlite_url)


def test_petition_office_leaders_and_admins_read_the_statistics(api: Api) -> None:
    for name in ("wu.office", "liu.leader", "admin"):
        answer = api.as_(name).get("/api/stats")
        assert answer.status_code == 200, (name, answer.get_json())
        body = answer.get_json()
        assert body["summary"]["received"] == 10
        assert body["summary"]["overdue_now"] == 2  # the clock of the engine says "now"
        assert body["generated_at"] == NOW.isoformat()


def test_without_a_token_it_is_401_and_other_groups_get_403(api: Api) -> None:
    for path in ("/api/stats", "/api/stats.csv", "/api/stats/spot-check?period=2026-03"):
        answer = api.client.get(path)
        assert error_of(answer)[:2] == (401, "unauthorized")
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
        bad = api.client.get(path, headers={"Authorization": "Bearer nonsense"})
        assert error_of(bad)[:2] == (401, "invalid_token")
        for name in ("li.intake", "zhou.opinion"):
            assert error_of(api.as_(name).get(path))[:2] == (403, "forbidden")


def test_filters_are_applied_and_echoed(api: Api) -> None:
    office = api.as_("wu.office")
    body = office.get("/api/stats?from=2026-02-01&to=2026-02-28&region=4201").get_json()
    assert body["filters"] == {
        "from": "2026-02-01",
        "to": "2026-02-28",
        "region": "4201",
        "category": None,
        "channel": None,
    }
    assert body["summary"]["received"] == 2  # C03 and C06
    assert {row["key"]: row["name"] for row in body["by_region"]} == {"420102": "江岸区"}
    body = office.get("/api/stats?category=noise&channel=letter").get_json()
    assert body["summary"]["received"] == 1


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=2026-13-01", "from"),
        ("to=yesterday", "to"),
        ("from=20260301", "from"),
        ("from=2026-03-02&to=2026-03-01", "to"),
        ("region=42x", "region"),
        ("region=4", "region"),
        ("category=smell", "category"),
        ("channel=pigeon", "channel"),
    ],
)
def test_a_malformed_filter_is_422_naming_the_argument(api: Api, query: str, field: str) -> None:
    status, error, fields = error_of(api.as_("wu.office").get(f"/api/stats?{query}"))
    assert (status, error) == (422, "invalid_data")
    assert list(fields) == [field]
    assert error_of(api.as_("wu.office").get(f"/api/stats.csv?{query}"))[0] == 422


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("to=9999-12-31", "to"),
        ("from=9999-12-31", "from"),
        ("from=0001-01-01", "from"),
        ("to=0001-01-01", "to"),
        ("from=1899-12-31", "from"),
    ],
)
def test_a_day_outside_the_calendar_is_422_naming_the_argument(
    api: Api, query: str, field: str
) -> None:
    for path in ("/api/stats", "/api/stats.csv"):
        status, error, fields = error_of(api.as_("wu.office").get(f"{path}?{query}"))
        assert (status, error, fields) == (422, "invalid_data", {field: [OUT_OF_CALENDAR]})


def test_the_first_and_last_day_of_the_calendar_are_answered(api: Api) -> None:
    body = api.as_("wu.office").get("/api/stats?from=1900-01-01&to=9998-12-31").get_json()
    assert body["summary"]["received"] == 10
    assert api.as_("wu.office").get("/api/stats.csv?to=9998-12-31").status_code == 200


def csv_of(answer) -> list[dict[str, str]]:
    text = answer.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.DictReader(io.StringIO(text[1:])))


def test_the_csv_holds_the_same_figures_one_per_line(api: Api) -> None:
    answer = api.as_("liu.leader").get("/api/stats.csv?channel=web")
    assert answer.status_code == 200
    assert answer.mimetype == "text/csv"
    assert answer.headers["Content-Disposition"].startswith("attachment; filename=")
    rows = csv_of(answer)
    assert list(rows[0]) == ["section", "key", "name", "metric", "value"]

    def value(section: str, key: str, metric: str) -> str:
        found = [r["value"] for r in rows if (r["section"], r["key"], r["metric"]) == (
            section, key, metric)]  # fmt: skip
        assert len(found) == 1, (section, key, metric)
        return found[0]

    assert value("filter", "channel", "value") == "web"
    assert value("summary", "", "received") == "5"
    assert value("summary", "", "avg_days_to_close") == "40.0"
    assert value("by_category", "air", "count") == "4"
    assert value("by_region", "420102", "count") == "3"
    assert [r["name"] for r in rows if r["section"] == "by_region" and r["metric"] == "count"] == [
        "江岸区 (420102)",
        "江汉区 (420103)",
        "未填",
    ]
    assert value("review_outcomes", "changed", "count") == "1"
    assert value("monthly", "2026-03", "closed") == "1"
    assert {r["key"] for r in rows if r["section"] == "top_respondents"} >= {"乙公司"}


def test_a_formula_like_respondent_is_quoted_in_the_csv(api: Api) -> None:
    with api.engine.sql.begin() as connection:
        connection.exec_driver_sql(
            "UPDATE complaints SET respondent = '=HYPERLINK(\"x\")', respondent_key = 'evil' "
            "WHERE tracking_number = 'C09'"
        )
    rows = csv_of(api.as_("admin").get("/api/stats.csv"))
    keys = [r["key"] for r in rows if r["section"] == "top_respondents"]
    assert '\'=HYPERLINK("x")' in keys and '=HYPERLINK("x")' not in keys


def test_no_identity_of_a_complainant_reaches_the_json_or_the_csv(api: Api) -> None:
    office = api.as_("admin")
    for path in ("/api/stats", "/api/stats.csv", "/api/stats/spot-check?period=2026-03"):
        text = office.get(path).get_data(as_text=True)
        for secret in SECRETS:
            assert secret not in text, (path, secret)


def test_the_spot_check_sample_is_stable_and_limited_to_the_month_closed(api: Api) -> None:
    office = api.as_("wu.office")
    march = office.get("/api/stats/spot-check?period=2026-03").get_json()
    assert march["period"] == "2026-03" and march["size"] == 20
    assert [item["tracking_number"] for item in march["items"]] == ["C02"]
    assert set(march["items"][0]) == {
        "tracking_number",
        "category",
        "region_code",
        "track",
        "status",
    }
    january = office.get("/api/stats/spot-check?period=2026-01&size=1").get_json()
    assert [item["tracking_number"] for item in january["items"]] == ["C01"]
    assert office.get("/api/stats/spot-check?period=2026-03").get_json() == march
    assert error_of(office.get("/api/stats/spot-check?period=2026-3"))[0] == 422
    assert error_of(office.get("/api/stats/spot-check"))[0] == 422
    assert error_of(office.get("/api/stats/spot-check?period=2026-03&size=0"))[0] == 422


def test_a_spot_check_period_outside_the_calendar_is_422_like_a_malformed_one(api: Api) -> None:
    office = api.as_("wu.office")
    for period in ("0000-01", "9999-12", "1899-12"):
        answer = office.get(f"/api/stats/spot-check?period={period}")
        assert error_of(answer) == (422, "invalid_data", {"period": [OUT_OF_CALENDAR]}), period
    for period in ("1900-01", "9998-12"):
        answer = office.get(f"/api/stats/spot-check?period={period}")
        assert answer.status_code == 200 and answer.get_json()["items"] == [], period
