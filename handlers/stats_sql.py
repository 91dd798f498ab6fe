"""The SQL the statistics modules share: the tables they read (the engine's by name, so that
handlers never import the engine) and the expressions that differ between SQLite and PostgreSQL,
spelled exactly as migration 0007's index and migration 0011's triggers spell them, so that what
is queried matches what was indexed and summed."""

from __future__ import annotations

from sqlalchemy import (
    Connection,
    Integer,
    String,
    case,
    cast,
    column,
    func,
    literal_column,
    table,
    text,
)
from sqlalchemy.sql.elements import ColumnElement

from .models import Complaint, JsonType, UtcDateTime

COMPLAINTS = Complaint.__table__

# Engine tables, by name: only the columns the statistics read.
AUDIT_EVENTS = table(
    "audit_events",
    column("id"),
    column("event", String),
    column("element_id", String),
    column("business_key", String),
    column("task_id", String),
    column("data_after", JsonType),
)
HUMAN_TASKS = table(
    "human_tasks",
    column("id", String),
    column("element_id", String),
    column("status", String),
    column("created_at", UtcDateTime()),
)


def _is_postgres(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"


def days_to_close(dialect: str) -> ColumnElement:
    """closed_at - created_at in days. Written with literals only, so that it is the very
    expression of the index migration 0007 builds for the percentile (an index matches an
    expression, not a bound parameter)."""
    c = COMPLAINTS.c
    if dialect == "postgresql":
        seconds = func.date_part(literal_column("'epoch'"), c.closed_at - c.created_at)
        return seconds.op("/")(literal_column("86400.0"))  # `/` itself would add a CAST
    return func.julianday(c.closed_at) - func.julianday(c.created_at)


def beijing_month(dialect: str, moment: ColumnElement) -> ColumnElement:
    """'YYYY-MM' of the Beijing month of `moment`, as migration 0011's triggers write it."""
    if dialect == "postgresql":
        local = func.timezone("UTC", moment) + literal_column("interval '8 hours'")
        return func.to_char(local, "YYYY-MM")
    return func.strftime("%Y-%m", moment, "+8 hours")


def week_to_close(dialect: str) -> ColumnElement:
    """Whole weeks of days to close, -1 for a negative duration: the `days` dimension of
    `stats_cells`, as migration 0011's triggers compute it."""
    days = days_to_close(dialect)
    whole = func.trunc(days) if dialect == "postgresql" else days
    weeks = cast(whole, Integer).op("/")(literal_column("7"))
    return case((days < literal_column("0"), literal_column("-1")), else_=weeks)


def tune_transaction(connection: Connection) -> None:
    """PostgreSQL: no JIT (compiling these expressions took longer than running them: 0.6 s
    of a 1M-row query) and room for the hash tables, for this transaction only."""
    if _is_postgres(connection):
        connection.execute(text("SET LOCAL jit = off"))
        connection.execute(text("SET LOCAL work_mem = '32MB'"))
