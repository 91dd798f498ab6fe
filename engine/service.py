"""`Engine`: the public operations of the workflow service. Instances, tasks and messages are
here; deployments (`deployments.py`), timers and incidents (`timer_work.py`) and migrations
(`migration.py`) are mixed in. Each call is one database transaction; on any failure it rolls
back and the instance stays exactly as it was (a failed SpiffWorkflow step is never saved)."""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine as SqlEngine
from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, defer, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from . import audit_query, db, spiff
from .audit_trail import audit, keep_in_transaction
from .clock import Clock, SystemClock
from .contracts import (
    Actor,
    AuditView,
    FormCompiler,
    FormValidator,
    Handler,
    HandlerContext,
    InstanceView,
    TaskView,
)
from .deployments import NEWEST_DEPLOYMENT, Deployments
from .errors import (
    Conflict,
    EngineError,
    Forbidden,
    InvalidData,
    NotFound,
    StartOver,
    lost_a_race,
)
from .migration import InstanceMigration
from .models import AuditEvent, Deployment, HumanTask, Instance, Timer, written
from .readmodels import Created, sync_read_models, task_view, timer_view
from .timer_work import TimerWork
from .workflow_cache import WorkflowCache

log = logging.getLogger(__name__)

# The stored state, the largest column by far, is read only if the workflow is not in memory
# (the web process that shows a task usually stepped its instance last).
_TASK_WITH_INSTANCE = (
    select(HumanTask, Instance)
    .join(Instance, Instance.id == HumanTask.instance_id)
    .where(HumanTask.id == bindparam("task_id"))
    .options(defer(Instance.state))
)
_INSTANCES = Instance.__table__
_NEW_INSTANCE = [c.name for c in _INSTANCES.columns if c.name != "id"]
_INSERT_INSTANCE = insert(_INSTANCES).returning(
    _INSTANCES.c.id, NEWEST_DEPLOYMENT.scalar_subquery().label("newest")
)
_COMPLETE_TASK = (
    update(HumanTask.__table__)
    .where(HumanTask.__table__.c.id == bindparam("task_id"))
    .where(HumanTask.__table__.c.status == "open")
)
_SAVE_INSTANCE = (
    update(_INSTANCES)
    .where(_INSTANCES.c.id == bindparam("instance_id"))
    .where(_INSTANCES.c.version == bindparam("expected"))
    .values(version=_INSTANCES.c.version + 1)
)

START_ATTEMPTS = 3
CLAIM_TTL = timedelta(seconds=60)
WORKFLOW_CACHE = 256
MAX_TIMER_ATTEMPTS = 5


class Engine(Deployments, TimerWork, InstanceMigration):
    """The workflow service. Handlers and the form compiler are injected so the engine runs the
    same under the web app, the timer worker, the CLI and the tests."""

    def __init__(
        self,
        database: str | SqlEngine,
        *,
        handlers: Mapping[str, Handler] | None = None,
        compile_form: FormCompiler | None = None,
        clock: Clock | None = None,
        worker_id: str | None = None,
        claim_ttl: timedelta = CLAIM_TTL,
        max_timer_attempts: int = MAX_TIMER_ATTEMPTS,
        task_attributes: Mapping[str, str] | None = None,
        task_search: tuple[str, ...] = (),
        workflow_cache: int = WORKFLOW_CACHE,
    ) -> None:
        """`task_attributes` (name -> dotted path into task data) are copied onto each new task
        for lists and filters; `task_search` names those that free-text search also reads.
        `workflow_cache`: how many instances' workflows stay in memory between steps."""
        from .readmodels import TaskAttributes

        self.sql = db.connect(database) if isinstance(database, str) else database
        self.task_attributes = TaskAttributes.of(task_attributes, task_search)
        # The read-model sync finds the attribute configuration on its session.
        self._sessions = sessionmaker(
            self.sql,
            expire_on_commit=False,
            info={TaskAttributes.SESSION_KEY: self.task_attributes},
        )
        keep_in_transaction(self._sessions)
        self.handlers: dict[str, Handler] = dict(handlers or {})
        self._compile_form = compile_form
        self.clock = clock or SystemClock()
        self.worker_id = worker_id or f"{socket.gethostname()}:{os.getpid()}"
        self.claim_ttl = claim_ttl
        self.max_timer_attempts = max_timer_attempts
        self._specs: dict[int, dict[str, spiff.ProcessSpecs]] = {}
        self._forms: dict[tuple[int, str], FormValidator] = {}
        self._versions: dict[int, int] = {}
        self._workflows = WorkflowCache(workflow_cache)
        self._lock = threading.Lock()
        self._newest_deployment: int | None = None
        self._latest: dict[str, int] = {}

    def create_schema(self) -> None:
        db.upgrade(self.sql)

    def close(self) -> None:
        self.sql.dispose()

    # ------------------------------------------------------------ transactions

    @contextmanager
    def _transaction(self) -> Iterator[Session]:
        session = self._sessions()
        try:
            yield session
            session.commit()
            self._workflows.keep_committed(session)
        except StaleDataError as err:
            session.rollback()
            raise Conflict("the instance was changed by someone else meanwhile; reload") from err
        except DBAPIError as err:
            session.rollback()
            if lost_a_race(err):
                raise Conflict("another operation changed the same rows meanwhile; reload") from err
            raise
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def _record_failure(self, actor: Actor, event: str, error: Exception, **where: Any) -> None:
        """Errors are audited in a transaction of their own, after the failed one rolled back."""
        with self._transaction() as session:
            audit(session, self.clock.now(), actor.id, event, detail={"error": str(error)}, **where)

    # ------------------------------------------------------------ instances

    def start(
        self,
        process_id: str,
        data: Mapping[str, Any],
        business_key: str | None,
        actor: Actor,
        *,
        within: Callable[[Session], None] | None = None,
    ) -> InstanceView:
        """`within` writes the caller's own rows in the start's transaction, once the instance
        is saved: they commit with it or not at all, and cost no transaction of their own."""
        if not isinstance(data, Mapping):
            raise InvalidData("start data must be an object", {"data": ["must be an object"]})
        with self._failures_audited(actor, "start_failed", {"business_key": business_key}):
            for attempt in range(1, START_ATTEMPTS + 1):
                try:
                    with self._transaction() as session:
                        view = self._start(session, process_id, data, business_key, actor)
                        if within is not None:
                            within(session)
                        return view
                except StartOver:
                    log.info("deployments changed while starting %s (%d)", process_id, attempt)
            raise Conflict("new versions kept being deployed while starting; try again")

    def _start(
        self,
        session: Session,
        process_id: str,
        data: Mapping[str, Any],
        business_key: str | None,
        actor: Actor,
    ) -> InstanceView:
        deployment_id, newest = self._latest_deployment(session, process_id)
        specs = self._process_specs(session, deployment_id)[process_id]
        now = self.clock.now()
        # Written as SQL, by `_store_new`; the object only carries the values.
        row = Instance(
            deployment_id=deployment_id,
            process_id=process_id,
            business_key=business_key,
            status="running",
            state={},
            version=1,
            started_by=actor.id,
            created_at=now,
            updated_at=now,
            completed_at=None,
        )
        started = dict(data)

        def store() -> None:
            self._store_new(session, row, newest, started)

        wf = spiff.Instance.start(specs, data, self._service_call(session, row, before=store))
        created = self._save(session, row, wf, actor, store_new=store)
        self._workflows.lend(session, row, wf)
        return self._instance_view(session, row, wf, created)

    def _store_new(
        self, session: Session, row: Instance, newest: int | None, data: dict[str, Any]
    ) -> None:
        """Insert a started instance's row, once: before its first handler is called (which
        needs its id), else with its first saved state. The statement also reads the newest
        deployment's id: if a deployment came since the start chose its version and changed
        this process's newest, the start is rolled back, before any handler ran, and runs
        again."""
        if row.id is not None:
            return
        values = {name: getattr(row, name) for name in _NEW_INSTANCE}
        inserted = session.connection().execute(_INSERT_INSTANCE, values).one()
        if inserted.newest != newest:
            latest = self._deployments_as_of(session, inserted.newest)
            if latest.get(row.process_id) != row.deployment_id:
                raise StartOver
        written(row, {"id": inserted.id})
        audit(
            session,
            row.created_at,
            row.started_by,
            "instance_started",
            instance=row,
            data_after=data,
        )

    def instance(self, instance_id: int) -> InstanceView:
        with self._transaction() as session:
            row = self._instance_row(session, instance_id)
            wf = self._restore(session, row)
            return self._instance_view(session, row, wf)

    def instances(
        self,
        *,
        process_id: str | None = None,
        business_key: str | None = None,
        status: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        query = select(Instance).order_by(Instance.id.desc()).limit(limit).offset(offset)
        if process_id:
            query = query.where(Instance.process_id == process_id)
        if business_key:
            query = query.where(Instance.business_key == business_key)
        if status:
            query = query.where(Instance.status == status)
        with self._transaction() as session:
            return [
                {
                    "id": r.id,
                    "process_id": r.process_id,
                    "business_key": r.business_key,
                    "status": r.status,
                    "created_at": r.created_at,
                    "updated_at": r.updated_at,
                    "completed_at": r.completed_at,
                }
                for r in session.scalars(query)
            ]

    def history(self, instance_id: int) -> list[AuditView]:
        with self._transaction() as session:
            self._instance_row(session, instance_id)
            rows = session.scalars(
                select(AuditEvent)
                .where(AuditEvent.instance_id == instance_id)
                .order_by(AuditEvent.id)
            )
            return [_audit_view(r) for r in rows]

    def _instance_row(self, session: Session, instance_id: int) -> Instance:
        row = session.get(Instance, instance_id)
        if row is None:
            raise NotFound(f"instance {instance_id} not found")
        return row

    def _restore(self, session: Session, row: Instance) -> spiff.Instance:
        """The workflow as `row` stores it: kept in memory since its last step here, else
        restored from the stored state."""
        call = self._service_call(session, row)
        wf = self._workflows.take(row)
        if wf is None:
            specs = self._process_specs(session, row.deployment_id)[row.process_id]
            wf = spiff.Instance.restore(row.state, specs, call)
        else:
            wf.attach(call)
        self._workflows.lend(session, row, wf)
        return wf

    def _save(
        self,
        session: Session,
        row: Instance,
        wf: spiff.Instance,
        actor: Actor,
        *,
        store_new: Callable[[], None] | None = None,
        finished: str | None = None,
        timer_rows: list[Timer] | None = None,
    ) -> Created:
        """`store_new`: the instance started in this operation and is stored by this call
        (unless a handler needed it stored before). `finished` and `timer_rows`: see
        `sync_read_models`."""
        now = self.clock.now()
        values = {
            "deployment_id": row.deployment_id,
            "state": wf.dump(),
            "updated_at": now,
            "status": row.status,
            "completed_at": row.completed_at,
        }
        finishing = wf.completed and row.status != "completed"
        if finishing:
            values.update(status="completed", completed_at=now)
        inserted = store_new is not None and row.id is None
        if inserted:
            written(row, values)
            store_new()
        if finishing:
            audit(session, now, actor.id, "instance_completed", instance=row)
        new = store_new is not None
        with session.no_autoflush:  # one flush, so inserts of a table go out as one batch
            created = sync_read_models(
                session,
                row,
                wf,
                actor,
                now,
                new=new,
                finished=finished,
                timer_rows=timer_rows,
            )
        session.flush()
        if not inserted:
            # One UPDATE that checks and moves the optimistic version, without the unit of
            # work: `row` then holds what was written, as a row just loaded would.
            saved = session.connection().execute(
                _SAVE_INSTANCE, {"instance_id": row.id, "expected": row.version, **values}
            )
            if saved.rowcount != 1:
                raise Conflict("the instance was changed by someone else meanwhile; reload")
            written(row, {**values, "version": row.version + 1})
        wf.mark_saved()
        return created

    def _instance_view(
        self,
        session: Session,
        row: Instance,
        wf: spiff.Instance,
        created: Created | None = None,
    ) -> InstanceView:
        """`created`: the instance is new, and these are all its task and timer rows."""
        if created is None:
            tasks = [
                task_view(t)
                for t in session.scalars(
                    select(HumanTask)
                    .where(HumanTask.instance_id == row.id)
                    .order_by(HumanTask.created_at)
                )
            ]
            timers = list(
                session.scalars(
                    select(Timer).where(Timer.instance_id == row.id).order_by(Timer.due_at)
                )
            )
        else:
            tasks, timers = created.tasks, sorted(created.timers, key=lambda t: t.due_at)
        version = self._versions.get(row.deployment_id)
        if version is None:  # a deployment's version never changes: read it once
            version = self._versions[row.deployment_id] = session.scalar(
                select(Deployment.version).where(Deployment.id == row.deployment_id)
            )
        return InstanceView(
            id=row.id,
            process_id=row.process_id,
            deployment_version=version,
            business_key=row.business_key,
            status=row.status,
            created_at=row.created_at,
            updated_at=row.updated_at,
            completed_at=row.completed_at,
            data=wf.latest_data(),
            tasks=tasks,
            timers=[timer_view(t) for t in timers],
            completed_elements=wf.completed_elements(),
        )

    def _service_call(
        self, session: Session, row: Instance, before: Callable[[], None] | None = None
    ) -> spiff.ServiceCall:
        """Handlers are called with the operation's transaction; `before` runs first."""

        def call(operation: str, element: str, params: dict[str, Any], task: Any) -> Any:
            if before is not None:
                before()
            handler = self.handlers[operation]
            context = HandlerContext(
                idempotency_key=f"{row.id}:{task.id}",
                instance_id=row.id,
                process_id=row.process_id,
                business_key=row.business_key,
                element_id=element,
                data=task.data,
                now=self.clock.now(),
                session=session,
            )
            return handler(params, context)

        return call

    @contextmanager
    def _failures_audited(self, actor: Actor, event: str, where: dict[str, Any]) -> Iterator[None]:
        """Failures of the process itself are audited; refusals of bad requests are not noise.
        `where` may be filled in while the operation runs (the instance is known only then)."""
        try:
            yield
        except (NotFound, Forbidden, InvalidData, Conflict):
            raise
        except EngineError as err:
            self._record_failure(actor, event, err, **where)
            raise

    # ------------------------------------------------------------ tasks

    def tasks(
        self,
        *,
        actor: Actor | None = None,
        mine: bool = False,
        groups: list[str] | None = None,
        status: str | None = "open",
        process_id: str | None = None,
        business_key: str | None = None,
        instance_id: int | None = None,
        overdue: bool = False,
        element_id: str | None = None,
        attributes: Mapping[str, str] | None = None,
        due_before: datetime | None = None,
        due_after: datetime | None = None,
        q: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[TaskView]:
        """Served from the read model alone, never by loading workflows, by due date (tasks
        without one last). `attributes` are exact matches on the configured task attributes;
        `q` is a case-insensitive substring of the business key or a searchable attribute."""
        from .task_query import TaskFilter, task_page, text_search

        where = TaskFilter(
            actor=actor,
            mine=mine,
            groups=groups,
            status=status,
            process_id=process_id,
            business_key=business_key,
            instance_id=instance_id,
            overdue_at=self.clock.now() if overdue else None,
            element_id=element_id,
            attributes=attributes,
            due_before=due_before,
            due_after=due_after,
            q=q,
        )
        with self._transaction() as session:
            page = task_page(where, limit, offset, text_search(session, where))
            return [task_view(r) for r in session.scalars(page)]

    def count_tasks(
        self,
        *,
        actor: Actor | None = None,
        mine: bool = False,
        groups: list[str] | None = None,
        status: str | None = "open",
        process_id: str | None = None,
        business_key: str | None = None,
        instance_id: int | None = None,
        overdue: bool = False,
        element_id: str | None = None,
        attributes: Mapping[str, str] | None = None,
        due_before: datetime | None = None,
        due_after: datetime | None = None,
        q: str | None = None,
    ) -> int:
        """How many tasks `tasks` lists with the same filters over all its pages."""
        from .task_query import TaskFilter, task_count, text_search

        where = TaskFilter(
            actor=actor,
            mine=mine,
            groups=groups,
            status=status,
            process_id=process_id,
            business_key=business_key,
            instance_id=instance_id,
            overdue_at=self.clock.now() if overdue else None,
            element_id=element_id,
            attributes=attributes,
            due_before=due_before,
            due_after=due_after,
            q=q,
        )
        with self._transaction() as session:
            return session.scalar(task_count(where, text_search(session, where)))

    def task(self, task_id: str, actor: Actor | None = None) -> TaskView:
        with self._transaction() as session:
            row = self._task_row(session, task_id)
            if actor is not None and not _may_see(actor, row):
                raise Forbidden("this task belongs to other groups")
            return task_view(row)

    def task_data(self, task_id: str, actor: Actor) -> dict[str, Any]:
        """The data the task sees: the context a person needs beside the form."""
        with self._transaction() as session:
            row, instance = self._task_and_instance(session, task_id)
            if not _may_see(actor, row):
                raise Forbidden("this task belongs to other groups")
            return self._restore(session, instance).task_data(task_id)

    def record_access(self, actor: Actor, task_id: str, event: str) -> None:
        """Audit that `actor` was shown something confidential about the task's matter (e.g.
        `identity_viewed`): nothing in the process moves, but who saw it must be answerable.
        Whether the actor may see that thing is the caller's rule; the engine only refuses
        someone who may not see the task at all."""
        with self._transaction() as session:
            row = self._task_row(session, task_id)
            if not _may_see(actor, row):
                raise Forbidden("this task belongs to other groups")
            audit(session, self.clock.now(), actor.id, event, task=row)

    def claim(self, task_id: str, actor: Actor) -> TaskView:
        return self._assign(task_id, actor, new_assignee=actor.id, event="task_claimed")

    def unclaim(self, task_id: str, actor: Actor) -> TaskView:
        return self._assign(task_id, actor, new_assignee=None, event="task_unclaimed")

    def assign(self, task_id: str, assignee: str, actor: Actor, reason: str) -> TaskView:
        if not reason or not reason.strip():
            raise InvalidData("a reason is required", {"reason": ["required"]})
        return self._assign(task_id, actor, assignee, "task_assigned", reason.strip())

    def _assign(
        self,
        task_id: str,
        actor: Actor,
        new_assignee: str | None,
        event: str,
        reason: str | None = None,
    ) -> TaskView:
        with self._transaction() as session:
            row = self._task_row(session, task_id)
            _require_open(row)
            if not actor.may_work_on(row.candidate_groups, None):
                raise Forbidden("this task belongs to other groups")
            if event == "task_claimed" and row.assignee not in (None, actor.id):
                raise Conflict(f"task is already claimed by {row.assignee}")
            if event == "task_unclaimed" and row.assignee != actor.id and not actor.admin:
                raise Forbidden("only the assignee or an admin can unclaim")
            if row.delegation == "pending" and not actor.admin:
                raise Conflict(f"the task is delegated to {row.assignee} until resolved")
            before = {"assignee": row.assignee}
            # a claim, release or reassignment ends any delegation
            self._change_assignment(
                session, row, assignee=new_assignee, owner=None, delegation=None
            )
            audit(
                session,
                self.clock.now(),
                actor.id,
                event,
                task=row,
                data_before=before,
                data_after={"assignee": new_assignee},
                reason=reason,
            )
            return task_view(row)

    def delegate(self, task_id: str, delegate: str, actor: Actor, reason: str) -> TaskView:
        """The assignee hands the task to a colleague for their input and keeps it: the
        delegate resolves it (`resolve_task`) and it comes back to its owner to complete."""
        if not reason or not reason.strip():
            raise InvalidData("a reason is required", {"reason": ["required"]})
        if not delegate or delegate == actor.id:
            raise InvalidData("delegate to someone else", {"user": ["another user"]})
        with self._transaction() as session:
            row, instance = self._task_and_instance(session, task_id)
            _require_open(row)
            if row.delegation == "pending":
                raise Conflict(f"the task is already delegated to {row.assignee}")
            if row.assignee != actor.id:
                raise Forbidden("only the assignee can delegate a task: claim it first")
            before = _delegation_state(row)
            self._change_assignment(
                session, row, assignee=delegate, owner=actor.id, delegation="pending"
            )
            audit(
                session,
                self.clock.now(),
                actor.id,
                "task_delegated",
                task=row,
                data_before=before,
                data_after=_delegation_state(row),
                reason=reason.strip(),
            )
            return task_view(row)

    def resolve_task(self, task_id: str, data: Mapping[str, Any], actor: Actor) -> TaskView:
        """The delegate's answer: the values are checked against the form and kept on the
        task, which goes back to its owner, still open."""
        if not isinstance(data, Mapping):
            raise InvalidData("task data must be an object", {"data": ["must be an object"]})
        with self._transaction() as session:
            row, instance = self._task_and_instance(session, task_id)
            _require_open(row)
            if row.delegation != "pending" or row.assignee != actor.id:
                raise Forbidden("only the delegate of a delegated task can resolve it")
            clean = self._validated(session, instance, row, data)
            wf = self._restore(session, instance)
            before = {k: wf.task_value(task_id, k) for k in clean}
            wf.save_task_data(task_id, clean)
            self._save(session, instance, wf, actor)
            self._change_assignment(
                session, row, assignee=row.owner, owner=row.owner, delegation="resolved"
            )
            audit(
                session,
                self.clock.now(),
                actor.id,
                "task_resolved",
                task=row,
                data_before=before,
                data_after=clean,
            )
            return task_view(row)

    def _change_assignment(
        self, session: Session, row: HumanTask, *, assignee: str | None, **values: Any
    ) -> None:
        """Move the task on only if nobody moved it meanwhile (the optimistic check of claims)."""
        tasks = HumanTask.__table__
        result = session.connection().execute(
            update(tasks)
            .where(tasks.c.id == row.id, tasks.c.status == "open")
            .where(
                tasks.c.assignee.is_(None)
                if row.assignee is None
                else tasks.c.assignee == row.assignee
            )
            .values(assignee=assignee, **values)
        )
        if result.rowcount != 1:
            raise Conflict("task changed meanwhile; reload")
        written(row, {"assignee": assignee, **values})

    def _validated(
        self, session: Session, instance: Instance, row: HumanTask, data: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The data as the task's form compiles it, or InvalidData naming every field."""
        if not row.form_key:
            return dict(data)
        form = self._form(session, instance.deployment_id, row.form_key)
        if form is None:
            return dict(data)
        clean, errors = form.validate(data)
        if errors:
            raise InvalidData("the form has errors", errors)
        return clean

    def complete_task(self, task_id: str, data: Mapping[str, Any], actor: Actor) -> TaskView:
        if not isinstance(data, Mapping):
            raise InvalidData("task data must be an object", {"data": ["must be an object"]})
        where = {"task_id": task_id}
        with self._failures_audited(actor, "task_failed", where), self._transaction() as session:
            row, instance = self._task_and_instance(session, task_id)
            _require_open(row)
            if row.delegation == "pending":
                raise Forbidden(
                    f"the task is delegated: {row.assignee} resolves it for {row.owner}"
                )
            if not actor.may_work_on(row.candidate_groups, row.assignee):
                raise Forbidden("this task is not yours to complete")
            where["instance_id"] = instance.id
            clean = self._validated(session, instance, row, data)
            now = self.clock.now()
            done = {"status": "completed", "completed_by": actor.id, "completed_at": now}
            claimed = session.connection().execute(_COMPLETE_TASK, {"task_id": task_id, **done})
            if claimed.rowcount != 1:
                raise Conflict("the task was completed by someone else meanwhile")
            written(row, done)
            wf = self._restore(session, instance)
            before = {k: wf.task_value(task_id, k) for k in clean}
            audit(
                session,
                now,
                actor.id,
                "task_completed",
                task=row,
                data_before=before,
                data_after=clean,
            )
            wf.complete(task_id, clean)
            self._save(session, instance, wf, actor, finished=task_id)
            return task_view(row)

    def _task_and_instance(self, session: Session, task_id: str) -> tuple[HumanTask, Instance]:
        """Both rows in one round trip, for the operations that go on to the workflow."""
        found = session.execute(_TASK_WITH_INSTANCE, {"task_id": task_id}).one_or_none()
        if found is None:
            raise NotFound(f"task {task_id} not found")
        return found.HumanTask, found.Instance

    def _task_row(self, session: Session, task_id: str) -> HumanTask:
        row = session.get(HumanTask, task_id)
        if row is None:
            raise NotFound(f"task {task_id} not found")
        return row

    # ------------------------------------------------------------ messages

    def send_message(
        self, business_key: str, name: str, payload: Mapping[str, Any], actor: Actor
    ) -> InstanceView:
        """Deliver a message to the running instance of `business_key` that waits for it."""
        if not isinstance(payload, Mapping):
            raise InvalidData("payload must be an object", {"payload": ["must be an object"]})
        where = {"business_key": business_key}
        with (
            self._failures_audited(actor, "message_failed", where),
            self._transaction() as session,
        ):
            rows = session.scalars(
                select(Instance)
                .where(Instance.business_key == business_key, Instance.status == "running")
                .order_by(Instance.id)
            ).all()
            if not rows:
                raise NotFound(f"no running instance for '{business_key}'")
            for row in rows:
                wf = self._restore(session, row)
                if name in wf.waiting_messages():
                    audit(
                        session,
                        self.clock.now(),
                        actor.id,
                        "message_received",
                        instance=row,
                        data_after=dict(payload),
                        detail={"message": name},
                    )
                    wf.receive_message(name, payload)
                    self._save(session, row, wf, actor)
                    return self._instance_view(session, row, wf)
            raise Conflict(f"'{business_key}' is not waiting for message '{name}'")

    # ------------------------------------------------------------ audit queries

    def audit(
        self,
        filters: audit_query.AuditFilters | None = None,
        *,
        after_id: int | None = None,
        limit: int = 100,
        newest_first: bool = False,
    ) -> list[AuditView]:
        """One keyset page of the audit trail: rows past `after_id` in reading order."""
        query = audit_query.page_query(
            filters or audit_query.AuditFilters(), after_id, limit, newest_first
        )
        with self._transaction() as session:
            return [audit_query.audit_view(row) for row in session.scalars(query)]

    def audit_count(self, filters: audit_query.AuditFilters | None = None) -> int:
        query = audit_query.count_query(filters or audit_query.AuditFilters())
        with self._transaction() as session:
            return int(session.execute(query).one()[0] or 0)

    def audit_stream(
        self,
        filters: audit_query.AuditFilters | None = None,
        batch_size: int = audit_query.STREAM_BATCH,
    ) -> audit_query.AuditStream:
        """The matching rows for an export, oldest first, read in batches in one read-only
        transaction that the stream's end or `close()` ends. Its `count` comes first, from the
        same snapshot on PostgreSQL (repeatable read) and bounded by id everywhere."""
        session = self._sessions()
        if self.sql.dialect.name == "postgresql":
            session.connection(execution_options={"isolation_level": "REPEATABLE READ"})
        return audit_query.AuditStream(session, filters or audit_query.AuditFilters(), batch_size)


def _require_open(row: HumanTask) -> None:
    if row.status != "open":
        raise Conflict(f"task is no longer open (it is {row.status})")


def _delegation_state(row: HumanTask) -> dict[str, Any]:
    return {"assignee": row.assignee, "owner": row.owner, "delegation": row.delegation}


def _may_see(actor: Actor, row: HumanTask) -> bool:
    return actor.may_work_on(row.candidate_groups, None) or row.assignee == actor.id


def _audit_view(row: AuditEvent) -> AuditView:
    return AuditView(
        id=row.id,
        at=row.at,
        actor=row.actor,
        event=row.event,
        instance_id=row.instance_id,
        business_key=row.business_key,
        task_id=row.task_id,
        element_id=row.element_id,
        data_before=row.data_before,
        data_after=row.data_after,
        reason=row.reason,
        detail=row.detail,
    )
