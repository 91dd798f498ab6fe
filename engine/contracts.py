"""The shapes the engine exchanges with its callers and with the code injected into it
(handlers and form validators), kept free of SpiffWorkflow, SQLAlchemy rows and Flask."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol


@dataclass(frozen=True)
class Actor:
    """Who acts. `system` actors (timers, the engine itself) are not bound to task groups."""

    id: str
    groups: frozenset[str] = frozenset()
    admin: bool = False
    system: bool = False

    @classmethod
    def system_actor(cls, name: str = "system") -> Actor:
        return cls(id=name, system=True)

    def may_work_on(self, candidate_groups: list[str], assignee: str | None) -> bool:
        if self.system or self.admin:
            return True
        if assignee is not None:
            return assignee == self.id
        return bool(self.groups.intersection(candidate_groups))


@dataclass(frozen=True)
class HandlerContext:
    """What a service-task handler may use. `idempotency_key` is stable for the task, so a retried
    step can recognise work it already did; `session` is the operation's own transaction."""

    idempotency_key: str
    instance_id: int
    process_id: str
    business_key: str | None
    element_id: str
    data: Mapping[str, Any]
    now: datetime
    session: Any


Handler = Callable[[dict[str, Any], HandlerContext], Any]


class FormValidator(Protocol):
    def validate(self, data: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, list[str]]]:
        """Return (clean data, errors by field)."""
        ...


FormCompiler = Callable[[str, bytes], FormValidator]
"""(form key, file content) -> validator; raises ValueError naming the fault for a bad file."""


@dataclass(frozen=True)
class DeploymentInfo:
    id: int
    version: int
    content_hash: str
    process_ids: list[str]
    created_at: datetime
    created_by: str
    files: list[str]
    created: bool


@dataclass(frozen=True)
class TaskView:
    id: str
    instance_id: int
    process_id: str
    business_key: str | None
    element_id: str
    name: str
    form_key: str | None
    candidate_groups: list[str]
    assignee: str | None
    status: str
    created_at: datetime
    due_at: datetime | None
    completed_at: datetime | None
    completed_by: str | None
    # The configured task attributes copied from task data when the task became ready.
    attributes: dict[str, str] = field(default_factory=dict)
    # Delegation as Camunda has it: `owner` handed the task to `assignee` ("pending") and gets
    # it back with the delegate's values ("resolved") to complete it.
    owner: str | None = None
    delegation: str | None = None


@dataclass(frozen=True)
class TimerView:
    id: int
    instance_id: int
    element_id: str
    due_at: datetime
    status: str
    attempts: int
    last_error: str | None


@dataclass(frozen=True)
class InstanceView:
    id: int
    process_id: str
    deployment_version: int
    business_key: str | None
    status: str
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    data: dict[str, Any]
    tasks: list[TaskView] = field(default_factory=list)
    timers: list[TimerView] = field(default_factory=list)
    completed_elements: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class AuditView:
    id: int
    at: datetime
    actor: str
    event: str
    instance_id: int | None
    business_key: str | None
    task_id: str | None
    element_id: str | None
    data_before: dict[str, Any] | None
    data_after: dict[str, Any] | None
    reason: str | None
    detail: dict[str, Any] | None
