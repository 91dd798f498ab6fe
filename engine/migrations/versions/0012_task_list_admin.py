"""The administrator's task list (all open tasks, no group to narrow by) answered from narrow
indexes, chosen from EXPLAIN on 100,000 open tasks (`python -m bench.tasklist`):

- `ix_human_tasks_open`, partial on open tasks: counting them (with a due range, an element or
  a process) reads a small index instead of the wide list index. `status` leads although the
  WHERE fixes it: SQLite, without statistics, then prefers it to `ix_human_tasks_list` for the
  same `status = ?`;
- `human_tasks_search`: the open tasks' search text alone, kept by triggers on `human_tasks`,
  so that free-text search finds its tasks, and counts them, without testing every open task
  nor reading the wide task rows:
  - on PostgreSQL a narrow table (task id, search text) with a trigram index (pg_trgm, when
    available): a LIKE through a trigram index rechecks each candidate row, and these stay in
    shared buffers where the task rows, among years of closed ones, do not. Its text gets a
    finer histogram, which LIKE '%word%' is estimated from: with the default one, a word of a
    few hundred tasks looks as common as one of thousands;
  - on SQLite (FTS5 with its trigram tokenizer, 3.34) a contentless FTS5 table keyed by the
    rowid of `human_tasks`, which VACUUM keeps for a table with indexes. A phrase of three
    characters or more is an exact substring match; shorter ones are no trigram and keep
    testing every open task.

New indexes, tables and triggers only: `human_tasks` is not rebuilt. After 0009 as well, whose
change of `search_text`'s type PostgreSQL refuses once a trigger names the column.

Revision ID: 0012
Revises: 0010
Depends on: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0010"
branch_labels = None
depends_on = "0009"

OPEN = sa.text("status = 'open'")
SEARCH_STATISTICS = 1000

SQLITE_SEARCH = [
    """
    CREATE VIRTUAL TABLE human_tasks_search USING fts5(
        search_text, content='', tokenize='trigram case_sensitive 1'
    )
    """,
    """
    CREATE TRIGGER human_tasks_search_inserted AFTER INSERT ON human_tasks
    WHEN NEW.status = 'open' AND NEW.search_text IS NOT NULL
    BEGIN
        INSERT INTO human_tasks_search (rowid, search_text) VALUES (NEW.rowid, NEW.search_text);
    END
    """,
    """
    CREATE TRIGGER human_tasks_search_updated AFTER UPDATE OF status, search_text ON human_tasks
    WHEN (OLD.status = 'open') IS NOT (NEW.status = 'open')
        OR OLD.search_text IS NOT NEW.search_text
    BEGIN
        INSERT INTO human_tasks_search (human_tasks_search, rowid, search_text)
        SELECT 'delete', OLD.rowid, OLD.search_text
        WHERE OLD.status = 'open' AND OLD.search_text IS NOT NULL;
        INSERT INTO human_tasks_search (rowid, search_text)
        SELECT NEW.rowid, NEW.search_text
        WHERE NEW.status = 'open' AND NEW.search_text IS NOT NULL;
    END
    """,
    """
    CREATE TRIGGER human_tasks_search_deleted AFTER DELETE ON human_tasks
    WHEN OLD.status = 'open' AND OLD.search_text IS NOT NULL
    BEGIN
        INSERT INTO human_tasks_search (human_tasks_search, rowid, search_text)
        VALUES ('delete', OLD.rowid, OLD.search_text);
    END
    """,
    """
    INSERT INTO human_tasks_search (rowid, search_text)
    SELECT rowid, search_text FROM human_tasks
    WHERE status = 'open' AND search_text IS NOT NULL
    """,
]
POSTGRESQL_SEARCH = [
    """
    CREATE TABLE human_tasks_search (
        task_id VARCHAR(36) PRIMARY KEY,
        search_text TEXT NOT NULL
    )
    """,
    f"ALTER TABLE human_tasks_search ALTER COLUMN search_text SET STATISTICS {SEARCH_STATISTICS}",
    """
    CREATE FUNCTION human_tasks_search_kept() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP <> 'INSERT' THEN
            DELETE FROM human_tasks_search WHERE task_id = OLD.id;
        END IF;
        IF TG_OP <> 'DELETE' AND NEW.status = 'open' AND NEW.search_text IS NOT NULL THEN
            INSERT INTO human_tasks_search (task_id, search_text)
            VALUES (NEW.id, NEW.search_text);
        END IF;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE TRIGGER human_tasks_search_kept
    AFTER INSERT OR DELETE OR UPDATE OF status, search_text ON human_tasks
    FOR EACH ROW EXECUTE FUNCTION human_tasks_search_kept()
    """,
    """
    INSERT INTO human_tasks_search (task_id, search_text)
    SELECT id, search_text FROM human_tasks
    WHERE status = 'open' AND search_text IS NOT NULL
    """,
]
POSTGRESQL_SEARCH_DOWN = [
    "DROP TRIGGER IF EXISTS human_tasks_search_kept ON human_tasks",
    "DROP FUNCTION IF EXISTS human_tasks_search_kept()",
    "DROP TABLE IF EXISTS human_tasks_search",
]
SQLITE_SEARCH_DOWN = [
    "DROP TRIGGER IF EXISTS human_tasks_search_deleted",
    "DROP TRIGGER IF EXISTS human_tasks_search_updated",
    "DROP TRIGGER IF EXISTS human_tasks_search_inserted",
    "DROP TABLE IF EXISTS human_tasks_search",
]


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_index(
        "ix_human_tasks_open",
        "human_tasks",
        ["status", "due_at", "element_id", "process_id"],
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )
    if dialect == "postgresql":
        _postgresql_search()
    elif dialect == "sqlite" and _sqlite_trigrams():
        for statement in SQLITE_SEARCH:
            op.execute(statement)


def _postgresql_search() -> None:
    for statement in POSTGRESQL_SEARCH:
        op.execute(statement)
    if _trigram_extension():
        op.execute(
            "CREATE INDEX ix_human_tasks_search_text_trgm ON human_tasks_search "
            "USING gin (search_text gin_trgm_ops)"
        )
    op.execute("ANALYZE human_tasks_search")


def _trigram_extension() -> bool:
    """pg_trgm installed now, or False when the server lacks it or this role may not create it
    (as in 0008: then a search reads the whole narrow table)."""
    bind = op.get_bind()
    if not bind.scalar(sa.text("SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'")):
        return False
    try:
        with bind.begin_nested():
            bind.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    except sa.exc.DBAPIError:
        return False
    return True


def _sqlite_trigrams() -> bool:
    """FTS5 and its trigram tokenizer (SQLite 3.34) are compiled in; without them searches test
    every open task, as before."""
    bind = op.get_bind()
    version = tuple(int(p) for p in bind.scalar(sa.text("SELECT sqlite_version()")).split("."))
    fts5 = bind.scalar(sa.text("SELECT sqlite_compileoption_used('ENABLE_FTS5')"))
    return bool(fts5) and version >= (3, 34)


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    statements = {"postgresql": POSTGRESQL_SEARCH_DOWN, "sqlite": SQLITE_SEARCH_DOWN}
    for statement in statements.get(dialect, []):
        op.execute(statement)
    op.drop_index("ix_human_tasks_open", table_name="human_tasks")
