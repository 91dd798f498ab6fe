"""Processes that start on a timer (weekly reports, monthly disclosure) are started once by the
engine when deployed and then run their own cycle."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from api.composition import bundle_files
from engine import Engine
from tests.conftest import ADMIN

PERIODIC = Path(__file__).parent / "periodic"
FIRST_RUN = datetime(2026, 3, 9, 1, 0, tzinfo=UTC)  # Monday 09:00 Beijing


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
