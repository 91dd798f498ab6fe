"""Tables of the engine: deployments, instance state, and the read models (tasks, timers, audit)
that every query uses so that no list ever has to deserialize a workflow."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.orm.attributes import set_committed_value

JsonType = JSON().with_variant(JSONB(), "postgresql")


class UtcDateTime(TypeDecorator):
    """Aware UTC datetimes on every backend (SQLite would hand back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the database")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


# SQLite only auto-increments INTEGER PRIMARY KEY; PostgreSQL gets a 64-bit key for audit volume.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    pass


def written(row: Base, values: Mapping[str, Any]) -> None:
    """Values an UPDATE statement just wrote, set on the row as if loaded: the unit of work
    then has nothing to write again."""
    for name, value in values.items():
        set_committed_value(row, name, value)


# `deployments.version` is a 32-bit INTEGER: no larger version can exist, and PostgreSQL refuses
# to bind one.
LARGEST_VERSION = 2**31 - 1


class Deployment(Base):
    """A validated bundle; instances keep running on the version they started with."""

    __tablename__ = "deployments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    version: Mapped[int] = mapped_column(Integer, unique=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    created_by: Mapped[str] = mapped_column(String(200))
    process_ids: Mapped[list[str]] = mapped_column(JsonType)
    specs_json: Mapped[str] = mapped_column(Text)


class DeploymentFile(Base):
    __tablename__ = "deployment_files"
    __table_args__ = (UniqueConstraint("deployment_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"), index=True)
    name: Mapped[str] = mapped_column(String(300))
    kind: Mapped[str] = mapped_column(String(10))
    content: Mapped[bytes] = mapped_column(LargeBinary)


class Instance(Base):
    """Workflow state without its spec; `version` is the optimistic lock."""

    __tablename__ = "instances"
    __table_args__ = (Index("ix_instances_status_process", "status", "process_id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"), index=True)
    process_id: Mapped[str] = mapped_column(String(200))
    business_key: Mapped[str | None] = mapped_column(String(200), index=True)
    status: Mapped[str] = mapped_column(String(20))
    state: Mapped[dict[str, Any]] = mapped_column(JsonType)
    version: Mapped[int] = mapped_column(Integer)
    started_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    updated_at: Mapped[datetime] = mapped_column(UtcDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())

    __mapper_args__ = {"version_id_col": version}


class HumanTask(Base):
    """Read model of user tasks: the task list is served from here alone."""

    __tablename__ = "human_tasks"
    __table_args__ = (
        # The task list's index when no group narrows it (administrators): entries in list
        # order, due date first and tasks without one last (ASC NULLS LAST, which PostgreSQL's
        # ascending index gives and SQLite walks in two passes), carrying what the filters test,
        # so that pages stop early and counts read no task row (migrations 0008, 0009).
        Index(
            "ix_human_tasks_list",
            "status",
            "due_at",
            "created_at",
            "id",
            "element_id",
            "process_id",
            "search_text",
            "tags",
        ),
        # Counts of all open tasks (with a due range, element or process) read this narrow
        # index, not the list index; status leads so SQLite prefers it (migration 0012, which
        # also indexes the open tasks' search text: trigrams on PostgreSQL, FTS5 on SQLite).
        Index(
            "ix_human_tasks_open",
            "status",
            "due_at",
            "element_id",
            "process_id",
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
        # Also in list order, so a clerk's own tasks merge into the group's range in order.
        Index("ix_human_tasks_assignee_status", "assignee", "status", "due_at", "created_at", "id"),
        Index("ix_human_tasks_business_key", "business_key"),
    )

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id"), index=True)
    process_id: Mapped[str] = mapped_column(String(200))
    business_key: Mapped[str | None] = mapped_column(String(200))
    element_id: Mapped[str] = mapped_column(String(200))
    name: Mapped[str] = mapped_column(String(300))
    form_key: Mapped[str | None] = mapped_column(String(200))
    candidate_groups: Mapped[list[str]] = mapped_column(JsonType)
    assignee: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime())
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    completed_by: Mapped[str | None] = mapped_column(String(200))
    # Delegation (migration 0010): the owner who handed the task on, and "pending" until the
    # delegate resolves it, then "resolved" (the owner completes it).
    owner: Mapped[str | None] = mapped_column(String(200))
    delegation: Mapped[str | None] = mapped_column(String(20))
    # Values copied from the task data when the task became ready (the engine's configured
    # `task_attributes`), for showing in lists; filters use `HumanTaskAttribute` rows.
    attributes: Mapped[dict[str, str] | None] = mapped_column(JsonType)
    # Business key and the searchable attribute values, case-folded, one per line: free-text
    # search is one LIKE over one column (trigram-indexed on PostgreSQL, migration 0008).
    search_text: Mapped[str | None] = mapped_column(Text)
    # The short attribute values as `\x1fname=value\x1f...`: an exact filter is a substring
    # test on the list index's entries (engine.readmodels.TaskAttributes.tags, migration 0009).
    # NULL on tasks that were not open when 0009 ran: filters read their attribute rows.
    tags: Mapped[str | None] = mapped_column(Text)


class HumanTaskGroup(Base):
    """One row per candidate group so "my groups' tasks" is an indexed join, not a JSON scan.

    It is also the task list's index: a clerk's list is a range of (group, status) read in due
    order, with the list's filters on copied columns of the same index, so neither the page nor
    its count reads the task rows they pass over (migrations 0008, 0009)."""

    __tablename__ = "human_task_groups"
    __table_args__ = (
        Index(
            "ix_human_task_groups_list",
            "group",
            "status",
            "due_at",
            "created_at",
            "task_id",
            "element_id",
            "process_id",
            "search_text",
            "tags",
        ),
    )

    task_id: Mapped[str] = mapped_column(ForeignKey("human_tasks.id"), primary_key=True)
    group: Mapped[str] = mapped_column(String(200), primary_key=True)
    # Copies of the task's columns. `status` follows the task by a trigger on human_tasks; the
    # others never change after the task is created.
    status: Mapped[str] = mapped_column(String(20), default="open", server_default="open")
    due_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    created_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    element_id: Mapped[str | None] = mapped_column(String(200))
    process_id: Mapped[str | None] = mapped_column(String(200))
    search_text: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[str | None] = mapped_column(Text)


class HumanTaskAttribute(Base):
    """One row per copied attribute value, so filters by region, channel and the like are
    indexed look-ups of (name, value, status) giving task ids."""

    __tablename__ = "human_task_attributes"
    __table_args__ = (
        Index("ix_human_task_attributes_name_value", "name", "value", "status", "task_id"),
    )

    task_id: Mapped[str] = mapped_column(ForeignKey("human_tasks.id"), primary_key=True)
    name: Mapped[str] = mapped_column(String(100), primary_key=True)
    value: Mapped[str] = mapped_column(String(300))
    # The task's status, kept equal by a trigger on human_tasks (migration 0008).
    status: Mapped[str] = mapped_column(String(20), default="open", server_default="open")


class Timer(Base):
    """The truth about pending timers: workers claim rows here, never from memory."""

    __tablename__ = "timers"
    __table_args__ = (
        Index("ix_timers_status_fire_at", "status", "fire_at"),
        UniqueConstraint("instance_id", "task_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    instance_id: Mapped[int] = mapped_column(ForeignKey("instances.id"), index=True)
    task_id: Mapped[str] = mapped_column(String(36))
    element_id: Mapped[str] = mapped_column(String(200))
    due_at: Mapped[datetime] = mapped_column(UtcDateTime())
    fire_at: Mapped[datetime] = mapped_column(UtcDateTime())
    status: Mapped[str] = mapped_column(String(20))
    claimed_by: Mapped[str | None] = mapped_column(String(200))
    claim_expires_at: Mapped[datetime | None] = mapped_column(UtcDateTime())
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    fired_at: Mapped[datetime | None] = mapped_column(UtcDateTime())


class AuditEvent(Base):
    """Append-only: who did what, when, to which instance, with which data."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_instance_id", "instance_id", "id"),
        Index("ix_audit_at", "at"),
        Index("ix_audit_actor_at", "actor", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[datetime] = mapped_column(UtcDateTime())
    actor: Mapped[str] = mapped_column(String(200))
    event: Mapped[str] = mapped_column(String(50))
    instance_id: Mapped[int | None] = mapped_column(BigInteger)
    business_key: Mapped[str | None] = mapped_column(String(200))
    task_id: Mapped[str | None] = mapped_column(String(36))
    element_id: Mapped[str | None] = mapped_column(String(200))
    data_before: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    data_after: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    reason: Mapped[str | None] = mapped_column(Text)
    detail: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
