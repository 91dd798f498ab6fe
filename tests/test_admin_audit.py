"""The audit trail for administrators: `/api/audit` with its filters and keyset pages, the CSV
export streamed with its row count first, and the trail's append-only guarantee, in the routes
and in the database (SQLite and PostgreSQL triggers)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from api.composition import bundle_files
from engine import Engine
from engine.audit_query import AuditFilters
from tests.conftest import ADMIN, DEMO_PROCESSES, INTAKE, new_engine
from tests.test_admin_support import admin_api, complete_review
from tests.test_api_support import START_DATA, Api, error_of


@pytest.fixture
def api(engine: Engine, sqlite_url: str) -> Api:
    return admin_api(engine, sqlite_url)


def two_instances(api: Api, clock) -> tuple[int, int]:
    first = api.start("C-1")
    clock.advance(hours=2)
    second = api.start("C-2")
    complete_review(api.engine, second)
    return first.id, second.id


def events(answer) -> list[tuple[str, int | None]]:
    return [(e["event"], e["instance_id"]) for e in answer.get_json()["items"]]


def test_audit_is_for_administrators_with_a_token(api: Api) -> None:
    assert error_of(api.client.get("/api/audit"))[:2] == (401, "unauthorized")
    assert error_of(api.client.get("/api/audit.csv"))[:2] == (401, "unauthorized")
    for path in ("/api/audit", "/api/audit.csv"):
        assert error_of(api.as_("li.intake").get(path))[:2] == (403, "forbidden")


def test_audit_filters_by_actor_event_time_process_tracking_number_and_instance(
    api: Api, clock
) -> None:
    first, second = two_instances(api, clock)
    admin = api.as_("admin")

    everything = admin.get("/api/audit?limit=1000").get_json()
    assert everything["items"][0]["event"] == "deployed"
    assert [e["id"] for e in everything["items"]] == sorted(e["id"] for e in everything["items"])

    by_actor = admin.get("/api/audit?actor=li.intake").get_json()["items"]
    assert {e["actor"] for e in by_actor} == {"li.intake"}
    assert ("task_completed", second) in [(e["event"], e["instance_id"]) for e in by_actor]

    assert events(admin.get("/api/audit?event=task_completed")) == [("task_completed", second)]
    both = admin.get("/api/audit?event=task_completed&event=instance_started")
    assert sorted(events(both)) == sorted(
        [("instance_started", first), ("instance_started", second), ("task_completed", second)]
    )
    assert events(admin.get("/api/audit?event=task_completed,instance_started")) == events(both)

    later = admin.get("/api/audit?from=2026-03-02T10:00:00%2B08:00&event=instance_started")
    assert events(later) == [("instance_started", second)]
    earlier = admin.get("/api/audit?to=2026-03-02T02:00:00Z&event=instance_started")
    assert events(earlier) == [("instance_started", first)]
    whole_day = admin.get("/api/audit?from=2026-03-02&to=2026-03-02&event=instance_started")
    assert len(events(whole_day)) == 2

    of_process = admin.get("/api/audit?process=engine_demo").get_json()["items"]
    assert of_process and all(e["instance_id"] in (first, second) for e in of_process)
    assert admin.get("/api/audit?process=unknown").get_json()["items"] == []

    for query in ("business_key=C-2", "tracking_number=C-2", f"instance={second}"):
        found = admin.get(f"/api/audit?{query}").get_json()["items"]
        assert found and {e["instance_id"] for e in found} == {second}, query
        assert {e["business_key"] for e in found} == {"C-2"}


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("from=yesterday", "from"),
        ("from=2026-03-02T09:00:00", "from"),
        ("from=2026-03-03&to=2026-03-02", "from"),
        ("instance=x", "instance"),
        ("limit=0", "limit"),
        ("limit=5000", "limit"),
        ("after=-1", "after"),
        ("order=sideways", "order"),
    ],
)
def test_bad_audit_filters_are_422_naming_the_argument(api: Api, query: str, field: str) -> None:
    status, error, fields = error_of(api.as_("admin").get(f"/api/audit?{query}"))
    assert (status, error) == (422, "invalid_data")
    assert field in fields


def test_audit_pages_by_id_in_either_direction_without_gaps_or_repeats(api: Api, clock) -> None:
    two_instances(api, clock)
    admin = api.as_("admin")
    every = [e["id"] for e in admin.get("/api/audit?limit=1000").get_json()["items"]]
    assert len(every) > 7

    for order, expected in (("asc", every), ("desc", every[::-1])):
        seen, after = [], None
        while True:
            query = f"/api/audit?limit=3&order={order}" + (f"&after={after}" if after else "")
            page = admin.get(query).get_json()
            assert page["count"] == len(page["items"]) <= 3
            seen += [e["id"] for e in page["items"]]
            if not page["has_more"]:
                assert page["next_after"] is None
                break
            after = page["next_after"]
            assert after == seen[-1]
        assert seen == expected


def test_rows_appended_after_a_page_show_up_on_the_next_page_only(api: Api) -> None:
    api.start("C-1")
    admin = api.as_("admin")
    page = admin.get("/api/audit?limit=1000").get_json()
    last = page["items"][-1]["id"]
    api.start("C-2")
    following = admin.get(f"/api/audit?after={last}").get_json()["items"]
    assert following and all(e["id"] > last for e in following)
    assert {e["business_key"] for e in following} == {"C-2"}


# ------------------------------------------------------------ CSV


def csv_rows(answer) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(answer.get_data(as_text=True))))


def test_the_csv_export_streams_a_header_and_every_matching_row_with_its_count(
    api: Api, clock
) -> None:
    first, second = two_instances(api, clock)
    answer = api.as_("admin").get(f"/api/audit.csv?instance={second}")
    assert answer.status_code == 200
    assert answer.mimetype == "text/csv" and answer.mimetype_params["charset"] == "utf-8"
    assert answer.is_streamed
    assert answer.headers["Content-Disposition"].startswith('attachment; filename="audit-')
    rows = csv_rows(answer)
    assert int(answer.headers["X-Total-Count"]) == len(rows) > 0
    assert answer.get_data(as_text=True).startswith("id,at,actor,event,instance_id,")
    expected = [e.id for e in api.engine.history(second)]
    assert [int(r["id"]) for r in rows] == expected
    completed = next(r for r in rows if r["event"] == "task_completed")
    assert completed["actor"] == "li.intake" and completed["business_key"] == "C-2"
    assert '"severity": "low"' in completed["data_after"]
    assert completed["at"].endswith("+00:00")

    empty = api.as_("admin").get("/api/audit.csv?actor=nobody")
    assert empty.headers["X-Total-Count"] == "0"
    assert empty.get_data(as_text=True) == ",".join(csv_rows_header()) + "\r\n"


def csv_rows_header() -> list[str]:
    from api.admin_audit import CSV_COLUMNS

    return list(CSV_COLUMNS)


def test_the_csv_export_keeps_chinese_text_and_defuses_formulas(api: Api) -> None:
    instance = api.start("=HYPERLINK(1)")
    [task] = api.engine.tasks(instance_id=instance.id)
    api.engine.complete_task(task.id, {"severity": "low", "note": "夜间噪声"}, INTAKE)
    answer = api.as_("admin").get("/api/audit.csv?event=task_completed&bom=1")
    body = answer.get_data(as_text=True)
    assert body.startswith("\ufeffid,")
    [row] = csv_rows(answer)
    assert row["business_key"] == "'=HYPERLINK(1)"
    assert "夜间噪声" in row["data_after"]


def test_the_export_count_matches_its_rows_while_the_trail_grows(engine: Engine) -> None:
    engine.start("engine_demo", dict(START_DATA), "C-1", INTAKE)
    stream = engine.audit_stream(batch_size=2)
    counted = stream.count
    engine.start("engine_demo", dict(START_DATA), "C-2", INTAKE)  # appended after the count
    rows = list(stream)
    assert len(rows) == counted == engine.audit_count() - 4
    assert {r.business_key for r in rows} == {None, "C-1"}


def test_the_export_reads_in_batches_and_ends_its_transaction(engine: Engine) -> None:
    for n in range(4):
        engine.start("engine_demo", dict(START_DATA), f"C-{n}", INTAKE)
    stream = engine.audit_stream(AuditFilters(events=("timer_scheduled",)), batch_size=3)
    assert stream._query.get_execution_options()["yield_per"] == 3
    first = next(iter(stream))
    assert first.event == "timer_scheduled"
    stream.close()  # a client that went away: the read ends, nothing else is read
    assert list(stream) == []
    assert engine.audit_count(AuditFilters(events=("timer_scheduled",))) == 8


# ------------------------------------------------------------ append-only


def test_no_route_can_change_or_delete_audit_rows(api: Api) -> None:
    api.start()
    audit_rules = [r for r in api.app.url_map.iter_rules() if r.rule.startswith("/api/audit")]
    assert {r.rule for r in audit_rules} == {"/api/audit", "/api/audit.csv"}
    for rule in audit_rules:
        assert rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule
    for rule in api.app.url_map.iter_rules():
        if "audit" in rule.rule:
            assert rule.methods <= {"GET", "HEAD", "OPTIONS"}, rule

    admin = api.as_("admin")
    before = admin.get("/api/audit").get_json()["items"]
    for path in ("/api/audit", "/api/audit.csv"):
        for method in ("post", "put", "patch", "delete"):
            answer = getattr(api.client, method)(path, headers=admin.headers, json={})
            assert answer.status_code == 405, (method, path)
    one = f"/api/audit/{before[0]['id']}"
    assert api.client.delete(one, headers=admin.headers).status_code in (404, 405)
    assert admin.get("/api/audit").get_json()["items"] == before


def assert_append_only(engine: Engine) -> None:
    engine.start("engine_demo", dict(START_DATA), "C-1", INTAKE)
    count = engine.audit_count()
    for statement in (
        "UPDATE audit_events SET actor = 'someone else'",
        "UPDATE audit_events SET reason = 'tidied' WHERE event = 'instance_started'",
        "DELETE FROM audit_events",
        "DELETE FROM audit_events WHERE event = 'deployed'",
    ):
        with (
            pytest.raises(DatabaseError, match="audit rows are append-only"),
            engine.sql.begin() as connection,
        ):
            connection.execute(text(statement))
    assert engine.audit_count() == count
    assert {e.actor for e in engine.audit(AuditFilters(events=("instance_started",)))} == {
        "li.intake"
    }
    # Appending still works.
    engine.start("engine_demo", dict(START_DATA), "C-2", INTAKE)
    assert engine.audit_count() > count


def test_the_sqlite_database_refuses_to_change_or_delete_audit_rows(engine: Engine) -> None:
    assert_append_only(engine)


@pytest.fixture
def pg_engine(pg_url: str, calls, clock) -> Iterator[Engine]:
    engine = new_engine(pg_url, calls, clock)
    engine.deploy(bundle_files(DEMO_PROCESSES), ADMIN)
    yield engine
    engine.close()


def test_the_postgresql_database_refuses_to_change_delete_or_truncate_audit_rows(
    pg_engine: Engine,
) -> None:
    assert_append_only(pg_engine)
    with (
        pytest.raises(DatabaseError, match="audit rows are append-only"),
        pg_engine.sql.begin() as connection,
    ):
        connection.execute(text("TRUNCATE audit_events"))


def test_the_postgresql_export_streams_a_consistent_snapshot(pg_engine: Engine) -> None:
    for n in range(3):
        pg_engine.start("engine_demo", dict(START_DATA), f"C-{n}", INTAKE)
    stream = pg_engine.audit_stream(AuditFilters(process_id="engine_demo"), batch_size=2)
    counted = stream.count
    pg_engine.start("engine_demo", dict(START_DATA), "C-late", INTAKE)
    rows = list(stream)
    assert len(rows) == counted == 12
    assert "C-late" not in {r.business_key for r in rows}
    assert [r.id for r in rows] == sorted(r.id for r in rows)
