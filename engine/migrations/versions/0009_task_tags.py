"""Exact attribute filters read from the list indexes: a `tags` column on `human_tasks` and
`human_task_groups` holds a task's short attribute values as `<US>name=value<US>...` (US being
the unit separator, chr(31)), and the list indexes carry it, so "open tasks of region X" is a
substring test on the index entries the list already walks in due order: a page stops after
its rows and a count reads no other table (`python -m bench.tasklist`).

- `search_text` becomes unbounded text: the engine now cuts it by bytes (600), which may be
  more than 400 characters;
- `ix_human_tasks_status_due` is replaced by `ix_human_tasks_list` and `ix_human_task_groups_list`
  is recreated, both with element, process, search text and tags;
- on PostgreSQL, extended statistics on (group, status) and (name, value, status): most rows of
  a group or attribute value are closed tasks, and without these the planner misjudges the open
  ranges;
- open tasks get their tags from `human_task_attributes`. Other tasks keep `tags` NULL, which
  the filters read as "unknown" and answer through `human_task_attributes`, as before.

On SQLite the column types stay as 0008 declared them: SQLite does not enforce VARCHAR lengths,
and rebuilding `human_tasks` would fail on the rows that reference it (foreign keys are on) and
drop its triggers.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# As engine.readmodels: values of at most this many bytes, without the mark, are tagged.
MAX_TAG_VALUE_BYTES = 48
# A task whose tags would be longer (many or long attribute names from an older configuration)
# keeps NULL, so that no index entry nears PostgreSQL's btree limit.
MAX_TAGS_BYTES = 700

LIST_COLUMNS = ["element_id", "process_id", "search_text", "tags"]
OLD_TASK_INDEX = ["status", "due_at", "created_at", "id", "search_text"]
OLD_GROUP_INDEX = [
    "group", "status", "due_at", "created_at", "task_id", "element_id", "process_id",
    "search_text",
]  # fmt: skip

# Per dialect: byte length, position of the mark (0 if absent), mark, the tags of a task.
SQL = {
    "postgresql": {
        "bytes": "octet_length({})",
        "marked": "strpos({}, chr(31))",
        "mark": "chr(31)",
        "tags": "string_agg(a.name || '=' || a.value, chr(31) ORDER BY a.name)",
    },
    "sqlite": {
        "bytes": "length(CAST({} AS BLOB))",
        "marked": "instr({}, char(31))",
        "mark": "char(31)",
        "tags": "group_concat(a.name || '=' || a.value, char(31))",
    },
}
STATISTICS = {
    "human_task_groups_group_status": 'ON "group", status FROM human_task_groups',
    "human_task_attributes_name_value_status": "ON name, value, status FROM human_task_attributes",
}


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.drop_index("ix_human_tasks_status_due", table_name="human_tasks")
    op.drop_index("ix_human_task_groups_list", table_name="human_task_groups")
    for table in ("human_tasks", "human_task_groups"):
        if dialect == "postgresql":
            op.alter_column(
                table, "search_text", type_=sa.Text(), existing_type=sa.String(length=400)
            )
        op.add_column(table, sa.Column("tags", sa.Text(), nullable=True))
    _backfill_tags(dialect)
    op.create_index(
        "ix_human_tasks_list",
        "human_tasks",
        ["status", "due_at", "created_at", "id", *LIST_COLUMNS],
    )
    op.create_index(
        "ix_human_task_groups_list",
        "human_task_groups",
        ["group", "status", "due_at", "created_at", "task_id", *LIST_COLUMNS],
    )
    if dialect == "postgresql":
        # Group and status are far from independent (most rows of a group are closed tasks);
        # without this PostgreSQL misjudges a group's open range and plans parallel sorts.
        for name, definition in STATISTICS.items():
            op.execute(f"CREATE STATISTICS {name} (mcv) {definition}")
        op.execute("ANALYZE human_tasks, human_task_groups, human_task_attributes")


def _backfill_tags(dialect: str) -> None:
    """Open tasks get the tags the engine would give them (the order of the values does not
    matter to the filters); a task without short values gets the bare mark."""
    sql = SQL.get(dialect)
    if sql is None:
        raise NotImplementedError(f"no tags backfill for {dialect}")
    tagged = (
        f"{sql['bytes'].format('a.value')} <= {MAX_TAG_VALUE_BYTES} "
        f"AND {sql['marked'].format('a.value')} = 0"
    )
    tags = (
        f"(SELECT {sql['mark']} || {sql['tags']} || {sql['mark']} FROM human_task_attributes a "
        f"WHERE a.task_id = human_tasks.id AND {tagged})"
    )
    op.execute(
        f"UPDATE human_tasks SET tags = coalesce({tags}, {sql['mark']}) WHERE status = 'open'"
    )
    op.execute(
        f"UPDATE human_tasks SET tags = NULL "
        f"WHERE status = 'open' AND {sql['bytes'].format('tags')} > {MAX_TAGS_BYTES}"
    )
    op.execute(
        "UPDATE human_task_groups SET tags = "
        "(SELECT tags FROM human_tasks WHERE human_tasks.id = human_task_groups.task_id) "
        "WHERE status = 'open'"
    )


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        for name in STATISTICS:
            op.execute(f"DROP STATISTICS IF EXISTS {name}")
    op.drop_index("ix_human_task_groups_list", table_name="human_task_groups")
    op.drop_index("ix_human_tasks_list", table_name="human_tasks")
    for table in ("human_tasks", "human_task_groups"):
        # In place on SQLite too (ALTER TABLE DROP COLUMN, SQLite 3.35): no rebuild, which would
        # fail on the rows referencing human_tasks and drop its triggers.
        op.drop_column(table, "tags")
        if dialect == "postgresql":
            op.execute(
                f"UPDATE {table} SET search_text = left(search_text, 400) "
                "WHERE length(search_text) > 400"
            )
            op.alter_column(
                table, "search_text", type_=sa.String(length=400), existing_type=sa.Text()
            )
    op.create_index("ix_human_tasks_status_due", "human_tasks", OLD_TASK_INDEX)
    op.create_index("ix_human_task_groups_list", "human_task_groups", OLD_GROUP_INDEX)
