"""Keeping the query tables in step with each saved workflow: user tasks, timers and the audit
trail. Lists are then answered from these rows alone."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from types import SimpleNamespace
from typing import Any

from sqlalchemy import Update, bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from . import spiff
from .audit_trail import audit
from .contracts import Actor, TaskView, TimerView
from .errors import WorkflowFailed
from .models import HumanTask, HumanTaskAttribute, HumanTaskGroup, Instance, Timer, written

_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_ATTRIBUTE_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")
MAX_ATTRIBUTES = 8
MAX_ATTRIBUTE_LENGTH = 300  # the column's width; longer values are cut for list and filter
# The list indexes hold the search text and the tags; both are bounded so that an index entry
# stays well under PostgreSQL's btree limit (2,704 bytes) whatever the characters.
MAX_SEARCH_BYTES = 600
MAX_TAG_VALUE_BYTES = 48
TAG_MARK = "\x1f"


@dataclass(frozen=True)
class TaskAttributes:
    """Which task-data values a new task row copies: attribute name -> dotted path into the data
    (`location.region_code`). `searchable` names join the business key in free-text search."""

    paths: Mapping[str, str]
    searchable: frozenset[str] = frozenset()

    SESSION_KEY = "engine.task_attributes"  # where the engine leaves it in `Session.info`

    def __post_init__(self) -> None:
        wrong = sorted(n for n in self.paths if not _ATTRIBUTE_NAME.fullmatch(n))
        if wrong:
            raise ValueError(f"task attribute names must be lower-case identifiers: {wrong}")
        if len(self.paths) > MAX_ATTRIBUTES:
            raise ValueError(f"at most {MAX_ATTRIBUTES} task attributes")
        unknown = self.searchable - set(self.paths)
        if unknown:
            raise ValueError(f"searchable task attributes not configured: {sorted(unknown)}")

    @classmethod
    def of(
        cls, paths: Mapping[str, str] | None, searchable: Collection[str] = ()
    ) -> TaskAttributes:
        return cls(dict(paths or {}), frozenset(searchable))

    def values(self, data: Mapping[str, Any]) -> dict[str, str]:
        """Scalars are copied as text; missing, None, blank and nested values are skipped."""
        found: dict[str, str] = {}
        for name, path in self.paths.items():
            value: object = data
            for key in path.split("."):
                value = value.get(key) if isinstance(value, Mapping) else None
            text = _as_text(value)
            if text:
                found[name] = text[:MAX_ATTRIBUTE_LENGTH]
        return found

    def search_text(self, business_key: str | None, values: Mapping[str, str]) -> str | None:
        """Business key and searchable values, case-folded, one per line."""
        parts = [business_key or ""] + [values[n] for n in sorted(self.searchable) if n in values]
        text = search_key("\n".join(p for p in parts if p))
        return text.encode()[:MAX_SEARCH_BYTES].decode(errors="ignore") or None

    def tags(self, values: Mapping[str, str]) -> str:
        """The short values as `<mark>name=value<mark>...`, so that an exact filter is a
        substring test on an index entry the list already reads (see `_narrow`); the bare mark
        when there is none. NULL is left to rows written before (migration 0009)."""
        found = [tag(n, v) for n, v in sorted(values.items()) if n in self.paths]
        return TAG_MARK + "".join(t + TAG_MARK for t in found if t is not None)


def tag(name: str, value: str) -> str | None:
    """How (name, value) appears in `tags`; None for values kept out (long ones, those with
    the mark), which filters then find through `human_task_attributes`. Migration 0009 computes
    the same in SQL."""
    if len(value.encode()) > MAX_TAG_VALUE_BYTES or TAG_MARK in value:
        return None
    return f"{name}={value}"


def _as_text(value: object) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value if value.strip() else None
    if isinstance(value, int | float):
        return str(value)
    return None


def search_key(text: str) -> str:
    """Both sides of the free-text search are folded the same way, in Python, so the database
    compares plain text (SQLite's LIKE folds ASCII only)."""
    return text.casefold()


@dataclass(frozen=True)
class Created:
    """The rows a sync added: a new instance's view is built from them, not read back."""

    tasks: list[TaskView]
    timers: list[Timer]


def sync_read_models(
    session: Session,
    row: Instance,
    wf: spiff.Instance,
    actor: Actor,
    now: datetime,
    *,
    new: bool = False,
    finished: str | None = None,
    timer_rows: list[Timer] | None = None,
) -> Created:
    """Tasks and timers rows in step with the workflow. `new`: the instance was inserted in
    this transaction, so it has no rows yet and reading them back would only cost round trips.
    `finished`: the task this operation completed, whose row is no longer open. The rows
    mirror what the workflow waited on when last saved (`wf.saved_waits`): where it waits on
    the same now, there is nothing to read or change. `timer_rows`: the instance's pending and
    incident timer rows, read in this transaction by a timer's firing; these rows may not
    mirror the waits (an incident's row stays where it failed while its cycle moves on), so
    they are set right whatever the waits."""
    tasks = _sync_tasks(session, row, wf, actor, now, new, finished)
    return Created(tasks, _sync_timers(session, row, wf, now, new, timer_rows))


def _sync_tasks(
    session: Session,
    row: Instance,
    wf: spiff.Instance,
    actor: Actor,
    now: datetime,
    new: bool,
    finished: str | None,
) -> list[TaskView]:
    ready = {t.id: t for t in wf.ready_user_tasks()}
    saved = wf.saved_waits
    if new:
        known: Collection[str] = ()
    elif saved is not None:  # the open rows are those of the saved waits: no need to read them
        known = saved.user_tasks
        _cancel_tasks(session, known - ready.keys() - {finished}, actor, now)
    else:
        known = _open_or_ready(session, row.id, ready)
        for task_id, task_row in known.items():
            if task_row.status == "open" and task_id not in ready:
                task_row.status = "cancelled"
                task_row.completed_at = now
                audit(session, now, actor.id, "task_cancelled", task=task_row)
    config: TaskAttributes = session.info.get(TaskAttributes.SESSION_KEY) or NO_ATTRIBUTES
    created = [
        _new_task(row, task, config, now) for task_id, task in ready.items() if task_id not in known
    ]
    if created:
        _insert_tasks(session, created)
    for values in created:
        audit(
            session,
            now,
            actor.id,
            "task_ready",
            instance=row,
            task_id=values["id"],
            element_id=values["element_id"],
        )
    return [_created_view(values) for values in created]


def _cancel_tasks(session: Session, task_ids: Collection[str], actor: Actor, now: datetime) -> None:
    """Close the rows of tasks the workflow no longer waits on, in one UPDATE that returns
    what their audit events name."""
    if not task_ids:
        return
    cancelled = session.connection().execute(
        _CANCEL_TASKS, {"task_ids": list(task_ids), "cancelled_at": now}
    )
    for task in sorted(cancelled, key=lambda t: (t.created_at, t.id)):
        audit(
            session,
            now,
            actor.id,
            "task_cancelled",
            instance_id=task.instance_id,
            business_key=task.business_key,
            task_id=task.id,
            element_id=task.element_id,
        )


def _open_or_ready(
    session: Session, instance_id: int, ready: Mapping[str, spiff.ReadyTask]
) -> dict[str, HumanTask]:
    """The instance's task rows a sync can change or must not add again: those still open and
    those of ready tasks; finished ones, however many, stay unread."""
    found = session.scalars(_OPEN_OR_READY, {"instance_id": instance_id, "ready": list(ready)})
    return {t.id: t for t in found}


def _new_task(
    row: Instance, task: spiff.ReadyTask, config: TaskAttributes, now: datetime
) -> dict[str, Any]:
    values = config.values(task.data)
    return {
        "id": task.id,
        "instance_id": row.id,
        "process_id": row.process_id,
        "business_key": row.business_key,
        "element_id": task.info.element_id,
        "name": task.info.name,
        "form_key": task.info.form_key,
        "candidate_groups": resolve_groups(task),
        "assignee": None,
        "status": "open",
        "created_at": now,
        "due_at": _due_at(task),
        "attributes": values,
        "search_text": config.search_text(row.business_key, values),
        "tags": config.tags(values),
    }


def _insert_tasks(session: Session, tasks: list[dict[str, Any]]) -> None:
    """New task rows with their group and attribute index rows: a multi-row insert per table,
    without the unit of work's bookkeeping for rows this transaction never touches again."""
    copied = ("status", "due_at", "created_at", "element_id", "process_id", "search_text", "tags")
    groups = [
        {"task_id": t["id"], "group": g, **{c: t[c] for c in copied}}
        for t in tasks
        for g in dict.fromkeys(t["candidate_groups"])
    ]
    attributes = [
        {"task_id": t["id"], "name": name, "value": value, "status": t["status"]}
        for t in tasks
        for name, value in t["attributes"].items()
    ]
    connection = session.connection()
    connection.execute(_INSERT_TASKS, tasks)
    for statement, rows in ((_INSERT_GROUPS, groups), (_INSERT_ATTRIBUTES, attributes)):
        if rows:
            connection.execute(statement, rows)


def _created_view(values: Mapping[str, Any]) -> TaskView:
    """The view of a row just inserted, from its values (what a new row leaves unset is
    None), without building an ORM object that would never be flushed."""
    return task_view(SimpleNamespace(**_UNSET_ON_NEW_TASKS, **values))


_UNSET_ON_NEW_TASKS = {
    "completed_at": None,
    "completed_by": None,
    "owner": None,
    "delegation": None,
}


NO_ATTRIBUTES = TaskAttributes({})

# The sync's statements, built once: they run on every step of every instance.
_TASKS = HumanTask.__table__
_TIMERS = Timer.__table__
_INSERT_TASKS = insert(_TASKS)
_INSERT_GROUPS = insert(HumanTaskGroup.__table__)
_INSERT_ATTRIBUTES = insert(HumanTaskAttribute.__table__)
_CANCEL_TASKS = (
    update(_TASKS)
    .where(_TASKS.c.id.in_(bindparam("task_ids", expanding=True)), _TASKS.c.status == "open")
    .values(status="cancelled", completed_at=bindparam("cancelled_at"))
    .returning(
        _TASKS.c.id,
        _TASKS.c.instance_id,
        _TASKS.c.business_key,
        _TASKS.c.element_id,
        _TASKS.c.created_at,
    )
)
_OPEN_OR_READY = select(HumanTask).where(
    HumanTask.instance_id == bindparam("instance_id"),
    or_(HumanTask.status == "open", HumanTask.id.in_(bindparam("ready", expanding=True))),
)
OPEN_TIMER_STATUSES = ("pending", "incident")  # rows a sync may still change
_OPEN_TIMERS = (
    select(Timer)
    .where(Timer.instance_id == bindparam("instance_id"), Timer.status.in_(OPEN_TIMER_STATUSES))
    .order_by(Timer.id)  # events of several timers in one step, in the same order everywhere
)


def resolve_groups(task: spiff.ReadyTask) -> list[str]:
    """Candidate groups may name task data, as `bureau:{region_code}` or `{co_unit}`, so one
    diagram serves every local bureau."""
    groups: list[str] = []
    for template in task.info.candidate_groups:
        try:
            value = _PLACEHOLDER.sub(lambda m: str(task.data[m.group(1)]), template)
        except KeyError as missing:
            raise WorkflowFailed(
                f"task '{task.info.element_id}': candidate group '{template}' needs "
                f"variable {missing} in the task data"
            ) from None
        groups.extend(g.strip() for g in value.split(",") if g.strip())
    return list(dict.fromkeys(groups))


def _due_at(task: spiff.ReadyTask) -> datetime | None:
    """The `dueDate` property names task data holding an ISO time, or a path into it
    (`routing_due.routing`)."""
    path = task.info.due_variable
    value: object = task.data
    for key in path.split(".") if path else ():
        value = value.get(key) if isinstance(value, dict) else None
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _sync_timers(
    session: Session,
    row: Instance,
    wf: spiff.Instance,
    now: datetime,
    new: bool,
    rows: list[Timer] | None,
) -> list[Timer]:
    waiting = {t.task_id: t for t in wf.waiting_timers()}
    saved = wf.saved_waits if rows is None else None
    if (
        not new
        and saved is not None
        and saved.timers == {(t, w.due_at) for t, w in waiting.items()}
    ):
        return []
    # An incident stays the admins' until retried or skipped, but it ends with its task.
    if new:
        rows = []
    elif rows is None:
        rows = list(session.scalars(_OPEN_TIMERS, {"instance_id": row.id}))
    pending = {t.task_id: t for t in rows}
    for task_id, timer in pending.items():
        if task_id in waiting:
            continue
        fired = timer.due_at <= now and wf.timer_completed(task_id)
        move_timer(
            session,
            timer,
            status="fired" if fired else "cancelled",
            fired_at=now if fired else None,
            claimed_by=None,
            claim_expires_at=None,
        )
        event = "timer_fired" if fired else "timer_cancelled"
        audit(
            session,
            now,
            "timer" if fired else "engine",
            event,
            instance=row,
            element_id=timer.element_id,
            detail={"due_at": timer.due_at.isoformat()},
        )
    created = []
    for task_id, waiting_timer in waiting.items():
        if task_id in pending:
            if pending[task_id].status == "pending":
                _follow_cycle(session, row, pending[task_id], waiting_timer.due_at, now)
            continue
        timer = Timer(
            instance_id=row.id,
            task_id=task_id,
            element_id=waiting_timer.element_id,
            due_at=waiting_timer.due_at,
            fire_at=waiting_timer.due_at,
            status="pending",
            attempts=0,
        )
        session.add(timer)
        created.append(timer)
        audit(
            session,
            now,
            "engine",
            "timer_scheduled",
            instance=row,
            element_id=waiting_timer.element_id,
            detail={"due_at": waiting_timer.due_at.isoformat()},
        )
    return created


def _follow_cycle(
    session: Session, row: Instance, timer: Timer, due_at: datetime, now: datetime
) -> None:
    """A cycle timer keeps its task and moves to its next due time after each firing."""
    if timer.due_at == due_at:
        return
    audit(
        session,
        now,
        "timer",
        "timer_fired",
        instance=row,
        element_id=timer.element_id,
        detail={"due_at": timer.due_at.isoformat(), "next_due_at": due_at.isoformat()},
    )
    move_timer(
        session,
        timer,
        due_at=due_at,
        fire_at=due_at,
        attempts=0,
        claimed_by=None,
        claim_expires_at=None,
    )


def move_timer(session: Session, timer: Timer, **values: Any) -> None:
    """Change a timer row by one UPDATE of its id, without the unit of work: `timer` then
    holds what was written, as a row just loaded would."""
    statement = _timer_update(tuple(values))
    session.connection().execute(
        statement, {"timer_id": timer.id, **{f"new_{k}": v for k, v in values.items()}}
    )
    written(timer, values)


@cache
def _timer_update(columns: tuple[str, ...]) -> Update:
    """Built once per set of columns: a sync moves timers on every firing."""
    return (
        update(_TIMERS)
        .where(_TIMERS.c.id == bindparam("timer_id"))
        .values({c: bindparam(f"new_{c}") for c in columns})
    )


def task_view(row: HumanTask | SimpleNamespace) -> TaskView:
    return TaskView(
        id=row.id,
        instance_id=row.instance_id,
        process_id=row.process_id,
        business_key=row.business_key,
        element_id=row.element_id,
        name=row.name,
        form_key=row.form_key,
        candidate_groups=list(row.candidate_groups),
        assignee=row.assignee,
        status=row.status,
        created_at=row.created_at,
        due_at=row.due_at,
        completed_at=row.completed_at,
        completed_by=row.completed_by,
        attributes=dict(row.attributes or {}),
        owner=row.owner,
        delegation=row.delegation,
    )


def timer_view(row: Timer) -> TimerView:
    return TimerView(
        id=row.id,
        instance_id=row.instance_id,
        element_id=row.element_id,
        due_at=row.due_at,
        status=row.status,
        attempts=row.attempts,
        last_error=row.last_error,
    )
