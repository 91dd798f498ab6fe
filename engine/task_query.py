"""The task list's queries: which human tasks a filter selects, in list order, and how many.
Answered from the read-model rows and their indexes alone, never by loading a workflow."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    CompoundSelect,
    Select,
    and_,
    column,
    exists,
    func,
    literal_column,
    or_,
    select,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.expression import table as table_clause
from sqlalchemy.sql.functions import FunctionElement
from sqlalchemy.types import Boolean

from .contracts import Actor
from .models import HumanTask, HumanTaskAttribute, HumanTaskGroup
from .readmodels import TAG_MARK, search_key, tag


@dataclass(frozen=True)
class TaskFilter:
    """What `Engine.tasks` and `Engine.count_tasks` select. Without an actor (or for admins and
    system actors) every task qualifies; otherwise the actor's groups (narrowed by `groups`) and
    tasks assigned to the actor."""

    actor: Actor | None = None
    mine: bool = False
    groups: list[str] | None = None
    status: str | None = "open"
    process_id: str | None = None
    business_key: str | None = None
    instance_id: int | None = None
    overdue_at: datetime | None = None
    element_id: str | None = None
    attributes: Mapping[str, str] | None = None
    due_before: datetime | None = None
    due_after: datetime | None = None
    q: str | None = None

    def visible_groups(self) -> set[str] | None:
        """The groups whose tasks qualify; None when any task does."""
        actor = self.actor
        if actor is not None and not (actor.admin or actor.system):
            return set(self.groups) & actor.groups if self.groups else set(actor.groups)
        return set(self.groups) if self.groups else None

    def by_group(self) -> bool:
        """Read the list from the group index (the usual clerk's list), or else from the tasks
        table: with no group to narrow by, or a filter only the tasks table indexes (assignee,
        business key, instance), which is always narrower than a group."""
        return self.visible_groups() is not None and not self.selective()

    def selective(self) -> bool:
        """A filter only the tasks table indexes, narrower than any other."""
        return bool(self.mine or self.business_key or self.instance_id is not None)

    def everything(self) -> bool:
        """All tasks qualify but for the shared filters (an administrator's list)."""
        return self.visible_groups() is None and not self.selective()

    def narrowed(self) -> bool:
        """Some filter besides the status narrows the tasks."""
        dates = (self.overdue_at, self.due_before, self.due_after)
        return bool(
            self.process_id
            or self.element_id
            or self.attributes
            or any(d is not None for d in dates)
            or search_words(self)
        )


# The open tasks' search text alone, kept by triggers (migration 0012): its rows are exactly
# the open tasks that have search text. On SQLite an FTS5 trigram table keyed by the rowid of
# human_tasks, on PostgreSQL a narrow table keyed by task id with a trigram index.
SEARCH = table_clause(
    "human_tasks_search", column("rowid"), column("task_id"), column("search_text")
)
SQLITE_MASTER = table_clause("sqlite_master", column("name"))
# Fewer hits than this are sorted; with more, walking the list in order finds a page sooner.
FEW_HITS = 1000


@dataclass(frozen=True)
class TextSearch:
    """`q` looked up in `human_tasks_search`: on SQLite as an FTS5 phrase (an exact substring
    of three characters or more), on PostgreSQL with LIKE. `few`: fewer hits than FEW_HITS."""

    words: str
    sqlite: bool
    few: bool = False

    def matches(self) -> ColumnElement[bool]:
        if self.sqlite:
            return SEARCH.c.search_text.match('"' + self.words.replace('"', '""') + '"')
        return SEARCH.c.search_text.like(_like_pattern(self.words), escape="\\")

    def hits(self) -> ColumnElement[bool]:
        """The task rows that match, by rowid on SQLite and by id on PostgreSQL."""
        if self.sqlite:
            found = select(SEARCH.c.rowid).where(self.matches())
            return literal_column("human_tasks.rowid").in_(found)
        return HumanTask.id.in_(select(SEARCH.c.task_id).where(self.matches()))


def text_search(session: Session, where: TaskFilter) -> TextSearch | None:
    """How `q` is searched among all open tasks: in `human_tasks_search`, which counts hits at
    once and lists a few of them faster than a walk of the list testing each entry. None for
    the walk: other lists, a word too short for a trigram on SQLite, no such table (before
    migration 0012, or SQLite without FTS5)."""
    words = search_words(where)
    sqlite = session.get_bind().dialect.name == "sqlite"
    if (
        where.status != "open"
        or not where.everything()
        or not words
        or (sqlite and len(words) < 3)
        or not _search_table(session, sqlite)
    ):
        return None
    search = TextSearch(words, sqlite)
    probe = select(SEARCH.c.search_text).where(search.matches()).limit(FEW_HITS).subquery()
    hits = session.scalar(select(func.count()).select_from(probe))
    return replace(search, few=hits < FEW_HITS)


def _search_table(session: Session, sqlite: bool) -> bool:
    if sqlite:
        name = SQLITE_MASTER.c.name
        return session.scalar(select(name).where(name == SEARCH.name)) is not None
    return session.scalar(select(func.to_regclass(SEARCH.name))) is not None


def search_words(where: TaskFilter) -> str:
    """`q` folded as the search text is; empty when there is none."""
    return search_key(where.q.strip()) if where.q and where.q.strip() else ""


def task_page(
    where: TaskFilter, limit: int, offset: int, search: TextSearch | None = None
) -> Select:
    """One page of task rows in list order: due date, tasks without one last, then creation.

    From the group index, the page's task ids come from index entries alone: the group's range
    in due order merged with the actor's assigned tasks (also in due order, by their index), so
    both databases stop after the page; only the page's rows are then read. `search` (from
    `text_search`) sorts few hits of `q` instead of walking the list."""
    order = _order(HumanTask, HumanTask.id)
    if not where.by_group():
        few = search if search is not None and search.few else None
        return _by_task(where, few).order_by(*order).limit(limit).offset(offset)
    candidates = _by_group(where)
    columns = candidates.selected_columns
    page = (
        candidates.order_by(*_order(columns, columns.task_id)).limit(limit).offset(offset)
    ).subquery()
    return select(HumanTask).where(HumanTask.id.in_(select(page.c.task_id))).order_by(*order)


def task_count(where: TaskFilter, search: TextSearch | None = None) -> Select:
    """How many tasks `task_page` would give over all its pages, from index entries alone for a
    group's list and for all tasks: the open ones by their partial index (migration 0012), those
    with an attribute value by its rows, those matching `q` on SQLite by the trigram index."""
    if where.by_group():
        return select(func.count()).select_from(_by_group(where).subquery())
    if search is not None and not replace(where, q=None).narrowed():
        return select(func.count()).select_from(SEARCH).where(search.matches())
    few = search if search is not None and search.few else None
    if where.everything() and where.attributes:
        return _count_by_attribute(where, few)
    return _by_task(where, few).with_only_columns(func.count(), maintain_column_froms=True)


def _count_by_attribute(where: TaskFilter, search: TextSearch | None) -> Select:
    """Tasks with an attribute value are a range of its index (name, value, status); the
    other filters, if any, test the tasks of that range."""
    (name, value), *others = sorted((where.attributes or {}).items())
    a = HumanTaskAttribute
    query = select(func.count()).select_from(a).where(a.name == name, a.value == value)
    if where.status:
        query = query.where(a.status == where.status)
    rest = replace(where, attributes=dict(others) or None)
    if rest.narrowed():
        query = query.where(a.task_id.in_(_by_task(rest, search).with_only_columns(HumanTask.id)))
    return query


def _order(columns: Any, task_id: Any) -> tuple:
    return (columns.due_at.asc().nulls_last(), columns.created_at.asc(), task_id.asc())


def _by_group(where: TaskFilter) -> CompoundSelect | Select:
    """(task_id, due_at, created_at) of the qualifying tasks in the group index, and of those
    assigned to the actor that none of the groups has (so UNION ALL adds no duplicate)."""
    groups = sorted(where.visible_groups() or ())
    g = HumanTaskGroup
    found = select(g.task_id, g.due_at, g.created_at).where(g.group.in_(groups))
    found = _narrow(found, g, g.task_id, where)
    if len(groups) > 1:
        found = found.distinct()  # a task may be listed under two of the groups
    actor = where.actor
    if actor is None or actor.admin or actor.system:
        return found
    assigned = aliased(HumanTask)
    elsewhere = ~exists().where(g.task_id == assigned.id, g.group.in_(groups))
    mine = select(assigned.id.label("task_id"), assigned.due_at, assigned.created_at).where(
        assigned.assignee == actor.id, elsewhere
    )
    return union_all(found, _narrow(mine, assigned, assigned.id, where))


def _by_task(where: TaskFilter, search: TextSearch | None = None) -> Select:
    status = where.status
    if search is not None:
        # The search table holds only open tasks: a status test would make SQLite walk the
        # list index instead of looking up the hits.
        where = replace(where, status=None, q=None)
    pinned = bool(where.business_key) or where.instance_id is not None
    if pinned:
        # A business key or an instance has a handful of tasks: the status is tested as an
        # expression no index serves, so SQLite looks them up instead of walking the list.
        where = replace(where, status=None)
    query = _narrow(select(HumanTask), HumanTask, HumanTask.id, where)
    if pinned and status:
        query = query.where(HumanTask.status.concat("") == status)
    if search is not None:
        query = query.where(search.hits())
    if where.business_key:
        query = query.where(HumanTask.business_key == where.business_key)
    if where.instance_id is not None:
        query = query.where(HumanTask.instance_id == where.instance_id)
    actor = where.actor
    clerk = actor is not None and not (actor.admin or actor.system)
    own = where.mine and actor is not None
    if own:
        query = query.where(HumanTask.assignee == actor.id)
    groups = where.visible_groups()
    # A clerk sees every task assigned to them, so their own list needs no group test (which
    # would read every task of their groups, open or done).
    if groups is not None and not (own and clerk):
        # The tasks here are few (an instance's, a business key's): each is looked up in the
        # group rows, where listing every task of the groups would read them all.
        in_groups = exists().where(
            HumanTaskGroup.task_id == HumanTask.id, HumanTaskGroup.group.in_(sorted(groups))
        )
        if clerk:
            in_groups = or_(in_groups, HumanTask.assignee == actor.id)
        query = query.where(in_groups)
    return query


def _narrow(query: Select, table: Any, task_id: Any, where: TaskFilter) -> Select:
    """The filters every source shares, on columns of the same names in both tables."""
    if where.status:
        query = query.where(table.status == where.status)
    if where.process_id:
        query = query.where(table.process_id == where.process_id)
    if where.element_id:
        query = query.where(table.element_id == where.element_id)
    if where.overdue_at is not None:
        query = query.where(table.due_at < where.overdue_at)
    if where.due_before is not None:
        query = query.where(table.due_at < where.due_before)
    if where.due_after is not None:
        query = query.where(table.due_at >= where.due_after)
    for name, value in sorted((where.attributes or {}).items()):
        having = select(HumanTaskAttribute.task_id).where(
            HumanTaskAttribute.name == name, HumanTaskAttribute.value == value
        )
        if where.status:
            having = having.where(HumanTaskAttribute.status == where.status)
        marked = tag(name, value)
        if marked is None:
            query = query.where(task_id.in_(having))
            continue
        # Tags NULL: a task from before migration 0009 that it left untagged (not open then).
        # The attribute rows are only read on meeting one.
        query = query.where(
            or_(
                contains_text(table.tags, TAG_MARK + marked + TAG_MARK),
                and_(table.tags.is_(None), task_id.in_(having)),
            )
        )
    if words := search_words(where):
        query = query.where(table.search_text.like(_like_pattern(words), escape="\\"))
    return query


class contains_text(FunctionElement):
    """`needle` occurs in `haystack`, case-sensitively and without LIKE's wildcards."""

    type = Boolean()
    inherit_cache = True
    name = "contains_text"


@compiles(contains_text)
def _contains_text(element: contains_text, compiler: Any, **kw: Any) -> str:
    haystack, needle = (compiler.process(c, **kw) for c in element.clauses)
    return f"(position({needle} in {haystack}) > 0)"


@compiles(contains_text, "sqlite")
def _contains_text_sqlite(element: contains_text, compiler: Any, **kw: Any) -> str:
    haystack, needle = (compiler.process(c, **kw) for c in element.clauses)
    return f"(instr({haystack}, {needle}) > 0)"


def _like_pattern(words: str) -> str:
    """`words` anywhere, LIKE's wildcards in them taken literally (escaped with a backslash)."""
    escaped = words.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return "%" + escaped + "%"
