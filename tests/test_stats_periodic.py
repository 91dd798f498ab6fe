"""The periodic processes (processes/periodic_*.bpmn): they deploy with the shipped processes and
forms, the deployment starts one waiting instance of each (engine: timer start events), and each
runs once through the engine when its first occurrence comes; a process started directly with
engine.start runs the same way. The last test shows the monthly cycles keeping to the first
of each month, which SpiffWorkflow 3.2 alone does not do (engine.spiff.calendar_cycle_due)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from api.composition import bundle_files
from engine import Engine
from engine.models import Timer
from handlers.models import Disclosure
from handlers.times import CHINA
from tests.clock import TravelClock
from tests.test_stats_support import (
    ADMIN,
    FIRST_DISCLOSURE,
    FORMS,
    OFFICE,
    OPINION,
    PROCESSES,
    load_november,
    periodic_instance,
    run_monthly_disclosure,
    shipped_engine,
)

FIRST_OCCURRENCE = {
    "periodic_disclosure": FIRST_DISCLOSURE,
    "periodic_opinion_report": datetime(2026, 11, 30, 9, tzinfo=CHINA),  # a Monday
    "periodic_nil_report": datetime(2026, 11, 28, 8, 30, tzinfo=CHINA),
    "periodic_spot_check": datetime(2026, 12, 1, 9, tzinfo=CHINA),
}


@pytest.fixture
def shipped(sqlite_url: str, clock: TravelClock) -> Iterator[Engine]:
    engine = shipped_engine(sqlite_url, clock)
    yield engine
    engine.close()


def fire_at(engine: Engine, clock: TravelClock, moment: datetime) -> None:
    clock.move_to(moment + timedelta(seconds=1))
    engine.fire_due_timers()


def test_the_periodic_processes_deploy_with_the_shipped_processes_and_forms(
    shipped: Engine,
) -> None:
    (latest,) = shipped.deployments()
    assert set(FIRST_OCCURRENCE) <= set(latest.process_ids)
    assert {"complaint", "petition"} <= set(latest.process_ids)
    assert {
        "periodic_disclosure_approval.json",
        "periodic_opinion_report.json",
        "periodic_nil_report.json",
        "periodic_spot_check.json",
    } <= set(latest.files)


def test_the_deployment_starts_each_periodic_process_waiting_for_its_first_occurrence(
    shipped: Engine,
) -> None:
    for process, first in FIRST_OCCURRENCE.items():
        view = shipped.instance(periodic_instance(shipped, process))
        assert view.tasks == []
        assert [timer.due_at for timer in view.timers] == [first.astimezone(UTC)], process


def test_the_monthly_disclosure_records_last_month_and_asks_petition_office_to_approve(
    shipped: Engine, clock: TravelClock
) -> None:
    load_november(shipped.sql)
    task_id = run_monthly_disclosure(shipped, clock, "publish")
    task = shipped.task(task_id)
    assert task.element_id == "approve_disclosure" and task.candidate_groups == ["petition_office"]
    assert task.form_key == "periodic_disclosure_approval"
    with shipped.sql.connect() as connection:
        record = connection.execute(select(Disclosure.__table__)).mappings().one()
    assert record["period"] == "2026-11" and record["total"] == 3 and record["closed"] == 1
    assert record["counts"]["by_category"] == {"air": 2, "noise": 1}
    history = shipped.history(periodic_instance(shipped, "periodic_disclosure"))
    completed = [e for e in history if e.event == "task_completed"]
    assert [e.data_after["decision"] for e in completed] == ["publish"]
    assert completed[0].data_before == {"decision": None, "remarks": None}
    data = shipped.instance(task.instance_id).data
    assert data["disclosure_period"] == "2026-11" and data["disclosure_total"] == 3


def test_the_approval_form_shows_the_month_and_its_totals(
    shipped: Engine, clock: TravelClock
) -> None:
    load_november(shipped.sql)
    fire_at(shipped, clock, FIRST_DISCLOSURE)
    (task,) = shipped.tasks(process_id="periodic_disclosure", actor=OFFICE)
    data = shipped.task_data(task.id, OFFICE)
    assert (data["disclosure_period"], data["disclosure_total"], data["disclosure_closed"]) == (
        "2026-11",
        3,
        1,
    )
    assert data["disclosure"]["by_region"] == {"420102": 2, "420106": 1}


def test_the_weekly_opinion_report_goes_to_the_opinion_unit(
    shipped: Engine, clock: TravelClock
) -> None:
    fire_at(shipped, clock, FIRST_OCCURRENCE["periodic_opinion_report"])
    (task,) = shipped.tasks(process_id="periodic_opinion_report", actor=OPINION)
    assert task.element_id == "write_opinion_report" and task.candidate_groups == ["opinion_unit"]
    report = {
        "week_start": "2026-11-23",
        "week_end": "2026-11-29",
        "items_found": 3,
        "risk_level": "low",
        "summary": "三条涉及噪声的网帖，已转属地核实。",
    }
    shipped.complete_task(task.id, report, OPINION)
    history = shipped.history(task.instance_id)
    (completed,) = [e for e in history if e.event == "task_completed"]
    assert completed.data_after["risk_level"] == "low"
    assert completed.data_after["follow_up_needed"] is False
    assert shipped.tasks(process_id="periodic_opinion_report") == []


def test_outside_a_sensitive_period_the_daily_report_asks_nothing(
    shipped: Engine, clock: TravelClock
) -> None:
    fire_at(shipped, clock, FIRST_OCCURRENCE["periodic_nil_report"])
    assert shipped.tasks(process_id="periodic_nil_report") == []
    view = shipped.instance(periodic_instance(shipped, "periodic_nil_report"))
    assert "no_report_due" in view.completed_elements
    assert [t.due_at for t in view.timers] == [datetime(2026, 11, 29, 0, 30, tzinfo=UTC)]


def test_a_daily_report_started_directly_asks_petition_office_in_a_sensitive_period(
    shipped: Engine, clock: TravelClock
) -> None:
    """The shipped diagram with its cycle moved to begin on 3 March 2027, the first day of a
    configured period, deployed as a new version and started with engine.start."""
    files = bundle_files(PROCESSES, FORMS)
    shipped_cycle = b'"R/2026-11-28T08:30:00+08:00/P1D"'
    assert shipped_cycle in files["periodic_nil_report.bpmn"]
    files["periodic_nil_report.bpmn"] = files["periodic_nil_report.bpmn"].replace(
        shipped_cycle, b'"R/2027-03-03T08:30:00+08:00/P1D"'
    )
    clock.move_to(datetime(2027, 3, 2, 12, tzinfo=CHINA))
    shipped.deploy(files, ADMIN)
    instance = shipped.start("periodic_nil_report", {}, "nil-report-2027", ADMIN)
    assert instance.tasks == []
    fire_at(shipped, clock, datetime(2027, 3, 3, 8, 30, tzinfo=CHINA))
    (task,) = shipped.tasks(instance_id=instance.id, actor=OFFICE)
    assert task.element_id == "submit_nil_report" and task.candidate_groups == ["petition_office"]
    assert shipped.task_data(task.id, OFFICE)["report_date"] == "2027-03-03"
    shipped.complete_task(task.id, {"incidents_found": False}, OFFICE)
    view = shipped.instance(instance.id)
    assert "day_reported" in view.completed_elements
    completed = [e for e in shipped.history(instance.id) if e.event == "task_completed"]
    assert completed[0].data_after == {
        "incidents_found": False,
        "incident_count": 0,
        "incident_summary": None,
    }


def test_the_monthly_spot_check_samples_the_month_before(
    shipped: Engine, clock: TravelClock
) -> None:
    fire_at(shipped, clock, FIRST_OCCURRENCE["periodic_spot_check"])
    (task,) = shipped.tasks(process_id="periodic_spot_check", actor=OFFICE)
    assert task.element_id == "spot_check" and task.form_key == "periodic_spot_check"
    assert shipped.task_data(task.id, OFFICE)["sample_period"] == "2026-11"
    shipped.complete_task(task.id, {"checked": 20, "non_compliant": 1}, OFFICE)
    assert shipped.tasks(process_id="periodic_spot_check") == []


def test_a_monthly_timer_keeps_to_the_first_of_each_month(
    shipped: Engine, clock: TravelClock
) -> None:
    """SpiffWorkflow 3.2 alone would turn P1M into the 31 days of December: 1 Jan, 1 Feb, 4 Mar."""
    instance_id = periodic_instance(shipped, "periodic_spot_check")
    months = [(2026, 12), (2027, 1), (2027, 2), (2027, 3), (2027, 4)]
    for month, following in zip(months, months[1:], strict=False):
        fire_at(shipped, clock, datetime(*month, 1, 9, tzinfo=CHINA))
        with shipped.sql.connect() as connection:
            due = connection.execute(
                select(Timer.due_at).where(
                    Timer.instance_id == instance_id, Timer.status == "pending"
                )
            ).scalar_one()
        assert due == datetime(*following, 1, 9, tzinfo=CHINA)
