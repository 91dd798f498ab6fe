"""Keeping the query tables in step with each saved workflow: user tasks, timers and the audit
trail. Lists are then answered from these rows alone."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from . import spiff
from .contracts import Actor, TaskView, TimerView
from .errors import WorkflowFailed
from .models import AuditEvent, HumanTask, HumanTaskGroup, Instance, Timer

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


def audit(
    session: Session,
    at: datetime,
    actor: str,
    event: str,
    *,
    instance: Instance | None = None,
    instance_id: int | None = None,
    business_key: str | None = None,
    task: HumanTask | None = None,
    task_id: str | None = None,
    element_id: str | None = None,
    data_before: dict[str, Any] | None = None,
    data_after: dict[str, Any] | None = None,
    reason: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one audit row; rows are never updated or deleted."""
    if instance is not None:
        instance_id, business_key = instance.id, instance.business_key
    if task is not None:
        instance_id = instance_id or task.instance_id
        business_key = business_key or task.business_key
        task_id, element_id = task.id, task.element_id
    session.add(
        AuditEvent(
            at=at,
            actor=actor,
            event=event,
            instance_id=instance_id,
            business_key=business_key,
            task_id=task_id,
            element_id=element_id,
            data_before=data_before,
            data_after=data_after,
            reason=reason,
            detail=detail,
        )
    )


def sync_read_models(
    session: Session, row: Instance, wf: spiff.Instance, actor: Actor, now: datetime
) -> None:
    _sync_tasks(session, row, wf, actor, now)
    _sync_timers(session, row, wf, now)


def _sync_tasks(
    session: Session, row: Instance, wf: spiff.Instance, actor: Actor, now: datetime
) -> None:
    known = {
        t.id: t for t in session.scalars(select(HumanTask).where(HumanTask.instance_id == row.id))
    }
    ready = {t.id: t for t in wf.ready_user_tasks()}
    for task_id, task_row in known.items():
        if task_row.status == "open" and task_id not in ready:
            task_row.status = "cancelled"
            task_row.completed_at = now
            audit(session, now, actor.id, "task_cancelled", task=task_row)
    for task_id, task in ready.items():
        if task_id in known:
            continue
        task_row = HumanTask(
            id=task_id,
            instance_id=row.id,
            process_id=row.process_id,
            business_key=row.business_key,
            element_id=task.info.element_id,
            name=task.info.name,
            form_key=task.info.form_key,
            candidate_groups=resolve_groups(task),
            assignee=None,
            status="open",
            created_at=now,
            due_at=_due_at(task),
        )
        session.add(task_row)
        session.add_all(
            HumanTaskGroup(task_id=task_id, group=g) for g in set(task_row.candidate_groups)
        )
        audit(session, now, actor.id, "task_ready", task=task_row)


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


def _sync_timers(session: Session, row: Instance, wf: spiff.Instance, now: datetime) -> None:
    pending = {
        t.task_id: t
        for t in session.scalars(
            select(Timer).where(Timer.instance_id == row.id, Timer.status == "pending")
        )
    }
    waiting = {t.task_id: t for t in wf.waiting_timers()}
    for task_id, timer in pending.items():
        if task_id in waiting:
            continue
        fired = timer.due_at <= now and wf.timer_completed(task_id)
        timer.status = "fired" if fired else "cancelled"
        timer.fired_at = now if fired else None
        timer.claimed_by = None
        timer.claim_expires_at = None
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
    for task_id, waiting_timer in waiting.items():
        if task_id in pending:
            _follow_cycle(session, row, pending[task_id], waiting_timer.due_at, now)
            continue
        session.add(
            Timer(
                instance_id=row.id,
                task_id=task_id,
                element_id=waiting_timer.element_id,
                due_at=waiting_timer.due_at,
                fire_at=waiting_timer.due_at,
                status="pending",
                attempts=0,
            )
        )
        audit(
            session,
            now,
            "engine",
            "timer_scheduled",
            instance=row,
            element_id=waiting_timer.element_id,
            detail={"due_at": waiting_timer.due_at.isoformat()},
        )


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
    timer.due_at = timer.fire_at = due_at
    timer.attempts = 0
    timer.claimed_by = None
    timer.claim_expires_at = None


def task_query(
    *,
    actor: Actor | None,
    mine: bool,
    groups: list[str] | None,
    status: str | None,
    process_id: str | None,
    business_key: str | None,
    instance_id: int | None,
    overdue_at: datetime | None,
) -> Select:
    query = select(HumanTask)
    if status:
        query = query.where(HumanTask.status == status)
    if process_id:
        query = query.where(HumanTask.process_id == process_id)
    if business_key:
        query = query.where(HumanTask.business_key == business_key)
    if instance_id is not None:
        query = query.where(HumanTask.instance_id == instance_id)
    if overdue_at is not None:
        query = query.where(HumanTask.due_at < overdue_at)
    if mine and actor is not None:
        query = query.where(HumanTask.assignee == actor.id)
    wanted = set(groups or [])
    if actor is not None and not (actor.admin or actor.system):
        wanted = wanted & actor.groups if groups else set(actor.groups)
        in_groups = HumanTask.id.in_(
            select(HumanTaskGroup.task_id).where(HumanTaskGroup.group.in_(wanted))
        )
        query = query.where(or_(in_groups, HumanTask.assignee == actor.id))
    elif groups:
        query = query.where(
            HumanTask.id.in_(select(HumanTaskGroup.task_id).where(HumanTaskGroup.group.in_(wanted)))
        )
    return query


def task_view(row: HumanTask) -> TaskView:
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
