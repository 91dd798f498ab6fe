"""Free-text search (`q`) and the counts of the list of all tasks: whichever index answers (the
walk of the list, PostgreSQL's trigram index, SQLite's trigram table of open tasks, the
attribute rows for counts), the same tasks and a count equal to the list's length. Runs on
PostgreSQL too with COMPLAINTS_TEST_DATABASE_URL set."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from alembic import command

from engine import Engine, db, task_query
from tests.clock import TravelClock
from tests.conftest import ADMIN, INTAKE, Calls
from tests.test_api_support import START_DATA
from tests.test_task_list_filters import CLERK, alembic_config, engine_with_complaints

# business key -> (title, respondent, region)
COMPLAINTS: dict[str, tuple[str, str | None, str]] = {
    "HB-2026-000101": ("东湖夜间施工噪音", "武汉长江楚天化工有限公司", "420106"),
    "HB-2026-000102": ("沿江大道烟囱冒黑烟", "武汉光谷东湖物流有限公司", "420107"),
    "HB-2026-000215": ("Noise at NIGHT, 100%_done", 'He said "stop"', "420106"),
    "HB-2026-000216": ("夜间施工", None, "420105"),
}

# (q, business keys of the open tasks it finds)
SEARCHES = [
    ("夜间施工", ["HB-2026-000101", "HB-2026-000216"]),
    ("夜间施工噪", ["HB-2026-000101"]),
    ("长江楚天", ["HB-2026-000101"]),
    ("施工噪音与", []),
    ("2026-0001", ["HB-2026-000101", "HB-2026-000102"]),
    ("hb-2026-0002", ["HB-2026-000215", "HB-2026-000216"]),
    ("HB-2026-000215", ["HB-2026-000215"]),
    ("东湖", ["HB-2026-000101", "HB-2026-000102"]),  # too short for a trigram
    ("湖", ["HB-2026-000101", "HB-2026-000102"]),
    ("night", ["HB-2026-000215"]),
    ("NIGHT, 100%_", ["HB-2026-000215"]),  # LIKE's wildcards are plain characters
    ("100%d", []),
    ("t_d", []),
    ('said "stop"', ["HB-2026-000215"]),  # FTS5's quote is a plain character
    ('"', ["HB-2026-000215"]),
    ("  ", sorted(COMPLAINTS)),  # blank: no search
]


def data(key: str) -> dict[str, Any]:
    title, respondent, region = COMPLAINTS[key]
    found: dict[str, Any] = {**START_DATA, "title": title, "location": {"region_code": region}}
    if respondent:
        found["respondent"] = respondent
    return found


@pytest.fixture(params=[1000, 1], ids=["few hits sorted", "many hits walked"])
def few_hits(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """SQLite sorts fewer hits than FEW_HITS and walks the list for more: both ways, here."""
    monkeypatch.setattr(task_query, "FEW_HITS", request.param)
    return request.param


@pytest.fixture
def engine(sqlite_url: str, calls: Calls, clock: TravelClock) -> Iterator[Engine]:
    engine = engine_with_complaints(sqlite_url, calls, clock, COMPLAINTS, data)
    yield engine
    engine.close()


def found(engine: Engine, q: str, **filters: Any) -> list[str]:
    """The business keys listed, in pages of one and all at once, checked against the count."""
    tasks = engine.tasks(q=q, limit=200, **filters)
    assert engine.count_tasks(q=q, **filters) == len(tasks)
    paged = [engine.tasks(q=q, limit=1, offset=n, **filters) for n in range(len(tasks) + 1)]
    assert [t.id for page in paged for t in page] == [t.id for t in tasks]
    return sorted(t.business_key or "" for t in tasks)


def every_way(engine: Engine, q: str, **filters: Any) -> dict[str, list[str]]:
    """An administrator, no actor at all, and a clerk of the tasks' group (the group index)."""
    return {
        "admin": found(engine, q, actor=ADMIN, **filters),
        "anyone": found(engine, q, **filters),
        "clerk": found(engine, q, actor=CLERK, **filters),
    }


def only(keys: list[str]) -> dict[str, list[str]]:
    return {"admin": keys, "anyone": keys, "clerk": keys}


@pytest.mark.parametrize(("q", "keys"), SEARCHES)
def test_free_text_finds_exactly_the_tasks_holding_it(
    engine: Engine, few_hits: int, q: str, keys: list[str]
) -> None:
    assert every_way(engine, q) == only(keys)
    assert every_way(engine, q, status=None) == only(keys)
    assert every_way(engine, q, status="completed") == only([])


def test_free_text_combines_with_the_other_filters(engine: Engine, few_hits: int) -> None:
    region = {"region": "420106"}
    assert every_way(engine, "2026-000", attributes=region) == only(
        ["HB-2026-000101", "HB-2026-000215"]
    )
    assert every_way(engine, "夜间施工", attributes=region) == only(["HB-2026-000101"])
    assert every_way(engine, "夜间施工", element_id="no_such_step") == only([])
    assert every_way(engine, "夜间施工", attributes={**region, "title": "夜间施工"}) == only([])


def test_a_task_leaves_the_search_of_open_tasks_when_completed(
    engine: Engine, few_hits: int
) -> None:
    task = engine.tasks(business_key="HB-2026-000101")[0]
    engine.complete_task(task.id, {"severity": "low"}, INTAKE)
    assert every_way(engine, "长江楚天") == only([])
    assert every_way(engine, "夜间施工") == only(["HB-2026-000216"])
    assert every_way(engine, "长江楚天", status="completed") == only(["HB-2026-000101"])
    assert every_way(engine, "夜间施工", status=None) == only(["HB-2026-000101", "HB-2026-000216"])


def test_counts_of_all_tasks_by_attribute_with_other_filters(engine: Engine) -> None:
    """Counted from the attribute rows, narrowed by the tasks they belong to."""
    task = engine.tasks(business_key="HB-2026-000215")[0]
    engine.complete_task(task.id, {"severity": "low"}, INTAKE)
    due = task.due_at
    assert due is not None
    for actor in (ADMIN, None):
        for filters, want in [
            ({}, 1),
            ({"status": None}, 2),
            ({"status": "completed"}, 1),
            ({"due_before": due}, 0),
            ({"due_after": due}, 1),
            ({"element_id": task.element_id}, 1),
            ({"process_id": "no_such_process"}, 0),
        ]:
            listed = engine.tasks(actor=actor, attributes={"region": "420106"}, **filters)
            counted = engine.count_tasks(actor=actor, attributes={"region": "420106"}, **filters)
            assert counted == len(listed) == want, filters


def test_migration_0012_goes_back_to_0010_and_up_again(engine: Engine) -> None:
    """Without the open tasks' search index the list searches as before; upgraded again, the
    index holds the tasks open at the time."""
    task = engine.tasks(business_key="HB-2026-000101")[0]
    with engine.sql.begin() as connection:
        command.downgrade(alembic_config(connection), "0010")
    for q, keys in SEARCHES:
        assert every_way(engine, q) == only(keys), q
    engine.complete_task(task.id, {"severity": "low"}, INTAKE)

    db.upgrade(engine.sql)
    assert every_way(engine, "长江楚天") == only([])
    assert every_way(engine, "夜间施工") == only(["HB-2026-000216"])
    assert every_way(engine, "2026-0001") == only(["HB-2026-000102"])
    assert every_way(engine, "长江楚天", status=None) == only(["HB-2026-000101"])
