"""The task list's exact attribute filters (region, channel, category) and their counts: short
values are matched on the list indexes' `tags`, long ones and tasks without tags (those that
were not open when migration 0009 ran) through `human_task_attributes`; whichever way, the
same tasks. Runs on PostgreSQL too with COMPLAINTS_TEST_DATABASE_URL set."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import Any

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import inspect, text

from api.composition import bundle_files
from api.settings import TASK_ATTRIBUTES, TASK_SEARCH
from engine import Actor, Engine, db
from engine.readmodels import MAX_TAG_VALUE_BYTES, TAG_MARK
from tests.clock import TravelClock
from tests.conftest import ADMIN, DEMO_PROCESSES, INTAKE, Calls, new_engine
from tests.test_api_support import START_DATA, staff_api

LONG_CATEGORY = "夜间施工噪音与粉尘污染影响周边居民休息的综合问题"  # 72 bytes in UTF-8
assert len(LONG_CATEGORY.encode()) > MAX_TAG_VALUE_BYTES

# business key -> complaint data copied into the task attributes
COMPLAINTS: dict[str, dict[str, Any]] = {
    "C-1": {"region": "420106", "channel": "hotline", "category": "air"},
    "C-2": {"region": "4201", "channel": "web", "category": "noise"},  # a prefix of 420106
    "C-3": {"region": "420106", "channel": "web", "category": LONG_CATEGORY},
    "C-4": {"region": "420107", "channel": "web=hotline", "category": "air"},
    # A value with the mark is never tagged, so it cannot pose as another attribute.
    "C-5": {"region": "420107", "channel": "web", "category": "air", "title": "\x1fregion=420106"},
    "C-6": {},  # no attributes at all
}
CLERK = Actor("li.intake", frozenset({"intake"}))

# (filter, business keys it finds among COMPLAINTS)
EXPECTED = [
    ({"region": "420106"}, ["C-1", "C-3"]),
    ({"region": "4201"}, ["C-2"]),
    ({"region": "42010"}, []),
    ({"channel": "web"}, ["C-2", "C-3", "C-5"]),
    ({"channel": "web=hotline"}, ["C-4"]),
    ({"channel": "hotline"}, ["C-1"]),
    ({"category": "air"}, ["C-1", "C-4", "C-5"]),
    ({"category": LONG_CATEGORY}, ["C-3"]),
    ({"category": LONG_CATEGORY[:10]}, []),
    ({"region": "420106", "channel": "web"}, ["C-3"]),
    ({"region": "420106", "category": LONG_CATEGORY}, ["C-3"]),
    ({"region": "420107", "category": "air", "channel": "web"}, ["C-5"]),
    ({"title": "\x1fregion=420106"}, ["C-5"]),
]


def data(key: str) -> dict[str, Any]:
    values = COMPLAINTS[key]
    found: dict[str, Any] = dict(START_DATA)
    for name in ("channel", "category", "title"):
        if name in values:
            found[name] = values[name]
    if "region" in values:
        found["location"] = {"region_code": values["region"]}
    return found


def engine_with_complaints(
    url: str,
    calls: Calls,
    clock: TravelClock,
    complaints: Iterable[str],
    data: Callable[[str], dict[str, Any]],
) -> Engine:
    """An engine with the product's task attributes and one demo instance per business key,
    started with `data(key)`."""
    engine = new_engine(url, calls, clock, task_attributes=TASK_ATTRIBUTES, task_search=TASK_SEARCH)
    engine.deploy(bundle_files(DEMO_PROCESSES), ADMIN)
    for key in complaints:
        engine.start("engine_demo", data(key), key, INTAKE)
    return engine


@pytest.fixture
def engine(sqlite_url: str, calls: Calls, clock: TravelClock) -> Iterator[Engine]:
    engine = engine_with_complaints(sqlite_url, calls, clock, COMPLAINTS, data)
    yield engine
    engine.close()


def found(engine: Engine, attributes: dict[str, str], **filters: Any) -> list[str]:
    """The business keys listed (checked against the count), whichever way the list is read."""
    tasks = engine.tasks(attributes=attributes, limit=200, **filters)
    assert engine.count_tasks(attributes=attributes, **filters) == len(tasks)
    return sorted(t.business_key or "" for t in tasks)


def every_way(engine: Engine, attributes: dict[str, str], status: str | None = "open") -> dict:
    """From the group index (a clerk), the task index (an administrator) and the clerk's own
    tasks (the assignee index)."""
    return {
        "clerk": found(engine, attributes, actor=CLERK, status=status),
        "admin": found(engine, attributes, actor=ADMIN, status=status),
        "anyone": found(engine, attributes, status=status),
        "group": found(engine, attributes, actor=CLERK, groups=["intake"], status=status),
    }


def only(keys: list[str]) -> dict:
    return {"clerk": keys, "admin": keys, "anyone": keys, "group": keys}


@pytest.mark.parametrize(("attributes", "keys"), EXPECTED)
def test_exact_attribute_filters_and_counts_find_exactly_the_matching_tasks(
    engine: Engine, attributes: dict[str, str], keys: list[str]
) -> None:
    assert every_way(engine, attributes) == only(keys)
    assert every_way(engine, attributes, status=None) == only(keys)
    assert every_way(engine, attributes, status="completed") == only([])


def test_tasks_carry_their_short_values_as_tags(engine: Engine) -> None:
    with engine.sql.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT t.business_key, t.tags, g.tags FROM human_tasks t "
                "JOIN human_task_groups g ON g.task_id = t.id"
            )
        ).all()
    tags = {key: task_tags for key, task_tags, group_tags in rows if task_tags == group_tags}
    assert len(tags) == len(rows) == len(COMPLAINTS)
    assert tags["C-1"] == "\x1fcategory=air\x1fchannel=hotline\x1fregion=420106\x1f"
    assert tags["C-3"] == "\x1fchannel=web\x1fregion=420106\x1f"  # the long category left out
    assert tags["C-5"] == "\x1fcategory=air\x1fchannel=web\x1fregion=420107\x1f"
    assert tags["C-6"] == TAG_MARK


def test_tasks_without_tags_are_found_through_their_attribute_rows(engine: Engine) -> None:
    """Tags NULL: tasks 0009 did not tag, or written by a process still on the code before."""
    with engine.sql.begin() as connection:
        for table, key in (("human_tasks", "id"), ("human_task_groups", "task_id")):
            connection.execute(
                text(
                    f"UPDATE {table} SET tags = NULL WHERE {key} IN (SELECT id FROM human_tasks "
                    "WHERE business_key IN ('C-1', 'C-2', 'C-3', 'C-5'))"
                )
            )
    for attributes, keys in EXPECTED:
        assert every_way(engine, attributes) == only(keys), attributes


def test_the_api_lists_and_counts_by_region_channel_and_category(
    engine: Engine, sqlite_url: str
) -> None:
    clerk = staff_api(engine, sqlite_url).as_("li.intake")
    for query, keys in [
        ("region=420106", ["C-1", "C-3"]),
        ("channel=web", ["C-2", "C-3", "C-5"]),
        ("category=air", ["C-1", "C-4", "C-5"]),
        ("region=420107&category=air&channel=web", ["C-5"]),
    ]:
        page = clerk.get(f"/api/tasks?{query}&total=true").get_json()
        assert sorted(t["business_key"] for t in page["items"]) == keys
        first = clerk.get(f"/api/tasks?{query}&total=true&limit=1").get_json()
        assert (first["total"], first["has_more"]) == (len(keys), len(keys) > 1)


def alembic_config(connection: Any) -> Config:
    config = Config()
    config.set_main_option("script_location", str(db.MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def columns(engine: Engine, table: str) -> set[str]:
    return {c["name"] for c in inspect(engine.sql).get_columns(table)}


def test_migration_0009_tags_open_tasks_and_goes_back_to_0008(engine: Engine) -> None:
    """Down to the released 0008 and up again: open tasks are tagged as the engine tags them,
    others keep NULL and are found all the same, and the status trigger still works."""
    completed = engine.tasks(business_key="C-2")[0]
    engine.complete_task(completed.id, {"severity": "low"}, INTAKE)
    with engine.sql.begin() as connection:
        command.downgrade(alembic_config(connection), "0008")
    assert "tags" not in columns(engine, "human_tasks")
    assert "tags" not in columns(engine, "human_task_groups")
    indexes = {i["name"] for i in inspect(engine.sql).get_indexes("human_tasks")}
    assert "ix_human_tasks_status_due" in indexes and "ix_human_tasks_list" not in indexes

    db.upgrade(engine.sql)
    with engine.sql.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT t.business_key, t.tags, g.tags FROM human_tasks t "
                "JOIN human_task_groups g ON g.task_id = t.id"
            )
        ).all()
    tags = {key: task_tags for key, task_tags, group_tags in rows if task_tags == group_tags}
    assert len(tags) == len(rows) == len(COMPLAINTS)
    assert tags.pop("C-2") is None  # completed before 0009
    for key, got in tags.items():
        values = engine.tasks(business_key=key)[0].attributes
        want = engine.task_attributes.tags(values)
        assert got.startswith(TAG_MARK) and got.endswith(TAG_MARK)
        assert sorted(got.split(TAG_MARK)) == sorted(want.split(TAG_MARK)), key

    for attributes, keys in EXPECTED:
        assert every_way(engine, attributes) == only([k for k in keys if k != "C-2"])
        assert every_way(engine, attributes, status=None) == only(keys), attributes
    assert every_way(engine, {"region": "4201"}, status="completed") == only(["C-2"])

    # The status copies still follow the task (on SQLite the trigger outlived the migration).
    engine.complete_task(engine.tasks(business_key="C-1")[0].id, {"severity": "low"}, INTAKE)
    assert every_way(engine, {"region": "420106"}) == only(["C-3"])
    assert every_way(engine, {"region": "420106"}, status="completed") == only(["C-1"])
    assert every_way(engine, {"channel": "hotline"}, status=None) == only(["C-1"])


def test_the_schema_goes_down_to_its_first_revision_and_up_again(engine: Engine) -> None:
    """Every later migration's downgrade runs on a database with open and completed tasks, and
    the upgrade after it leaves the engine working on them."""
    engine.complete_task(engine.tasks(business_key="C-2")[0].id, {"severity": "low"}, INTAKE)
    listed = found(engine, {})
    with engine.sql.begin() as connection:
        command.downgrade(alembic_config(connection), "0001")
        assert connection.scalar(text("SELECT version_num FROM alembic_version")) == "0001"
    tables = set(inspect(engine.sql).get_table_names())
    assert {"instances", "human_tasks", "timers", "audit_events"} <= tables
    assert not tables & {"complaints", "accounts", "human_task_attributes", "stats_cells"}

    db.upgrade(engine.sql)
    assert found(engine, {}) == listed
    task = engine.tasks(business_key="C-1")[0]
    assert engine.complete_task(task.id, {"severity": "low"}, INTAKE).status == "completed"
