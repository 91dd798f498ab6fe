"""The only module that touches SpiffWorkflow: parsing bundles, storing specs once per deployment,
restoring instance state, and reading the waiting timers, ready tasks and messages the rest of the
engine acts on. Everything here works around a known trap of SpiffWorkflow 3.2 (SPIFFWORKFLOW.md).
"""

from __future__ import annotations

import copy
import json
from calendar import monthrange
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any
from uuid import UUID

import SpiffWorkflow.bpmn.parser as bpmn_parser_package
from lxml import etree
from SpiffWorkflow.bpmn import BpmnEvent, BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    LOCALTZ,
    CycleTimerEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.bpmn.specs.mixins.events.intermediate_event import BoundaryEvent
from SpiffWorkflow.bpmn.specs.mixins.events.start_event import StartEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser.process import SpiffBpmnParser
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState

from .errors import HandlerFailed, Problem, StartOver, WorkflowFailed
from .validation import element_line, safe_parser

# SpiffWorkflow's copy of the OMG schema (its validator rewrites correlation properties first).
XSD_PATH = Path(bpmn_parser_package.__file__).parent / "schema" / "BPMN20.xsd"

_SERIALIZER = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(SPIFF_CONFIG))
# Our own handle on the workflow converter, to store state without the spec and restore it
# against the spec kept once per deployment.
_WORKFLOW_CONVERTER = BpmnWorkflowConverter(BpmnWorkflow, _SERIALIZER.registry)


# ---------------------------------------------------------------- parsing and specs


@dataclass(frozen=True)
class UserTaskInfo:
    """What the read model needs of a user task, taken from the diagram."""

    element_id: str
    name: str
    form_key: str | None
    candidate_groups: tuple[str, ...]
    lane: str | None
    due_variable: str | None


@dataclass(frozen=True)
class ServiceTaskInfo:
    element_id: str
    operation: str


@dataclass
class ParsedBundle:
    """All executable processes of a bundle, their specs as stored JSON, and what code they name."""

    process_ids: list[str]
    specs_json: str
    user_tasks: dict[str, list[UserTaskInfo]]
    service_tasks: dict[str, list[ServiceTaskInfo]]


def parse_bundle(bpmn: Mapping[str, bytes], dmn: Mapping[str, bytes]) -> ParsedBundle:
    """Parse every file with the spiff flavour; raise a list of Problems instead of tracebacks."""
    parser = SpiffBpmnParser()
    problems: list[Problem] = []
    for name, content in dmn.items():
        try:
            parser.add_dmn_xml(etree.fromstring(content, safe_parser()), filename=name)
        except (ValidationException, SpiffWorkflowException) as err:
            problems.append(_problem_from_spiff(name, content, err))
        except Exception as err:  # noqa: BLE001 - SpiffWorkflow raises bare KeyError/TypeError
            problems.append(Problem(name, f"DMN not understood: {type(err).__name__}: {err}"))
    for name, content in bpmn.items():
        try:
            parser.add_bpmn_xml(etree.fromstring(content, safe_parser()), filename=name)
        except (ValidationException, SpiffWorkflowException) as err:
            problems.append(_problem_from_spiff(name, content, err))
        except Exception as err:  # noqa: BLE001
            problems.append(Problem(name, f"BPMN not understood: {type(err).__name__}: {err}"))
    if problems:
        raise ParseFailed(problems)

    stored: dict[str, Any] = {}
    user_tasks: dict[str, list[UserTaskInfo]] = {}
    service_tasks: dict[str, list[ServiceTaskInfo]] = {}
    process_ids = parser.get_process_ids()
    files_by_process = {pid: parser.get_process_parser(pid).filename for pid in process_ids}
    for pid in process_ids:
        file = files_by_process[pid] or pid
        try:
            spec = parser.get_spec(pid)
            subprocess_specs = parser.get_subprocess_specs(pid)
        except (ValidationException, SpiffWorkflowException) as err:
            problems.append(_problem_from_spiff(file, bpmn.get(file, b""), err))
            continue
        except Exception as err:  # noqa: BLE001
            problems.append(Problem(file, f"process '{pid}' not understood: {err}", element=pid))
            continue
        stored[pid] = {
            "spec": _SERIALIZER.to_dict(spec),
            "subprocess_specs": {k: _SERIALIZER.to_dict(v) for k, v in subprocess_specs.items()},
        }
        user_tasks[pid], service_tasks[pid] = _named_parts(spec)
    if problems:
        raise ParseFailed(problems)
    return ParsedBundle(
        process_ids=process_ids,
        specs_json=json.dumps(stored, sort_keys=True),
        user_tasks=user_tasks,
        service_tasks=service_tasks,
    )


class ParseFailed(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(map(str, problems)))
        self.problems = problems


def _problem_from_spiff(file: str, content: bytes, err: Exception) -> Problem:
    element = getattr(err, "id", None) or getattr(getattr(err, "task_spec", None), "bpmn_id", None)
    line = getattr(err, "line_number", None) or None
    if not line and element and content:
        line = element_line(content, element)
    message = str(err).split("\n")[0]
    return Problem(getattr(err, "file_name", None) or file, message, line=line, element=element)


def _named_parts(spec) -> tuple[list[UserTaskInfo], list[ServiceTaskInfo]]:
    """Collect the names the diagram uses for forms and handlers (SpiffWorkflow's parser already
    refuses a business rule task whose decision is missing)."""
    users: list[UserTaskInfo] = []
    services: list[ServiceTaskInfo] = []
    for task_spec in spec.task_specs.values():
        bpmn_id = getattr(task_spec, "bpmn_id", None)
        if bpmn_id is None:
            continue
        if getattr(task_spec, "manual", False):
            users.append(user_task_info(task_spec))
        operation = getattr(task_spec, "operation_name", None)
        if operation is not None:
            services.append(ServiceTaskInfo(bpmn_id, operation))
    return users, services


def user_task_info(task_spec) -> UserTaskInfo:
    props = (getattr(task_spec, "extensions", None) or {}).get("properties", {})
    groups = props.get("candidateGroups") or task_spec.lane or ""
    return UserTaskInfo(
        element_id=task_spec.bpmn_id,
        name=task_spec.bpmn_name or task_spec.bpmn_id,
        form_key=props.get("formKey"),
        candidate_groups=tuple(g.strip() for g in groups.split(",") if g.strip()),
        lane=task_spec.lane,
        due_variable=props.get("dueDate"),
    )


@dataclass(frozen=True)
class ProcessSpecs:
    """A process spec restored once per deployment and shared by all its instances."""

    spec: Any
    subprocess_specs: dict[str, Any]

    @cached_property
    def has_cycle_timers(self) -> bool:
        """Whether any catching event waits on a cycle: only then must each step put cycles
        back on their calendar dates, a walk over every task that others need not pay."""
        return any(
            isinstance(task_spec, CatchingEvent)
            and any(
                isinstance(d, CycleTimerEventDefinition)
                for d in _definitions(task_spec.event_definition)
            )
            for spec in (self.spec, *self.subprocess_specs.values())
            for task_spec in spec.task_specs.values()
        )


def starts_on_timer(specs: ProcessSpecs) -> bool:
    """A process whose start event is a timer (monthly disclosure, weekly report) is started
    once by the engine and then runs its cycles itself."""
    return any(
        isinstance(task_spec, StartEvent)
        and isinstance(getattr(task_spec, "event_definition", None), TimerEventDefinition)
        for task_spec in specs.spec.task_specs.values()
    )


def load_specs(specs_json: str) -> dict[str, ProcessSpecs]:
    stored = json.loads(specs_json)
    return {
        pid: ProcessSpecs(
            spec=_SERIALIZER.from_dict(item["spec"]),
            subprocess_specs={
                k: _SERIALIZER.from_dict(v) for k, v in item["subprocess_specs"].items()
            },
        )
        for pid, item in stored.items()
    }


# ---------------------------------------------------------------- script engine and handlers

ServiceCall = Callable[[str, str, dict[str, Any], dict[str, Any]], Any]
"""(operation, element_id, params, task_data) -> JSON-serializable result."""


class _ScriptEngine(PythonScriptEngine):
    """Routes service tasks to the injected handler call and names the handler when it fails
    (3.2.0's own error path raises NameError)."""

    def __init__(self, service_call: ServiceCall) -> None:
        super().__init__(environment=TaskDataEnvironment())
        self._service_call = service_call

    def call_service(self, task, operation_name=None, operation_params=None, **_: Any) -> str:
        params = {k: v["value"] for k, v in (operation_params or {}).items()}
        element = task.task_spec.bpmn_id
        try:
            result = self._service_call(operation_name, element, params, task)
        except (HandlerFailed, StartOver):
            raise
        except Exception as err:  # noqa: BLE001 - a handler may raise anything; we name it
            raise HandlerFailed(operation_name, element, f"{type(err).__name__}: {err}") from err
        return json.dumps(result)


# ---------------------------------------------------------------- running instances


@dataclass(frozen=True)
class ReadyTask:
    id: str
    info: UserTaskInfo
    data: dict[str, Any]


@dataclass(frozen=True)
class WaitingTimer:
    task_id: str
    element_id: str
    due_at: datetime


@dataclass(frozen=True)
class Waits:
    """What a workflow waits on, as the read models mirror it: its ready user tasks by id and
    its waiting timers by task id and due time."""

    user_tasks: frozenset[str]
    timers: frozenset[tuple[str, datetime]]


NOTHING_SAVED = Waits(frozenset(), frozenset())


class Instance:
    """A running workflow with its script engine attached; every call may raise EngineError."""

    def __init__(self, workflow: BpmnWorkflow, specs: ProcessSpecs) -> None:
        self.workflow = workflow
        self.specs = specs
        # What it waited on as last saved, taken before its first change since: the read
        # models mirror exactly that, so a sync that finds the same waits has nothing to read.
        self.saved_waits: Waits | None = None
        # The waits of the state as it is, once read; every change starts by dropping them.
        self._ready: tuple[ReadyTask, ...] | None = None
        self._timers: tuple[WaitingTimer, ...] | None = None
        self._waits_as_saved: Waits | None = None
        # Whether the last dump holds all this workflow knows (see `dump`).
        self.stored_as_is = True

    @classmethod
    def start(cls, specs: ProcessSpecs, data: Mapping[str, Any], call: ServiceCall) -> Instance:
        wf = BpmnWorkflow(specs.spec, specs.subprocess_specs, script_engine=_ScriptEngine(call))
        for task in wf.get_tasks(state=TaskState.READY):
            task.data.update(_detached(data))
        instance = cls(wf, specs)
        instance.saved_waits = NOTHING_SAVED
        instance.advance()
        return instance

    @classmethod
    def restore(cls, state: dict[str, Any], specs: ProcessSpecs, call: ServiceCall) -> Instance:
        instance = cls(_restore(state, specs), specs)
        instance.attach(call)
        return instance

    def attach(self, call: ServiceCall) -> None:
        """Service tasks of the next step call handlers through `call` (bound to the
        operation's transaction)."""
        self.workflow.script_engine = _ScriptEngine(call)

    def detach(self) -> None:
        """Between operations no handler may be called: the last one's transaction is gone."""
        self.workflow.script_engine = _DETACHED

    def dump(self) -> dict[str, Any]:
        """The state to store. Values JSON has no form for (a tuple, a number as a key) come
        back changed from it: `stored_as_is` says whether this workflow still equals what a
        restore of the dump would give."""
        state, self.stored_as_is = _dump(self.workflow)
        return state

    def waits(self) -> Waits:
        return Waits(
            frozenset(t.id for t in self.ready_user_tasks()),
            frozenset((t.task_id, t.due_at) for t in self.waiting_timers()),
        )

    def mark_saved(self) -> None:
        """The current state is the stored one again. Unfinished tasks get data of their own:
        in memory SpiffWorkflow lets a task's data share nested values with its parent's,
        which a restored workflow never does, and no later step may tell the two apart."""
        self._waits_as_saved = self.waits()
        self.saved_waits = None
        for task in self._all_tasks():
            if not task.state & TaskState.FINISHED_MASK:
                task.data = copy.deepcopy(task.data)
        self._ready = None  # it holds the data replaced

    def _changing(self) -> None:
        if self.saved_waits is None:
            self.saved_waits = self._waits_as_saved or self.waits()
        self._ready = self._timers = self._waits_as_saved = None

    # ---- acting

    def advance(self) -> None:
        """Fire due timers and run engine steps until only people or events are awaited."""
        self._changing()
        self._guard(self._advance)

    def _advance(self) -> None:
        self.workflow.refresh_timers()
        # before do_engine_steps refreshes the timers again, lest a cycle fire on Spiff's date
        self._keep_cycles_to_calendar()
        self.workflow.do_engine_steps()
        self._keep_cycles_to_calendar()

    def _keep_cycles_to_calendar(self) -> None:
        """SpiffWorkflow 3.2 moves a cycle timer on by a fixed number of seconds (for P1M, the
        days of the start month), so a monthly timer drifts: 1 Dec, 1 Jan, 1 Feb, 4 Mar. Put every
        waiting cycle whose period has years or months back on its calendar date; the occurrences
        passed are the ones Spiff has counted down in event_value['cycles']."""
        if not self.specs.has_cycle_timers:
            return
        for task in self._waiting_catchers():
            definition = task.task_spec.event_definition
            value = task._get_internal_data("event_value")
            if not isinstance(definition, CycleTimerEventDefinition) or not isinstance(value, dict):
                continue
            expression = task.workflow.script_engine.evaluate(task, definition.expression)
            due = calendar_cycle_due(expression, value["cycles"])
            if due is not None:
                value["next"] = due.astimezone(UTC).isoformat()

    def complete(self, task_id: str, data: Mapping[str, Any]) -> None:
        task = self.workflow.get_task_from_id(UUID(task_id))
        if task is None or task.state != TaskState.READY or not task.task_spec.manual:
            raise WorkflowFailed(f"task {task_id} is not ready")
        self._changing()

        def run() -> None:
            task.data.update(_detached(data))
            task.run()
            self._advance()

        self._guard(run)

    def waiting_messages(self) -> set[str]:
        names: set[str] = set()
        for task in self._waiting_catchers():
            for definition in _definitions(task.task_spec.event_definition):
                if isinstance(definition, MessageEventDefinition):
                    names.add(definition.name)
        return names

    def receive_message(self, name: str, payload: Mapping[str, Any]) -> None:
        self._changing()

        def run() -> None:
            self.workflow.send_event(
                BpmnEvent(MessageEventDefinition(name), _detached(dict(payload)))
            )
            self._advance()

        self._guard(run)

    def _guard(self, action: Callable[[], None]) -> None:
        try:
            action()
        except (HandlerFailed, WorkflowFailed, StartOver):
            raise
        except WorkflowTaskException as err:
            cause = err.__cause__ or getattr(err, "exception", None)
            if isinstance(cause, HandlerFailed | StartOver):
                raise cause from err
            element = getattr(getattr(err, "task_spec", None), "bpmn_id", None) or "?"
            raise WorkflowFailed(f"step '{element}' failed: {err}") from err
        except SpiffWorkflowException as err:
            raise WorkflowFailed(f"workflow step failed: {err}") from err
        except OverflowError as err:  # a timer computed past what a date can hold
            raise WorkflowFailed(f"workflow step failed: {err}") from err

    # ---- reading

    @property
    def completed(self) -> bool:
        return self.workflow.completed

    @property
    def data(self) -> dict[str, Any]:
        return self.workflow.data

    def ready_user_tasks(self) -> list[ReadyTask]:
        if self._ready is None:
            self._ready = tuple(
                ReadyTask(str(t.id), user_task_info(t.task_spec), t.data)
                for t in self.workflow.get_tasks(state=TaskState.READY, manual=True)
            )
        return list(self._ready)

    def waiting_timers(self) -> list[WaitingTimer]:
        """Due times of every waiting timer, including those an event-based gateway hides."""
        if self._timers is None:
            self._timers = tuple(self._read_waiting_timers())
        return list(self._timers)

    def _read_waiting_timers(self) -> Iterator[WaitingTimer]:
        for task in self._waiting_catchers():
            definition = task.task_spec.event_definition
            if not any(isinstance(d, TimerEventDefinition) for d in _definitions(definition)):
                continue
            value = task._get_internal_data("event_value")
            if isinstance(value, dict):  # cycle timers keep their next due time
                value = value.get("next")
            if value is None:
                continue
            due = TimerEventDefinition.get_datetime(value)
            yield WaitingTimer(str(task.id), task.task_spec.bpmn_id, due.astimezone(UTC))

    def latest_data(self) -> dict[str, Any]:
        """The instance's data as of its last step: the workflow's own once it has ended."""
        if self.workflow.completed:
            return _detached(self.workflow.data)
        last = self.workflow.last_task
        return _detached(last.data) if last is not None else {}

    def cancel_boundary_timer(self, task_id: str) -> None:
        """Withdraw a waiting boundary timer (a reminder, an escalation) so it never fires; the
        activity it is attached to goes on. Other timers lie on the process's only path, so
        cancelling them would strand the instance: refused."""
        task = self.workflow.get_task_from_id(UUID(task_id))
        if task is None or task.state != TaskState.WAITING:
            raise WorkflowFailed(f"timer task {task_id} is not waiting")
        if not isinstance(task.task_spec, BoundaryEvent):
            raise WorkflowFailed(
                f"'{task.task_spec.bpmn_id}' is on the process's path, not attached to an "
                "activity; skipping it would stop the instance: retry it instead"
            )
        self._changing()
        task.cancel()

    def task_data(self, task_id: str) -> dict[str, Any]:
        task = self.workflow.get_task_from_id(UUID(task_id))
        return {} if task is None else _detached(task.data)

    def save_task_data(self, task_id: str, data: Mapping[str, Any]) -> None:
        """Keep a delegate's values on a ready task without running it: its owner completes it."""
        task = self.workflow.get_task_from_id(UUID(task_id))
        if task is None or task.state != TaskState.READY or not task.task_spec.manual:
            raise WorkflowFailed(f"task {task_id} is not ready")
        self._changing()
        task.data.update(_detached(data))

    def task_value(self, task_id: str, key: str) -> Any:
        task = self.workflow.get_task_from_id(UUID(task_id))
        return None if task is None else _detached(task.data.get(key))

    def timer_completed(self, task_id: str) -> bool:
        task = self.workflow.get_task_from_id(UUID(task_id))
        return task is not None and task.state == TaskState.COMPLETED

    def completed_elements(self) -> list[str]:
        return [
            t.task_spec.bpmn_id
            for t in self._all_tasks()
            if t.state == TaskState.COMPLETED and getattr(t.task_spec, "bpmn_id", None)
        ]

    def _all_tasks(self) -> Iterator:
        yield from self.workflow.get_tasks()
        for sub in self.workflow.subprocesses.values():
            yield from sub.get_tasks()

    def _waiting_catchers(self) -> Iterator:
        for task in self._all_tasks():
            if task.state == TaskState.WAITING and isinstance(task.task_spec, CatchingEvent):
                yield task


_ACTIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED


def spec_gaps(state: dict[str, Any], specs: ProcessSpecs) -> tuple[list[str], list[str]]:
    """Elements of a stored instance that a spec lacks: (active or waiting ones, all others).
    Restoring an instance against a spec that lacks any of them would fail, so a migration
    checks this first."""
    active: list[str] = []
    other: list[str] = []

    def check(tasks: dict[str, Any], spec) -> None:
        for task in tasks.values():
            name = task["task_spec"]
            if spec is not None and name in spec.task_specs:
                continue
            (active if task["state"] & _ACTIVE else other).append(name)

    check(state.get("tasks", {}), specs.spec)
    for sub in state.get("subprocesses", {}).values():
        check(sub.get("tasks", {}), specs.subprocess_specs.get(sub.get("spec")))
    return sorted(set(active)), sorted(set(other))


def active_elements(state: dict[str, Any]) -> list[str]:
    """Elements a stored instance is at: ready user tasks and waiting events."""
    names = {
        task["task_spec"]
        for tasks in [state.get("tasks", {})]
        + [sub.get("tasks", {}) for sub in state.get("subprocesses", {}).values()]
        for task in tasks.values()
        if task["state"] & _ACTIVE
    }
    return sorted(n for n in names if not n.startswith(("Root", "Start", "End")) and "." not in n)


def calendar_cycle_due(expression: str, cycles_left: int) -> datetime | None:
    """The next due time of an ISO cycle "R[n]/start/period" once n - cycles_left occurrences
    have passed: start plus that many periods, with years and months counted on the calendar in
    the start's own UTC offset and the day clamped to the month's length (31 Jan + P1M = 28 Feb,
    + P2M = 31 Mar). None for cycles without an explicit start or without years or months in
    their period: SpiffWorkflow's fixed seconds are right for those."""
    parts = expression.upper().replace("--", "/").strip("R").split("/")  # as SpiffWorkflow does
    if len(parts) != 3 or parts[1].startswith("P"):
        return None
    period = TimerEventDefinition.parse_iso_duration(parts[2])
    months = period.pop("years", 0) * 12 + period.pop("months", 0)
    if not months or not isinstance(months, int):  # none, or fractional: left to SpiffWorkflow
        return None
    try:
        start = datetime.fromisoformat(parts[1])
    except ValueError:  # an ISO week date SpiffWorkflow reads itself
        return None
    start = start if start.tzinfo else start.replace(tzinfo=LOCALTZ)
    passed = (int(parts[0]) if parts[0] else -1) - cycles_left
    year, month = divmod(start.month - 1 + passed * months, 12)
    year, month = start.year + year, month + 1
    day = min(start.day, monthrange(year, month)[1])
    return start.replace(year=year, month=month, day=day) + passed * timedelta(**period)


def _unattached_call(operation: str, *_: Any) -> Any:
    raise RuntimeError(f"handler '{operation}' called outside an operation")


_DETACHED = _ScriptEngine(_unattached_call)


def _detached(value: Any) -> Any:
    """A copy sharing nothing with the workflow: a workflow outlives the call (it may stay in
    memory for the instance's next step), so neither what goes in nor what comes out may be
    changed by the caller afterwards."""
    return copy.deepcopy(value)


def _definitions(definition) -> list:
    if isinstance(definition, MultipleEventDefinition):
        return list(definition.event_definitions)
    return [definition]


# ---------------------------------------------------------------- state without the spec


def _dump(workflow: BpmnWorkflow) -> tuple[dict[str, Any], bool]:
    """The workflow's state without its spec (the spec lives once in the deployment), as JSON
    gives it back, and whether that equals the state as the workflow holds it."""
    registry = _SERIALIZER.registry
    registry._encoder_mode = True
    try:
        converter = _WORKFLOW_CONVERTER
        dct = WorkflowConverter.to_dict(converter, workflow)
        dct["subprocesses"] = converter.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = registry.convert(workflow.bpmn_events)
        state = json.loads(json.dumps(dct, cls=_SERIALIZER._encoder_cls))
        return state, state == dct
    finally:
        registry._encoder_mode = False


def _restore(state: dict[str, Any], specs: ProcessSpecs) -> BpmnWorkflow:
    dct = json.loads(json.dumps(state))  # restoring consumes the dict; keep the caller's intact
    dct["tasks"] = _parents_first(dct["tasks"])
    for subprocess in dct["subprocesses"].values():
        subprocess["tasks"] = _parents_first(subprocess["tasks"])
    registry = _SERIALIZER.registry
    converter = _WORKFLOW_CONVERTER
    workflow = BpmnWorkflow(specs.spec, specs.subprocess_specs, deserializing=True)
    workflow.tasks = converter.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
    workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
    converter.set_default_attributes(workflow, dct)
    converter.subprocesses_from_dict(dct["subprocesses"], workflow)
    workflow.bpmn_events = registry.restore(dct.pop("bpmn_events", []))
    return workflow


def _parents_first(tasks: dict[str, Any]) -> dict[str, Any]:
    """The task mapping with every parent before its children. SpiffWorkflow 3.2 stores a
    task's data as a delta from its parent's and restores the mapping in order, silently
    dropping the data of a task met before its parent; PostgreSQL's jsonb keeps object keys in
    an order of its own."""
    ordered: dict[str, Any] = {}
    pending = [key for key, task in reversed(tasks.items()) if task["parent"] not in tasks]
    while pending:
        key = pending.pop()
        ordered[key] = tasks[key]
        pending.extend(c for c in reversed(tasks[key]["children"]) if c in tasks)
    return ordered | tasks  # tasks out of the tree (none in practice) keep their place after
