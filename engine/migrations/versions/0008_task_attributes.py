"""Task attributes for the task list: values copied from task data into `human_tasks.attributes`
(shown) and `human_task_attributes` rows (filtered), a lower-cased `search_text` for free text,
and indexes chosen from the list queries (EXPLAIN on both databases, `python -m bench.tasklist`).

`human_task_groups` and `human_task_attributes` carry the task's status, so "my groups' open
tasks" and "open tasks of region X" are index ranges that closed tasks, piling up over the years,
do not slow down. A trigger on `human_tasks` keeps that copy equal whichever statement changes a
task's status. SQLite drops a table's triggers with the table, so a later batch migration that
rebuilds `human_tasks` must create them again (call `create_triggers`).

On PostgreSQL with pg_trgm available a trigram index serves free-text search; without it the
search reads the candidate rows. Tasks open before this migration have no attributes.

Revision ID: 0008
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0001"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql")

POSTGRESQL_UP = [
    """
    CREATE OR REPLACE FUNCTION human_tasks_copy_status() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        UPDATE human_task_groups SET status = NEW.status WHERE task_id = NEW.id;
        UPDATE human_task_attributes SET status = NEW.status WHERE task_id = NEW.id;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER human_tasks_status_copied
    AFTER UPDATE OF status ON human_tasks
    FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION human_tasks_copy_status()
    """,
]
POSTGRESQL_DOWN = [
    "DROP TRIGGER IF EXISTS human_tasks_status_copied ON human_tasks",
    "DROP FUNCTION IF EXISTS human_tasks_copy_status()",
]
SQLITE_UP = [
    """
    CREATE TRIGGER human_tasks_status_copied AFTER UPDATE OF status ON human_tasks
    WHEN OLD.status IS NOT NEW.status
    BEGIN
        UPDATE human_task_groups SET status = NEW.status WHERE task_id = NEW.id;
        UPDATE human_task_attributes SET status = NEW.status WHERE task_id = NEW.id;
    END
    """,
]
SQLITE_DOWN = ["DROP TRIGGER IF EXISTS human_tasks_status_copied"]


def create_triggers() -> None:
    dialect = op.get_bind().dialect.name
    statements = {"postgresql": POSTGRESQL_UP, "sqlite": SQLITE_UP}.get(dialect)
    if statements is None:
        raise NotImplementedError(f"no status-copy trigger for {dialect}")
    for statement in statements:
        op.execute(statement)


def upgrade() -> None:
    op.add_column("human_tasks", sa.Column("attributes", JSON, nullable=True))
    op.add_column("human_tasks", sa.Column("search_text", sa.String(length=400), nullable=True))
    op.drop_index("ix_human_tasks_status_due", table_name="human_tasks")
    op.create_index(
        "ix_human_tasks_status_due",
        "human_tasks",
        ["status", "due_at", "created_at", "id", "search_text"],
    )
    op.create_index("ix_human_tasks_business_key", "human_tasks", ["business_key"])
    op.drop_index("ix_human_tasks_assignee_status", table_name="human_tasks")
    op.create_index(
        "ix_human_tasks_assignee_status",
        "human_tasks",
        ["assignee", "status", "due_at", "created_at", "id"],
    )

    op.create_table(
        "human_task_attributes",
        sa.Column("task_id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("value", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False, server_default="open"),
        sa.ForeignKeyConstraint(["task_id"], ["human_tasks.id"]),
        sa.PrimaryKeyConstraint("task_id", "name"),
    )
    op.create_index(
        "ix_human_task_attributes_name_value",
        "human_task_attributes",
        ["name", "value", "status", "task_id"],
    )

    # Plain ADD COLUMNs (no table rebuild on SQLite), then filled from the tasks.
    for column in (
        sa.Column("status", sa.String(length=20), nullable=False, server_default="open"),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("element_id", sa.String(length=200), nullable=True),
        sa.Column("process_id", sa.String(length=200), nullable=True),
        sa.Column("search_text", sa.String(length=400), nullable=True),
    ):
        op.add_column("human_task_groups", column)
    # Tasks from before have no attributes; their tracking numbers are searchable all the same.
    op.execute("UPDATE human_tasks SET search_text = lower(business_key)")
    op.execute(
        "UPDATE human_task_groups SET "
        "(status, due_at, created_at, element_id, process_id, search_text) = "
        "(SELECT status, due_at, created_at, element_id, process_id, search_text "
        "FROM human_tasks WHERE human_tasks.id = human_task_groups.task_id)"
    )
    op.drop_index("ix_human_task_groups_group", table_name="human_task_groups")
    op.create_index(
        "ix_human_task_groups_list",
        "human_task_groups",
        [
            "group",
            "status",
            "due_at",
            "created_at",
            "task_id",
            "element_id",
            "process_id",
            "search_text",
        ],
    )
    create_triggers()
    if op.get_bind().dialect.name == "postgresql" and _trigram_extension():
        op.execute(
            "CREATE INDEX ix_human_tasks_search_trgm ON human_tasks "
            "USING gin (search_text gin_trgm_ops)"
        )


def _trigram_extension() -> bool:
    """pg_trgm installed now, or False when the server lacks it or this role may not create it
    (it is trusted since PostgreSQL 13, so a database owner usually may)."""
    bind = op.get_bind()
    if not bind.scalar(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")):
        return False
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError:
        return False
    return True


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for statement in {"postgresql": POSTGRESQL_DOWN, "sqlite": SQLITE_DOWN}.get(dialect, []):
        op.execute(statement)
    if dialect == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_human_tasks_search_trgm")
    op.drop_index("ix_human_task_groups_list", table_name="human_task_groups")
    op.create_index("ix_human_task_groups_group", "human_task_groups", ["group"])
    # In place on SQLite too (ALTER TABLE DROP COLUMN, SQLite 3.35): a batch rebuild of
    # human_tasks fails on the rows that reference it, and would drop its triggers.
    for name in ("search_text", "process_id", "element_id", "created_at", "due_at", "status"):
        op.drop_column("human_task_groups", name)
    op.drop_index("ix_human_task_attributes_name_value", table_name="human_task_attributes")
    op.drop_table("human_task_attributes")
    op.drop_index("ix_human_tasks_business_key", table_name="human_tasks")
    op.drop_index("ix_human_tasks_assignee_status", table_name="human_tasks")
    op.create_index("ix_human_tasks_assignee_status", "human_tasks", ["assignee", "status"])
    op.drop_index("ix_human_tasks_status_due", table_name="human_tasks")
    op.create_index("ix_human_tasks_status_due", "human_tasks", ["status", "due_at"])
    op.drop_column("human_tasks", "search_text")
    op.drop_column("human_tasks", "attributes")
