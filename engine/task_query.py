"""The task list's queries: which human tasks a filter selects, in list order, and how many.
Answered from the read-model rows and their indexes alone, never by loading a workflow."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import CompoundSelect, Select, and_, exists, func, or_, select, union_all
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
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
        selective = self.mine or self.business_key or self.instance_id is not None
        return self.visible_groups() is not None and not selective


def task_page(where: TaskFilter, limit: int, offset: int) -> Select:
    """One page of task rows in list order: due date, tasks without one last, then creation.

    From the group index, the page's task ids come from index entries alone: the group's range
    in due order merged with the actor's assigned tasks (also in due order, by their index), so
    both databases stop after the page; only the page's rows are then read."""
    order = _order(HumanTask, HumanTask.id)
    if not where.by_group():
        return _by_task(where).order_by(*order).limit(limit).offset(offset)
    candidates = _by_group(where)
    columns = candidates.selected_columns
    page = (
        candidates.order_by(*_order(columns, columns.task_id)).limit(limit).offset(offset)
    ).subquery()
    return select(HumanTask).where(HumanTask.id.in_(select(page.c.task_id))).order_by(*order)


def task_count(where: TaskFilter) -> Select:
    """How many tasks `task_page` would give over all its pages; for a group's list from index
    entries alone."""
    if not where.by_group():
        return _by_task(where).with_only_columns(func.count(), maintain_column_froms=True)
    return select(func.count()).select_from(_by_group(where).subquery())


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


def _by_task(where: TaskFilter) -> Select:
    query = _narrow(select(HumanTask), HumanTask, HumanTask.id, where)
    if where.business_key:
        query = query.where(HumanTask.business_key == where.business_key)
    if where.instance_id is not None:
        query = query.where(HumanTask.instance_id == where.instance_id)
    actor = where.actor
    if where.mine and actor is not None:
        query = query.where(HumanTask.assignee == actor.id)
    groups = where.visible_groups()
    if groups is not None:
        in_groups = HumanTask.id.in_(
            select(HumanTaskGroup.task_id).where(HumanTaskGroup.group.in_(sorted(groups)))
        )
        if actor is not None and not (actor.admin or actor.system):
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
    if where.q and where.q.strip():
        pattern = "%" + _escape_like(search_key(where.q.strip())) + "%"
        query = query.where(table.search_text.like(pattern, escape="\\"))
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


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
