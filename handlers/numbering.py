"""Tracking numbers (HB-2026-000001): one counter row per year, incremented by a single
upsert-with-RETURNING so concurrent intakes never read the same value."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from .models import Counter
from .times import CHINA


def next_value(session: Session, name: str, period: str) -> int:
    """Atomically add one to (name, period) and return the new value, creating the row at 1.

    One statement, no read-then-write: on PostgreSQL `ON CONFLICT DO UPDATE` locks the row, so a
    concurrent caller waits for this transaction and then increments the committed value; on
    SQLite the statement takes the database write lock. The row stays locked until the caller's
    transaction ends, and a rolled-back transaction gives its number back, so numbers have no
    gaps from failed intakes."""
    dialect = session.connection().dialect.name
    module = {"postgresql": postgresql, "sqlite": sqlite}.get(dialect)
    if module is None:
        raise NotImplementedError(f"no atomic counter for database '{dialect}'")
    table = Counter.__table__
    statement = (
        module.insert(table)
        .values(name=name, period=period, value=1)
        .on_conflict_do_update(
            index_elements=[table.c.name, table.c.period], set_={"value": table.c.value + 1}
        )
        .returning(table.c.value)
    )
    return int(session.execute(statement).scalar_one())


def next_tracking_number(session: Session, now: datetime, prefix: str = "HB") -> str:
    """The next number of the year `now` falls in on Beijing's calendar (a complaint filed at
    01:00 on 1 January in China belongs to the new year even though UTC still says 31 December).
    Called by the web intake before the process starts: the result is the business key."""
    if now.tzinfo is None:
        raise ValueError("now must be an aware datetime")
    year = now.astimezone(CHINA).year
    value = next_value(session, f"tracking_number:{prefix}", str(year))
    return f"{prefix}-{year}-{value:06d}"
