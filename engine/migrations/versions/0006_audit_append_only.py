"""The audit trail becomes append-only in the database itself: triggers refuse UPDATE and DELETE
of `audit_events` rows (and TRUNCATE on PostgreSQL), whatever code or console tries.

SQLite drops a table's triggers with the table, so a later batch migration that rebuilds
`audit_events` must create them again (call `create_triggers`).

Revision ID: 0006
Revises: 0001
"""

from alembic import op

revision = "0006"
down_revision = "0001"
branch_labels = None
depends_on = None

MESSAGE = "audit rows are append-only"

POSTGRESQL_UP = [
    f"""
    CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'insufficient_privilege';
    END
    $$
    """,
    """
    CREATE TRIGGER audit_events_no_update_or_delete
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()
    """,
    """
    CREATE TRIGGER audit_events_no_truncate
    BEFORE TRUNCATE ON audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()
    """,
]
POSTGRESQL_DOWN = [
    "DROP TRIGGER IF EXISTS audit_events_no_truncate ON audit_events",
    "DROP TRIGGER IF EXISTS audit_events_no_update_or_delete ON audit_events",
    "DROP FUNCTION IF EXISTS audit_events_append_only()",
]

SQLITE_UP = [
    f"""
    CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END
    """,
    f"""
    CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
    BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END
    """,
]
SQLITE_DOWN = [
    "DROP TRIGGER IF EXISTS audit_events_no_update",
    "DROP TRIGGER IF EXISTS audit_events_no_delete",
]


def create_triggers() -> None:
    dialect = op.get_bind().dialect.name
    statements = {"postgresql": POSTGRESQL_UP, "sqlite": SQLITE_UP}.get(dialect)
    if statements is None:
        raise NotImplementedError(f"no append-only trigger for {dialect}")
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    create_triggers()


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in {"postgresql": POSTGRESQL_DOWN, "sqlite": SQLITE_DOWN}.get(dialect, []):
        op.execute(statement)
