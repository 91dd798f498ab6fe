"""Indexes for the statistics (handlers/statistics.py, bench/stats.py), chosen from the queries
and measured on 1,000,000 complaints:

- complaints, one covering index on created_at: the population is a created_at
  window and every statistics query reads only coded columns, so the cells, the region counts
  and the monthly range counts become index-only scans of a narrow index instead of walks
  through the wide heap rows (the text columns sit before the coded ones);
- complaints, closed_at (partial): the monthly closure counts are range counts on it;
- complaints, days to close (an expression index, partial): the 90th percentile reads its two
  neighbours with ORDER BY days OFFSET k along this index instead of sorting every closed
  complaint. The expression must stay exactly `stats_sql.days_to_close`;
- notices (kind, tracking_number): the review rates count the few opinion notices among all;
- audit_events (element_id, event): review outcomes are the few completed review tasks among
  millions of audit rows.

SQLite gets the same, with the covered columns in the index key since it has no INCLUDE.

Revision ID: 0007
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0004"
branch_labels = None
depends_on = None

CLOSED = sa.text("closed_at IS NOT NULL")
DAYS = {
    "postgresql": "(date_part('epoch', closed_at - created_at) / 86400.0)",
    "sqlite": "(julianday(closed_at) - julianday(created_at))",
}
FILTER_COLUMNS = ["created_at", "region_code", "category", "channel"]
CELL_COLUMNS = [
    "region_code", "category", "channel", "track", "status", "satisfaction", "repeat_of",
    "closed_at", "deadline_at",
]  # fmt: skip


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    postgresql = dialect == "postgresql"
    # SQLite has no INCLUDE: the same columns go into the key, which covers the queries as well.
    op.create_index(
        "ix_complaints_stats_created",
        "complaints",
        ["created_at"] if postgresql else ["created_at", *CELL_COLUMNS],
        postgresql_include=CELL_COLUMNS if postgresql else None,
    )
    op.create_index(
        "ix_complaints_stats_closed",
        "complaints",
        ["closed_at"] if postgresql else ["closed_at", *FILTER_COLUMNS],
        postgresql_include=FILTER_COLUMNS if postgresql else None,
        postgresql_where=CLOSED,
        sqlite_where=CLOSED,
    )
    op.create_index(
        "ix_complaints_stats_days_to_close",
        "complaints",
        [sa.text(DAYS.get(dialect, DAYS["sqlite"]))],
        # closed_at too: PostgreSQL scans an expression index index-only only when the columns
        # of the expression are in it.
        postgresql_include=["closed_at", *FILTER_COLUMNS] if postgresql else None,
        postgresql_where=CLOSED,
        sqlite_where=CLOSED,
    )
    op.create_index("ix_notices_kind_tracking_number", "notices", ["kind", "tracking_number"])
    op.create_index("ix_audit_events_element_event", "audit_events", ["element_id", "event"])


def downgrade() -> None:
    op.drop_index("ix_audit_events_element_event", table_name="audit_events")
    op.drop_index("ix_notices_kind_tracking_number", table_name="notices")
    op.drop_index("ix_complaints_stats_days_to_close", table_name="complaints")
    op.drop_index("ix_complaints_stats_closed", table_name="complaints")
    op.drop_index("ix_complaints_stats_created", table_name="complaints")
