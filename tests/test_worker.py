"""The timer worker's settings: how many timers one worker fires side by side."""

from __future__ import annotations

from pathlib import Path

from api.settings import Settings
from api.worker import default_threads
from engine import Engine


def test_threads_default_to_one_on_sqlite_where_writers_take_turns(tmp_path: Path) -> None:
    engine = Engine(f"sqlite:///{tmp_path / 'worker.db'}")
    assert default_threads(engine) == 1
    engine.close()


def test_threads_are_set_through_the_environment_or_left_to_the_database() -> None:
    assert Settings.from_env({"COMPLAINTS_TIMER_THREADS": "3"}).timer_threads == 3
    assert Settings.from_env({}).timer_threads is None
