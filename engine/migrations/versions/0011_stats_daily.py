"""A monthly aggregate of the complaints for the statistics (handlers/statistics.py), so that
the additive figures are sums over narrow monthly rows instead of passes over every complaint
(`python -m bench.stats`: 1,000,000 complaints).

`stats_cells` holds, per area (`area`: '' for all complaints, else the first 2 or 4 digits of the
region code: province, city), Beijing month of receipt, category and channel, one row per value
of each dimension: `track`, `status`, `satisfaction`, `region` (the region code), `closed` (the
Beijing month of closure) and `days` (days to close in whole weeks, -1 for a negative duration,
to locate the 90th percentile). NULL values are stored as ''. Each row counts the complaints
received, repeats, closed, days to close summed, closed with a deadline, on time and open with a
deadline ("overdue now" subtracts those not yet due, a few read by index). Rows for what refers
to a complaint count only `received`: `notice` (complaints with a notice of each review kind:
opinion, review_opinion, re_review_opinion) and `review` / `re_review` (completed review tasks
of the audit trail, per outcome). A month is the finest grain that folds rows together (a day
holds fewer complaints than it has cells), and a county too small an area; the statistics read
the partial months at the ends of a window, and a county, from the complaints themselves. The
key is in the order the statistics read it (area, dimension, value), the measures in the
primary key's index on PostgreSQL and the table stored in key order on SQLite.

`stats_respondents` counts the complaints per respondent key, for the most complained-about
bodies: a filtered ranking counts the leading candidates in the population until none left can
overtake the twentieth.

Triggers keep both equal to the complaints, their notices and audit rows in the writing
transaction, whichever statement writes them (handlers, intake clean-up, the engine's audit,
bulk loads); the upgrade fills them for the rows already there (`backfill`). SQLite drops a
table's triggers with the table, so a later batch migration that rebuilds `complaints`,
`notices` or `audit_events` must create them again (call `create_triggers`).

Indexes serve the queries still reading complaints, each covering what they read: one led by
the region code (a county, the days before and after whole months of a region), one partial on
the open complaints with a deadline (those not yet due), one led by the respondent key (counting
candidates), and 0007's index by receipt now with the respondent key (ranking a small
population from its own complaints).

Revision ID: 0011
Revises: 0010
Depends on: 0007 (the complaints and their statistics indexes, on the handlers' branch)
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = "0007"

OPEN_STATUSES = ("registered", "routed", "transferred", "accepted", "investigating", "extended")
OPEN = f"status IN ({', '.join(repr(s) for s in OPEN_STATUSES)})"
# The key, in the order the statistics read it: one area's rows of one dimension, by value.
KEY = ["area", "dim", "key", "month", "category", "channel"]
MEASURES = [
    "received", "repeats", "closed", "days_sum", "with_deadline", "on_time", "open_deadline",
]  # fmt: skip
WATCHED = [
    "respondent_key", "tracking_number", "created_at", "category", "channel", "track", "status",
    "satisfaction", "region_code", "repeat_of", "closed_at", "deadline_at",
]  # fmt: skip
FILTER_COLUMNS = ["region_code", "category", "channel"]
# What migration 0007's ix_complaints_stats_created covers.
CREATED_COLUMNS = [
    "region_code", "category", "channel", "track", "status", "satisfaction", "repeat_of",
    "closed_at", "deadline_at",
]  # fmt: skip
# What the count of open complaints not yet due reads besides deadline_at.
OPEN_COLUMNS = [
    "created_at", "region_code", "category", "channel", "track", "status", "satisfaction",
    "repeat_of", "closed_at",
]  # fmt: skip
CELL_COLUMNS = [
    "category", "channel", "track", "status", "satisfaction", "repeat_of", "closed_at",
    "deadline_at",
]  # fmt: skip

# Per dialect, of a complaint `{r}`: Beijing month of receipt and of closure (Beijing is UTC+8
# all year), and days to close exactly as stats_sql.days_to_close computes them.
SQL = {
    "postgresql": {
        "month": "to_char(({r}.{col} AT TIME ZONE 'UTC') + interval '8 hours', 'YYYY-MM')",
        "days": "(date_part('epoch', {r}.closed_at - {r}.created_at) / 86400.0)",
        "week": "CAST(trunc({days}) AS integer) / 7",
    },
    "sqlite": {
        "month": "strftime('%Y-%m', {r}.{col}, '+8 hours')",
        "days": "(julianday({r}.closed_at) - julianday({r}.created_at))",
        "week": "CAST({days} AS INTEGER) / 7",
    },
}
# The outcome of a completed review task of audit row `{r}`, as statistics reads it.
OUTCOMES = {"review": "review_outcome", "re_review": "re_review_outcome"}
SQL["postgresql"]["outcome"] = (
    "CASE {r}.element_id "
    + " ".join(f"WHEN '{e}' THEN {{r}}.data_after ->> '{f}'" for e, f in OUTCOMES.items())
    + " END"
)
SQL["sqlite"]["outcome"] = (
    "CASE {r}.element_id "
    + " ".join(
        f"WHEN '{e}' THEN json_extract({{r}}.data_after, '$.\"{f}\"')" for e, f in OUTCOMES.items()
    )
    + " END"
)
COMPLETED_REVIEW = "{r}event = 'task_completed' AND {r}element_id IN ('review', 're_review')"
NOTICE_KINDS = "('opinion', 'review_opinion', 're_review_opinion')"
RESPONDENT = "{r}respondent_key IS NOT NULL AND {r}respondent_key <> ''"
# The prefix lengths of a region code the rows are kept for: all, province, city. A county
# holds too few complaints per month to fold them; the statistics read its complaints.
LEVELS = "(SELECT 0 AS n UNION ALL SELECT 2 UNION ALL SELECT 4) l"


def _flag(condition: str, sign: str) -> str:
    return f"{sign} * CASE WHEN {condition} THEN 1 ELSE 0 END"


def _select(
    dialect: str, r: str, dim: str, key: str, measures: list[str], joined: str = "", match: str = ""
) -> str:
    """A SELECT of stats_cells rows for complaint `r` (read from `joined`, if any, under
    `match`), once per area: all, and the province and city of its region code."""
    month = SQL[dialect]["month"].format(r=r, col="created_at")
    area = f"CASE WHEN l.n = 0 THEN '' ELSE substr({r}.region_code, 1, l.n) END"
    conditions = [f"(l.n = 0 OR {r}.region_code IS NOT NULL)", *([match] if match else [])]
    return (
        f"SELECT {area} AS area, {month} AS month, {r}.category AS category, "
        f"{r}.channel AS channel, {dim} AS dim, {key} AS key, "
        + ", ".join(f"{m} AS {name}" for m, name in zip(measures, MEASURES, strict=True))
        + f" FROM {joined + ' CROSS JOIN ' if joined else ''}{LEVELS} "
        + f"WHERE {' AND '.join(conditions)}"
    )


def dimension_rows(dialect: str, r: str, sign: str, source: str = "") -> str:
    """One SELECT per dimension of complaint `r` (NEW, OLD or the alias `c` of `source`, a
    table), each row with the measures times `sign`; rows whose key is NULL (not closed) are for
    the caller to drop. Then the complaint's links: its notice kinds and its review outcomes."""
    sql = SQL[dialect]
    days = sql["days"].format(r=r)
    week = sql["week"].format(days=days)
    keys = {
        "track": f"coalesce({r}.track, '')",
        "status": f"{r}.status",
        "satisfaction": f"coalesce({r}.satisfaction, '')",
        "region": f"coalesce({r}.region_code, '')",
        "closed": sql["month"].format(r=r, col="closed_at"),
        "days": f"CAST(CASE WHEN {days} < 0 THEN -1 ELSE {week} END AS varchar(12))",
    }
    measures = [
        sign,
        _flag(f"{r}.repeat_of IS NOT NULL", sign),
        _flag(f"{r}.closed_at IS NOT NULL", sign),
        f"{sign} * coalesce({days}, 0)",
        _flag(f"{r}.closed_at IS NOT NULL AND {r}.deadline_at IS NOT NULL", sign),
        _flag(f"{r}.closed_at <= {r}.deadline_at", sign),
        _flag(f"{r}.{OPEN} AND {r}.deadline_at IS NOT NULL", sign),
    ]
    selects = [_select(dialect, r, f"'{dim}'", key, measures, source) for dim, key in keys.items()]
    link = [sign] + ["0"] * (len(MEASURES) - 1)
    linked = _links(dialect, r, bool(source))
    selects += [_select(dialect, r, dim, key, link, joined) for dim, key, joined in linked]
    return "\nUNION ALL ".join(selects)


def _links(dialect: str, r: str, backfill: bool) -> list[tuple[str, str, str]]:
    """(dim, key, what to read) of the rows a complaint gets for what refers to it: one per
    kind of its review notices, one per completed review task (the outcome as key)."""
    outcome = SQL[dialect]["outcome"]
    notices = f"SELECT DISTINCT tracking_number, kind FROM notices WHERE kind IN {NOTICE_KINDS}"
    reviews = (
        f"SELECT business_key, element_id, coalesce({outcome.format(r='audit_events')}, '') "
        f"AS outcome FROM audit_events WHERE {COMPLETED_REVIEW.format(r='audit_events.')}"
    )
    if backfill:
        return [
            ("'notice'", "n.kind", f"complaints c JOIN ({notices}) n "
             "ON n.tracking_number = c.tracking_number"),
            ("a.element_id", "a.outcome", f"complaints c JOIN ({reviews}) a "
             "ON a.business_key = c.tracking_number"),
        ]  # fmt: skip
    return [
        ("'notice'", "n.kind", f"({notices} AND tracking_number = {r}.tracking_number) n"),
        ("a.element_id", "a.outcome", f"({reviews} AND business_key = {r}.tracking_number) a"),
    ]


def _upsert(rows: str) -> str:
    """Add `rows` (SELECTs of stats_cells columns) to stats_cells, summed per cell, in key
    order: writers that share cells lock them in the same order and so wait, never deadlock,
    within one statement."""
    sums = ", ".join(f"sum({m})" for m in MEASURES)
    added = ", ".join(f"{m} = stats_cells.{m} + excluded.{m}" for m in MEASURES)
    key = ", ".join(KEY)
    return (
        f"INSERT INTO stats_cells ({', '.join(KEY + MEASURES)}) "
        f"SELECT {key}, {sums} FROM ({rows}) AS d WHERE d.key IS NOT NULL "
        f"GROUP BY {key} ORDER BY {key} "
        f"ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET {added}"
    )


def _complaint(dialect: str, r: str, sign: str) -> str:
    """The statements adding complaint `r` times `sign` to both aggregates."""
    respondent = (
        f"INSERT INTO stats_respondents (respondent_key, received) "
        f"SELECT {r}.respondent_key, {sign} WHERE {RESPONDENT.format(r=f'{r}.')} "
        "ON CONFLICT (respondent_key) DO UPDATE "
        "SET received = stats_respondents.received + excluded.received"
    )
    return f"{_upsert(dimension_rows(dialect, r, sign))}; {respondent}"


def _link(dialect: str, r: str, sign: str, dim: str, key: str, match: str) -> str:
    """One link row for the complaint that `r` refers to (`match`: a condition on it, `c`),
    when that complaint exists."""
    link = [sign] + ["0"] * (len(MEASURES) - 1)
    return _upsert(_select(dialect, "c", dim, key, link, "complaints c", match))


def _notice(dialect: str, r: str, sign: str) -> str:
    """A notice counts for its complaint when it is the first of its kind there (inserted) or
    was the last (deleted)."""
    others = (
        f"SELECT 1 FROM notices o WHERE o.tracking_number = {r}.tracking_number "
        f"AND o.kind = {r}.kind AND o.id <> {r}.id"
    )
    match = f"c.tracking_number = {r}.tracking_number AND NOT EXISTS ({others})"
    return _link(dialect, r, sign, "'notice'", f"{r}.kind", match)


def _review(dialect: str) -> str:
    """A completed review task counts for its complaint under its outcome."""
    outcome = f"coalesce({SQL[dialect]['outcome'].format(r='NEW')}, '')"
    return _link(
        dialect, "NEW", "1", "NEW.element_id", outcome, "c.tracking_number = NEW.business_key"
    )


def _changed(dialect: str, columns: list[str]) -> str:
    differs = "IS DISTINCT FROM" if dialect == "postgresql" else "IS NOT"
    return " OR ".join(f"OLD.{c} {differs} NEW.{c}" for c in columns)


def _postgresql_up() -> list[str]:
    return [
        _postgresql_function(
            "stats_cells_count",
            *(_complaint("postgresql", r, sign) for r, sign in (("OLD", "-1"), ("NEW", "1"))),
        ),
        """
        CREATE TRIGGER complaints_stats_insert_delete AFTER INSERT OR DELETE ON complaints
        FOR EACH ROW EXECUTE FUNCTION stats_cells_count()
        """,
        f"""
        CREATE TRIGGER complaints_stats_update AFTER UPDATE OF {", ".join(WATCHED)}
        ON complaints FOR EACH ROW WHEN ({_changed("postgresql", WATCHED)})
        EXECUTE FUNCTION stats_cells_count()
        """,
        _postgresql_function(
            "stats_cells_count_notice",
            _notice("postgresql", "OLD", "-1"),
            _notice("postgresql", "NEW", "1"),
            kinds=True,
        ),
        """
        CREATE TRIGGER notices_stats_insert_delete AFTER INSERT OR DELETE ON notices
        FOR EACH ROW EXECUTE FUNCTION stats_cells_count_notice()
        """,
        f"""
        CREATE TRIGGER notices_stats_update AFTER UPDATE OF kind, tracking_number ON notices
        FOR EACH ROW WHEN ({_changed("postgresql", ["kind", "tracking_number"])})
        EXECUTE FUNCTION stats_cells_count_notice()
        """,
        f"""
        CREATE OR REPLACE FUNCTION stats_cells_count_review() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            {_review("postgresql")};
            RETURN NULL;
        END
        $$
        """,
        f"""
        CREATE TRIGGER audit_events_stats_review AFTER INSERT ON audit_events
        FOR EACH ROW WHEN ({COMPLETED_REVIEW.format(r="NEW.")})
        EXECUTE FUNCTION stats_cells_count_review()
        """,
    ]


def _postgresql_function(name: str, old: str, new: str, kinds: bool = False) -> str:
    """A trigger function taking the old row's contribution away and adding the new one's
    (for notices, only of the kinds counted)."""
    counted = {r: f" AND {r}.kind IN {NOTICE_KINDS}" if kinds else "" for r in ("OLD", "NEW")}
    return f"""
        CREATE OR REPLACE FUNCTION {name}() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP IN ('UPDATE', 'DELETE'){counted["OLD"]} THEN
                {old};
            END IF;
            IF TG_OP IN ('INSERT', 'UPDATE'){counted["NEW"]} THEN
                {new};
            END IF;
            RETURN NULL;
        END
        $$
        """


def _sqlite_up() -> list[str]:
    notice_changed = _changed("sqlite", ["kind", "tracking_number"])
    return [
        f"""
        CREATE TRIGGER complaints_stats_insert AFTER INSERT ON complaints
        BEGIN {_complaint("sqlite", "NEW", "1")}; END
        """,
        f"""
        CREATE TRIGGER complaints_stats_delete AFTER DELETE ON complaints
        BEGIN {_complaint("sqlite", "OLD", "-1")}; END
        """,
        f"""
        CREATE TRIGGER complaints_stats_update AFTER UPDATE OF {", ".join(WATCHED)}
        ON complaints WHEN {_changed("sqlite", WATCHED)}
        BEGIN {_complaint("sqlite", "OLD", "-1")}; {_complaint("sqlite", "NEW", "1")}; END
        """,
        f"""
        CREATE TRIGGER notices_stats_insert AFTER INSERT ON notices
        WHEN NEW.kind IN {NOTICE_KINDS}
        BEGIN {_notice("sqlite", "NEW", "1")}; END
        """,
        f"""
        CREATE TRIGGER notices_stats_delete AFTER DELETE ON notices
        WHEN OLD.kind IN {NOTICE_KINDS}
        BEGIN {_notice("sqlite", "OLD", "-1")}; END
        """,
        f"""
        CREATE TRIGGER notices_stats_update_old AFTER UPDATE OF kind, tracking_number ON notices
        WHEN ({notice_changed}) AND OLD.kind IN {NOTICE_KINDS}
        BEGIN {_notice("sqlite", "OLD", "-1")}; END
        """,
        f"""
        CREATE TRIGGER notices_stats_update_new AFTER UPDATE OF kind, tracking_number ON notices
        WHEN ({notice_changed}) AND NEW.kind IN {NOTICE_KINDS}
        BEGIN {_notice("sqlite", "NEW", "1")}; END
        """,
        f"""
        CREATE TRIGGER audit_events_stats_review AFTER INSERT ON audit_events
        WHEN {COMPLETED_REVIEW.format(r="NEW.")}
        BEGIN {_review("sqlite")}; END
        """,
    ]


DOWN = {
    "postgresql": [
        "DROP TRIGGER IF EXISTS audit_events_stats_review ON audit_events",
        "DROP TRIGGER IF EXISTS notices_stats_update ON notices",
        "DROP TRIGGER IF EXISTS notices_stats_insert_delete ON notices",
        "DROP TRIGGER IF EXISTS complaints_stats_update ON complaints",
        "DROP TRIGGER IF EXISTS complaints_stats_insert_delete ON complaints",
        "DROP FUNCTION IF EXISTS stats_cells_count_review()",
        "DROP FUNCTION IF EXISTS stats_cells_count_notice()",
        "DROP FUNCTION IF EXISTS stats_cells_count()",
    ],
    "sqlite": [
        f"DROP TRIGGER IF EXISTS {name}"
        for name in (
            "audit_events_stats_review",
            "notices_stats_update_new",
            "notices_stats_update_old",
            "notices_stats_delete",
            "notices_stats_insert",
            "complaints_stats_update",
            "complaints_stats_delete",
            "complaints_stats_insert",
        )
    ],  # fmt: skip
}


def create_triggers() -> None:
    dialect = op.get_bind().dialect.name
    if dialect not in SQL:
        raise NotImplementedError(f"no statistics triggers for {dialect}")
    for statement in _postgresql_up() if dialect == "postgresql" else _sqlite_up():
        op.execute(statement)


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    postgresql = dialect == "postgresql"
    op.create_table(
        "stats_cells",
        sa.Column("area", sa.String(length=6), nullable=False),
        sa.Column("month", sa.String(length=7), nullable=False),
        sa.Column("category", sa.String(length=20), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("dim", sa.String(length=12), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        *(sa.Column(m, sa.Integer(), nullable=False) for m in MEASURES if m != "days_sum"),
        sa.Column("days_sum", sa.Float(), nullable=False),
        # Read by key order alone: the measures in the index on PostgreSQL, the table stored
        # in key order on SQLite.
        sa.PrimaryKeyConstraint(*KEY, postgresql_include=MEASURES),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "stats_respondents",
        sa.Column("respondent_key", sa.String(length=300), primary_key=True),
        sa.Column("received", sa.Integer(), nullable=False),
    )
    op.create_index(
        "ix_stats_respondents_received",
        "stats_respondents",
        [sa.text("received DESC"), "respondent_key"],
    )
    backfill(dialect)
    create_triggers()
    op.create_index(
        "ix_complaints_stats_region",
        "complaints",
        ["region_code", "created_at"]
        if postgresql
        else ["region_code", "created_at", *CELL_COLUMNS, "respondent_key"],
        postgresql_include=[*CELL_COLUMNS, "respondent_key"] if postgresql else None,
    )
    # 0007's index of the population by receipt, now with the respondent key as well.
    _created_index(dialect, [*CREATED_COLUMNS, "respondent_key"])
    open_deadline = sa.text(f"{OPEN} AND deadline_at IS NOT NULL")
    op.create_index(
        "ix_complaints_stats_open_deadline",
        "complaints",
        ["deadline_at"] if postgresql else ["deadline_at", *OPEN_COLUMNS],
        postgresql_include=OPEN_COLUMNS if postgresql else None,
        postgresql_where=open_deadline,
        sqlite_where=open_deadline,
    )
    # What the complaint triggers read of a complaint's completed reviews.
    op.create_index(
        "ix_audit_events_stats_reviews",
        "audit_events",
        ["business_key"],
        postgresql_where=sa.text(COMPLETED_REVIEW.format(r="")),
        sqlite_where=sa.text(COMPLETED_REVIEW.format(r="")),
    )
    op.create_index(
        "ix_complaints_stats_respondent",
        "complaints",
        ["respondent_key", "created_at"]
        if postgresql
        else ["respondent_key", "created_at", *FILTER_COLUMNS],
        postgresql_include=FILTER_COLUMNS if postgresql else None,
    )
    if postgresql:
        op.execute("ANALYZE stats_cells, stats_respondents")


def backfill(dialect: str) -> None:
    """The rows of every complaint there is, summed per cell, and per respondent."""
    op.execute(_upsert(dimension_rows(dialect, "c", "1", source="complaints c")))
    op.execute(
        "INSERT INTO stats_respondents (respondent_key, received) "
        f"SELECT respondent_key, count(*) FROM complaints WHERE {RESPONDENT.format(r='')} "
        "GROUP BY respondent_key"
    )


def _created_index(dialect: str, covered: list[str]) -> None:
    """(Re)create ix_complaints_stats_created covering `covered` (in the key on SQLite)."""
    postgresql = dialect == "postgresql"
    op.drop_index("ix_complaints_stats_created", table_name="complaints")
    op.create_index(
        "ix_complaints_stats_created",
        "complaints",
        ["created_at"] if postgresql else ["created_at", *covered],
        postgresql_include=covered if postgresql else None,
    )


def downgrade() -> None:
    _created_index(op.get_bind().dialect.name, CREATED_COLUMNS)
    op.drop_index("ix_complaints_stats_respondent", table_name="complaints")
    op.drop_index("ix_audit_events_stats_reviews", table_name="audit_events")
    op.drop_index("ix_complaints_stats_open_deadline", table_name="complaints")
    op.drop_index("ix_complaints_stats_region", table_name="complaints")
    for statement in DOWN.get(op.get_bind().dialect.name, []):
        op.execute(statement)
    op.drop_table("stats_respondents")
    op.drop_table("stats_cells")
