"""Processes that start on a timer (weekly reports, monthly disclosure) are started once by the
engine when deployed and then run their own cycle; a monthly cycle keeps to the calendar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from itertools import pairwise
from pathlib import Path

from api.composition import bundle_files
from engine import Engine
from tests.conftest import ADMIN

PERIODIC = Path(__file__).parent / "periodic"
FIRST_RUN = datetime(2026, 3, 9, 1, 0, tzinfo=UTC)  # Monday 09:00 Beijing
BEIJING = timezone(timedelta(hours=8))
MONTH_ENDS = [
    datetime(2027, month, day, 9, tzinfo=BEIJING)
    for month, day in [(1, 31), (2, 28), (3, 31), (4, 30), (5, 31)]
]


def test_a_timer_started_process_runs_once_a_week_after_deployment(engine: Engine, clock) -> None:
    engine.deploy(bundle_files(PERIODIC), ADMIN)
    [instance] = engine.instances(process_id="weekly_check")
    assert instance["business_key"] == "weekly_check"
    assert engine.tasks(process_id="weekly_check") == []
    assert engine.next_timer_due() <= FIRST_RUN

    clock.move_to(FIRST_RUN.replace(minute=1))
    assert engine.fire_due_timers() == 1
    [first] = engine.tasks(process_id="weekly_check")
    assert first.candidate_groups == ["opinion_unit"]
    assert engine.fire_due_timers() == 0  # the cycle moved on: nothing due until next Monday
    assert engine.next_timer_due() == FIRST_RUN.replace(day=16)

    clock.move_to(FIRST_RUN.replace(day=16, minute=1))
    engine.fire_due_timers()
    assert len(engine.tasks(process_id="weekly_check")) == 2


def test_deploying_again_does_not_start_a_second_cycle(engine: Engine) -> None:
    engine.deploy(bundle_files(PERIODIC), ADMIN)
    engine.deploy(bundle_files(PERIODIC), ADMIN)
    engine.start_periodic_processes()
    assert len(engine.instances(process_id="weekly_check")) == 1


def test_a_monthly_cycle_from_31_january_falls_on_the_last_day_of_shorter_months(
    engine: Engine, clock
) -> None:
    """The cycle "R/2027-01-31T09:00:00+08:00/P1M": SpiffWorkflow 3.2 alone would add January's
    31 days each time (31 Jan, 3 Mar, 3 Apr); each occurrence is counted from 31 January instead,
    and survives the engine's save and restore between firings."""
    name = "month_end_check.bpmn"
    engine.deploy({name: (PERIODIC / name).read_bytes()}, ADMIN)
    [instance] = engine.instances(process_id="month_end_check")
    for due, following in pairwise(MONTH_ENDS):
        [timer] = engine.instance(instance["id"]).timers
        assert timer.due_at == due
        clock.move_to(due - timedelta(minutes=1))  # not the day before, nor a minute before
        assert engine.fire_due_timers() == 0
        clock.move_to(due + timedelta(minutes=1))
        assert engine.fire_due_timers() == 1
        [timer] = engine.instance(instance["id"]).timers
        assert timer.due_at == following
