"""Appending to the audit trail. An operation's events are gathered as it runs and written in
one multi-row insert at commit, or before a query of the same transaction that reads the trail
(as autoflush would, so that query sees them); the queries of handlers, which read other
tables, cost no insert of their own. Rows go out in the order the events happened and are
never updated or deleted."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import event, insert
from sqlalchemy.orm import ORMExecuteState, Session, sessionmaker
from sqlalchemy.sql.util import find_tables

from .models import AuditEvent, HumanTask, Instance

PENDING = "engine.pending_audit"  # the events not yet written, in `Session.info`
_TRAIL = AuditEvent.__table__
_INSERT = insert(_TRAIL)  # built once: every operation writes the trail


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
    """Record one event of the current transaction."""
    if instance is not None:
        instance_id, business_key = instance.id, instance.business_key
    if task is not None:
        instance_id = instance_id or task.instance_id
        business_key = business_key or task.business_key
        task_id, element_id = task.id, task.element_id
    session.info.setdefault(PENDING, []).append(
        {
            "at": at,
            "actor": actor,
            "event": event,
            "instance_id": instance_id,
            "business_key": business_key,
            "task_id": task_id,
            "element_id": element_id,
            "data_before": data_before,
            "data_after": data_after,
            "reason": reason,
            "detail": detail,
        }
    )


def write_pending(session: Session) -> None:
    """Insert the gathered events, all in one statement."""
    rows = session.info.pop(PENDING, None)
    if rows:
        session.connection().execute(_INSERT, rows)


def keep_in_transaction(sessions: sessionmaker) -> None:
    """Have every session of `sessions` write its events with its transaction, and drop them
    when the transaction rolls back."""
    event.listen(sessions, "do_orm_execute", _before_query)
    event.listen(sessions, "before_commit", write_pending)
    event.listen(sessions, "after_soft_rollback", _forget)


def _before_query(state: ORMExecuteState) -> None:
    session = state.session
    if not session.info.get(PENDING) or not session.autoflush:  # `no_autoflush`: they wait
        return
    if _TRAIL in find_tables(state.statement, include_joins=True, include_aliases=True):
        write_pending(session)


def _forget(session: Session, _previous: Any) -> None:
    session.info.pop(PENDING, None)
