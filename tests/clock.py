"""A test clock that moves the whole process's time, SpiffWorkflow's `datetime.now` included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine


class TravelClock:
    """Frozen time that only moves when a scenario says so."""

    def __init__(self, start: datetime) -> None:
        self._travel = time_machine.travel(start, tick=False)
        self._coordinates = self._travel.start()

    def now(self) -> datetime:
        return datetime.now(UTC)

    def advance(self, **delta: float) -> datetime:
        self._coordinates.shift(timedelta(**delta))
        return self.now()

    def move_to(self, moment: datetime) -> datetime:
        self._coordinates.move_to(moment)
        return self.now()

    def stop(self) -> None:
        self._travel.stop()
