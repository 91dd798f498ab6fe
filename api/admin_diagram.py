"""What an instance's diagram shows administrators: the BPMN file of its deployment version that
holds its process, the elements it completed, the sequence flows it took (derived from those),
its open user tasks and the timers and messages it waits for."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from engine import Engine, InstanceView

BPMN = "http://www.omg.org/spec/BPMN/20100524/MODEL"
GATEWAYS_THAT_CHOOSE = {"exclusiveGateway", "inclusiveGateway", "complexGateway"}
MESSAGE_CATCHERS = {"intermediateCatchEvent", "boundaryEvent", "receiveTask"}


def _parser() -> etree.XMLParser:
    return etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False)


@dataclass
class BpmnModel:
    """The few facts of a BPMN file the overlay needs, by element id."""

    names: dict[str, str] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    process_of: dict[str, str] = field(default_factory=dict)
    flows: dict[str, tuple[str, str]] = field(default_factory=dict)
    attached_to: dict[str, str] = field(default_factory=dict)
    called: dict[str, str] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)  # catcher id -> message name
    timers: set[str] = field(default_factory=set)  # elements with a timer definition

    def outgoing(self, source: str) -> list[str]:
        return [target for s, target in self.flows.values() if s == source]

    def incoming_sources(self, target: str) -> list[str]:
        return [source for source, t in self.flows.values() if t == target]


def process_file(files: Mapping[str, bytes], process_id: str) -> tuple[str, bytes] | None:
    """The BPMN file of a deployment that defines `process_id` (first by name if several)."""
    for name in sorted(files):
        if not name.lower().endswith(".bpmn"):
            continue
        try:
            root = etree.fromstring(files[name], _parser())
        except etree.XMLSyntaxError:
            continue
        if root.find(f"{{{BPMN}}}process[@id='{_quoted(process_id)}']") is not None:
            return name, files[name]
    return None


def _quoted(value: str) -> str:
    return value.replace("'", "")  # ids are NCNames; never let one break the path expression


def parse_model(content: bytes) -> BpmnModel:
    root = etree.fromstring(content, _parser())
    model = BpmnModel()
    message_names = {
        m.get("id"): m.get("name") or m.get("id") for m in root.iter(f"{{{BPMN}}}message")
    }
    for process in root.iter(f"{{{BPMN}}}process"):
        process_id = process.get("id")
        for element in process.iter():
            if not isinstance(element.tag, str) or not element.tag.startswith(f"{{{BPMN}}}"):
                continue
            element_id = element.get("id")
            if element_id is None or element is process:
                continue
            kind = etree.QName(element).localname
            model.kinds[element_id] = kind
            model.process_of[element_id] = process_id
            if element.get("name"):
                model.names[element_id] = element.get("name")
            if kind == "sequenceFlow":
                model.flows[element_id] = (element.get("sourceRef"), element.get("targetRef"))
            elif kind == "boundaryEvent":
                model.attached_to[element_id] = element.get("attachedToRef")
            elif kind == "callActivity" and element.get("calledElement"):
                model.called[element_id] = element.get("calledElement")
            if element.find(f"{{{BPMN}}}timerEventDefinition") is not None:
                model.timers.add(element_id)
            if kind in MESSAGE_CATCHERS:
                definition = element.find(f"{{{BPMN}}}messageEventDefinition")
                ref = element.get("messageRef") if kind == "receiveTask" else None
                if definition is not None:
                    ref = definition.get("messageRef")
                if definition is not None or ref:
                    model.messages[element_id] = message_names.get(ref, ref or "")
    return model


def taken_flows(
    model: BpmnModel, completed: Iterable[str], current: Iterable[str] = ()
) -> list[str]:
    """A flow was taken when its source completed and its target completed too or is where the
    instance stands now (an open task, a waiting event or gateway)."""
    done = set(completed)
    reached = done | set(current)
    return sorted(
        f for f, (source, target) in model.flows.items() if source in done and target in reached
    )


def active_elements(model: BpmnModel, open_task_elements: Iterable[str]) -> list[str]:
    """Open user tasks, and the call activities whose called process holds one of them."""
    active = list(dict.fromkeys(open_task_elements))
    busy_processes = {model.process_of.get(e) for e in active}
    changed = True
    while changed:  # nested call activities: the caller of a busy process is busy too
        changed = False
        for element_id, called in model.called.items():
            if called in busy_processes and element_id not in active:
                active.append(element_id)
                busy_processes.add(model.process_of.get(element_id))
                changed = True
    return active


def timer_place(model: BpmnModel, element_id: str) -> tuple[str, str | None]:
    """Where a waiting timer shows: SpiffWorkflow waits on an event-based gateway as a whole,
    so its timer is drawn on the gateway's timer event; (element, gateway or None)."""
    if model.kinds.get(element_id) == "eventBasedGateway":
        timers = [t for t in model.outgoing(element_id) if t in model.timers]
        if timers:
            return timers[0], element_id
    return element_id, None


def _reached(model: BpmnModel, element_id: str, done: set[str]) -> bool:
    """The token stands at the element, as far as the diagram tells: it did not complete and
    something before it did, other than a gateway that chooses among branches."""
    if element_id in done:
        return False
    return any(
        source in done and model.kinds.get(source) not in GATEWAYS_THAT_CHOOSE
        for source in model.incoming_sources(element_id)
    )


def waiting_messages(
    model: BpmnModel,
    completed: Iterable[str],
    active: Iterable[str],
    waiting_gateways: Iterable[str] = (),
) -> list[tuple[str, str, str | None]]:
    """Message catchers the instance waits at, read from the diagram: (element, message name,
    event-based gateway or None). A boundary event waits while its activity is active; a
    catcher after an event-based gateway while the gateway waits and no branch has fired; any
    other catcher once it is reached. After a gateway that chooses one branch the diagram
    cannot tell which was taken, so no catcher there is claimed."""
    done, busy, gateways = set(completed), set(active), set(waiting_gateways)
    found: list[tuple[str, str, str | None]] = []
    for element_id, message in model.messages.items():
        if element_id in done:
            continue
        if model.kinds.get(element_id) == "boundaryEvent":
            if model.attached_to.get(element_id) in busy:
                found.append((element_id, message, None))
            continue
        for source in model.incoming_sources(element_id):
            if model.kinds.get(source) == "eventBasedGateway":
                if done.intersection(model.outgoing(source)):
                    continue
                if source in gateways or _reached(model, source, done):
                    found.append((element_id, message, source))
                    break
            elif source in done and model.kinds.get(source) not in GATEWAYS_THAT_CHOOSE:
                found.append((element_id, message, None))
                break
    return found


def diagram_state(view: InstanceView, model: BpmnModel) -> dict[str, Any]:
    completed = list(dict.fromkeys(view.completed_elements))
    open_tasks = [t.element_id for t in view.tasks if t.status == "open"]
    active = active_elements(model, open_tasks) if view.status == "running" else []
    waiting: list[dict[str, Any]] = []
    for timer in view.timers:
        if timer.status not in ("pending", "incident"):
            continue
        element_id, gateway = timer_place(model, timer.element_id)
        waiting.append(
            {
                "element_id": element_id,
                "kind": "timer",
                "due_at": timer.due_at,
                "status": timer.status,
                "label": model.names.get(element_id),
                "timer_id": timer.id,
                "via": gateway,
            }
        )
    if view.status == "running":
        gateways = [w["via"] for w in waiting if w["via"]]
        waiting.extend(
            {
                "element_id": element_id,
                "kind": "message",
                "due_at": None,
                "status": "waiting",
                "label": message,
                "timer_id": None,
                "via": gateway,
            }
            for element_id, message, gateway in waiting_messages(model, completed, active, gateways)
        )
    return {
        "completed_elements": completed,
        "completed_flows": taken_flows(
            model, completed, [*active, *(w["via"] or w["element_id"] for w in waiting)]
        ),
        "active_elements": active,
        "waiting": waiting,
    }


@dataclass(frozen=True)
class InstanceDiagram:
    view: InstanceView
    file: str | None
    bpmn_xml: str | None
    model: BpmnModel
    state: dict[str, Any]


def instance_diagram(engine: Engine, instance_id: int) -> InstanceDiagram:
    """Raises the engine's NotFound for an unknown instance. A deployment without the process's
    file (never expected) gives a diagram without XML rather than an error page."""
    view = engine.instance(instance_id)
    found = process_file(engine.deployment_files(view.deployment_version), view.process_id)
    if found is None:
        model = BpmnModel()
        return InstanceDiagram(view, None, None, model, diagram_state(view, model))
    name, content = found
    model = parse_model(content)
    return InstanceDiagram(view, name, content.decode("utf-8"), model, diagram_state(view, model))
