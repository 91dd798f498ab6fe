"""The one clock of the system. Production reads the wall clock; tests inject a clock that also
moves SpiffWorkflow's own `datetime.now` (see tests/clock.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime:
        """The current time, timezone-aware in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)
