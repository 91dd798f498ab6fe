"""Static checks of BPMN and DMN files before SpiffWorkflow parses them (pure lxml): a bad file is
refused at deploy time naming file, line and element id, not with a traceback or a run-time failure.
"""

from __future__ import annotations

import ast
import re
import threading
from collections import Counter
from collections.abc import Iterable, Iterator
from functools import lru_cache
from pathlib import Path

from lxml import etree

from .errors import Problem

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI_NS = "http://www.omg.org/spec/BPMN/20100524/DI"
CAMUNDA_NAMESPACES = {
    "http://camunda.org/schema/1.0/bpmn": "camunda",
    "http://activiti.org/bpmn": "activiti",
    "http://camunda.org/schema/zeebe/1.0": "zeebe",
}
# The DMN versions SpiffWorkflow 3.2 reads (SpiffWorkflow/dmn/parser/BpmnDmnParser.py).
DMN_NAMESPACES = {
    "http://www.omg.org/spec/DMN/20151101/dmn.xsd": "1.1",
    "http://www.omg.org/spec/DMN/20180521/MODEL/": "1.2",
    "https://www.omg.org/spec/DMN/20191111/MODEL/": "1.3",
}
DMN_HIT_POLICIES = {"UNIQUE", "COLLECT"}

ACTIVITIES = {
    "task", "userTask", "serviceTask", "scriptTask", "businessRuleTask", "manualTask",
    "sendTask", "receiveTask", "callActivity", "subProcess", "transaction", "adHocSubProcess",
}  # fmt: skip
EVENTS = {
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent",
    "boundaryEvent",
}  # fmt: skip
GATEWAYS = {
    "exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway",
    "complexGateway",
}  # fmt: skip
FLOW_NODES = ACTIVITIES | EVENTS | GATEWAYS
# Drawn elements that must have a shape or edge; data object/store references may go undrawn.
NEEDS_LAYOUT = FLOW_NODES | {"sequenceFlow", "lane"}
TIMER_TAGS = ("timeDate", "timeDuration", "timeCycle")
# SpiffWorkflow names its own task specs so; a flow node with such an id silently replaces one.
RESERVED_IDS = {"Start", "End"}

CAMUNDA_HINT = "is not executable here; use the spiffworkflow extensions / Python expressions"
_ISO_DURATION = r"-?P(?=\d|T\d)(\d+Y)?(\d+M)?(\d+W)?(\d+D)?(T(\d+H)?(\d+M)?(\d+([.,]\d+)?S)?)?"
_ISO_DATE = r"\d{4}-\d{2}-\d{2}([T ]\d{2}(:\d{2}){0,2}([.,]\d+)?)?(Z|[+-]\d{2}:?\d{2})?"
_ISO_LITERAL = re.compile(rf"R\d*/\S*|{_ISO_DURATION}|{_ISO_DATE}")
_CAMUNDA_EXPRESSION = re.compile(r"[$#]\{")
# The longest duration or cycle period a timer literal may give. A longer one is a typo, and a
# costly one: SpiffWorkflow counts a duration's months one by one (P99999999Y holds the step that
# reaches the timer for minutes) and overflows past year 9999.
LONGEST_TIMER_YEARS = 100
_NUMBER = r"(\d+(?:[.,]\d+)?)"
_DURATION_PARTS = re.compile(
    rf"P(?:{_NUMBER}Y)?(?:{_NUMBER}M)?(?:{_NUMBER}W)?(?:{_NUMBER}D)?"
    rf"(?:T(?:{_NUMBER}H)?(?:{_NUMBER}M)?(?:{_NUMBER}S)?)?"
)
_DAYS_PER_PART = (365.25, 365.25 / 12, 7, 1, 1 / 24, 1 / 1440, 1 / 86400)

# An lxml XMLSchema keeps its error log on the object: serialize validations across threads.
_SCHEMA_LOCK = threading.Lock()


def _q(tag: str, ns: str = BPMN_NS) -> str:
    return f"{{{ns}}}{tag}"


def safe_parser() -> etree.XMLParser:
    """A parser that never touches the network or expands entities; files come from uploads."""
    return etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, load_dtd=False)


def _local(el: etree._Element) -> str:
    return etree.QName(el).localname


def _elements(root: etree._Element) -> Iterator[etree._Element]:
    """Every element, skipping comments and processing instructions."""
    return root.iter(tag=etree.Element)


@lru_cache(maxsize=8)
def load_schema(xsd_path: Path) -> etree.XMLSchema:
    """Compile an XSD once per path: compiling BPMN20.xsd costs far more than validating a file."""
    return etree.XMLSchema(etree.parse(str(xsd_path), safe_parser()))


def element_line(content: bytes, element_id: str) -> int | None:
    """Source line of the element with this id: SpiffWorkflow's parse errors often lack one."""
    try:
        root = etree.fromstring(content, safe_parser())
    except etree.XMLSyntaxError:
        return None
    found = root.xpath("//*[@id=$id]", id=element_id)
    return found[0].sourceline if found else None


def check_bpmn(name: str, content: bytes, schema: etree.XMLSchema) -> list[Problem]:
    """Every problem in one BPMN file (empty list: SpiffWorkflow may parse it)."""
    root, problems = _parse(name, content)
    if root is None:
        return problems
    problems = _xsd_problems(name, root, schema)
    if problems:
        return problems  # later checks assume the structure the schema guarantees
    processes = [p for p in root.iter(_q("process")) if p.get("isExecutable") == "true"]
    if not processes:
        first = next(root.iter(_q("process")), None)
        line = first.sourceline if first is not None else root.sourceline
        element = first.get("id") if first is not None else None
        return [Problem(name, "no executable process", line=line, element=element)]
    problems += _camunda_problems(name, root)
    problems += _duplicate_id_problems(name, root)
    problems += _layout_problems(name, root, processes)
    problems += _expression_problems(name, processes)
    problems += _reserved_id_problems(name, processes)
    problems += _outgoing_problems(name, processes)
    return problems


def _duplicate_id_problems(name: str, root: etree._Element) -> list[Problem]:
    """The schema checks ids among BPMN elements only; SpiffWorkflow looks elements up by id across
    the whole file, so a service task named like its handler (`serviceTaskOperator id`) is
    silently parsed as the extension element. Extension ids may repeat among themselves."""
    extension_ids: dict[str, etree._Element] = {}
    for el in root.iter():
        if isinstance(el.tag, str) and el.get("id") and not el.tag.startswith(f"{{{BPMN_NS}}}"):
            extension_ids.setdefault(el.get("id"), el)
    problems = []
    for el in root.iter(f"{{{BPMN_NS}}}*"):
        other = extension_ids.get(el.get("id") or "")
        if other is not None:
            message = (
                f"id '{el.get('id')}' is also used by {_local(other)} on line "
                f"{other.sourceline}; rename the {_local(el)}"
            )
            problems.append(Problem(name, message, line=el.sourceline, element=el.get("id")))
    return problems


def _parse(name: str, content: bytes) -> tuple[etree._Element | None, list[Problem]]:
    """The root element, or the one problem that stops every later check."""
    try:
        root = etree.fromstring(content, safe_parser())
    except etree.XMLSyntaxError as err:
        return None, [Problem(name, f"malformed XML: {err.msg}", line=err.lineno)]
    # Modelers never write a DTD; refusing one keeps entity tricks away from SpiffWorkflow's parser.
    if root.getroottree().docinfo.doctype:
        line = content[: content.find(b"<!DOCTYPE")].count(b"\n") + 1
        return None, [Problem(name, "DOCTYPE declarations are not allowed", line=line)]
    return root, []


def _xsd_problems(name: str, root: etree._Element, schema: etree.XMLSchema) -> list[Problem]:
    # bpmn.io and the Spiff modeler write correlation retrieval expressions as formalExpression;
    # SpiffWorkflow renames them to messagePath before validating, and so do we.
    for expr in root.iter(_q("correlationPropertyRetrievalExpression")):
        for child in expr.findall(_q("formalExpression")):
            child.tag = _q("messagePath")
    with _SCHEMA_LOCK:
        valid = schema.validate(root)
        entries = [] if valid else [(e.line, e.message) for e in schema.error_log]
    by_line = _first_element_by_line(root) if entries else {}
    return [
        Problem(name, f"XSD: {_short_names(message)}", line=line, element=_id_of(by_line.get(line)))
        for line, message in entries
    ]


def _first_element_by_line(root: etree._Element) -> dict[int, etree._Element]:
    index: dict[int, etree._Element] = {}
    for el in _elements(root):
        if el.sourceline is not None:
            index.setdefault(el.sourceline, el)
    return index


def _id_of(el: etree._Element | None) -> str | None:
    """Id of the element or of its nearest ancestor that has one."""
    while el is not None:
        if el.get("id"):
            return el.get("id")
        el = el.getparent()
    return None


def _short_names(message: str) -> str:
    return message.replace(f"{{{BPMN_NS}}}", "bpmn:").replace(f"{{{BPMNDI_NS}}}", "bpmndi:")


def _camunda_problems(name: str, root: etree._Element) -> list[Problem]:
    """Camunda Modeler files parse but fail at run time; refuse them rather than run them."""
    found: dict[str, tuple[int | None, list[str]]] = {}
    for el in _elements(root):
        names = [_prefixed(el.tag)] if _is_camunda(el.tag) else []
        names += [_prefixed(attr) for attr in el.attrib if _is_camunda(attr)]
        if names:
            owner = _id_of(el) or "?"
            line, seen = found.setdefault(owner, (el.sourceline, []))
            seen.extend(n for n in names if n not in seen)
    return [
        Problem(name, f"Camunda-style {', '.join(names)} {CAMUNDA_HINT}", line=line, element=owner)
        for owner, (line, names) in found.items()
    ]


def _is_camunda(qualified: str) -> bool:
    return etree.QName(qualified).namespace in CAMUNDA_NAMESPACES


def _prefixed(qualified: str) -> str:
    qname = etree.QName(qualified)
    return f"{CAMUNDA_NAMESPACES[qname.namespace]}:{qname.localname}"


def _descendants(processes: Iterable[etree._Element], tags: set[str]) -> Iterator[etree._Element]:
    for process in processes:
        for el in _elements(process):
            if etree.QName(el).namespace == BPMN_NS and _local(el) in tags:
                yield el


def _layout_problems(
    name: str, root: etree._Element, processes: list[etree._Element]
) -> list[Problem]:
    """A diagram without layout cannot be reviewed in the modeler, and reviewing is the point."""
    drawn = {
        ref.rpartition(":")[2]
        for el in _elements(root)
        if el.tag in (_q("BPMNShape", BPMNDI_NS), _q("BPMNEdge", BPMNDI_NS))
        and (ref := el.get("bpmnElement"))
    }
    problems = []
    needed = list(root.iter(_q("participant"))) + list(_descendants(processes, NEEDS_LAYOUT))
    for el in needed:
        tag, el_id = _local(el), el.get("id")
        if not el_id:
            problems.append(Problem(name, f"{tag} has no id", line=el.sourceline))
        elif el_id not in drawn:
            message = f"no diagram layout (BPMNDI) for {tag} '{el_id}'"
            problems.append(Problem(name, message, line=el.sourceline, element=el_id))
    return problems


def _expression_problems(name: str, processes: list[etree._Element]) -> list[Problem]:
    """Conditions and timers are Python evaluated when reached; a bad one must fail at deploy."""
    problems = []
    for flow in _descendants(processes, {"sequenceFlow"}):
        for expr in flow.findall(_q("conditionExpression")):
            problems += _check_expression(name, expr, flow.get("id"), "condition")
    for event in _descendants(processes, EVENTS):
        for cond in event.iterfind(f"{_q('conditionalEventDefinition')}/{_q('condition')}"):
            problems += _check_expression(name, cond, event.get("id"), "condition")
        for timer in event.iterfind(_q("timerEventDefinition")):
            problems += _check_timer(name, timer, event.get("id"))
    return problems


def _check_timer(name: str, timer: etree._Element, owner: str | None) -> list[Problem]:
    exprs = [child for child in timer if etree.QName(child).localname in TIMER_TAGS]
    if not exprs:
        message = "timer has no timeDate, timeDuration or timeCycle"
        return [Problem(name, message, line=timer.sourceline, element=owner)]
    problems = []
    for expr in exprs:
        text = (expr.text or "").strip()
        if _ISO_LITERAL.fullmatch(text):
            message = f'timer literal must be quoted, e.g. "{text}"'
            problems.append(Problem(name, message, line=expr.sourceline, element=owner))
            continue
        found = _check_expression(name, expr, owner, "timer")
        if not found and _longest_duration_days(text) > LONGEST_TIMER_YEARS * 365.25:
            message = f"timer {text} is longer than {LONGEST_TIMER_YEARS} years"
            found = [Problem(name, message, line=expr.sourceline, element=owner)]
        problems += found
    return problems


def _longest_duration_days(expression: str) -> float:
    """The longest ISO 8601 duration in a quoted timer literal, in days of an average year; 0 for
    an expression computed when the timer is reached."""
    try:
        literal = ast.literal_eval(expression)
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return 0
    if not isinstance(literal, str):
        return 0
    return max(
        (
            sum(
                float((amount or "0").replace(",", ".")) * days
                for amount, days in zip(found.groups(), _DAYS_PER_PART, strict=True)
            )
            for found in _DURATION_PARTS.finditer(literal.upper())
        ),
        default=0,
    )


def _check_expression(
    name: str, expr: etree._Element, owner: str | None, kind: str
) -> list[Problem]:
    text = (expr.text or "").strip()
    if not text:
        return [Problem(name, f"{kind} expression is empty", line=expr.sourceline, element=owner)]
    if _CAMUNDA_EXPRESSION.search(text):
        message = f"Camunda-style {kind} expression {text!r} {CAMUNDA_HINT}"
        return [Problem(name, message, line=expr.sourceline, element=owner)]
    try:
        compile(text, name, "eval")
    except (SyntaxError, ValueError) as err:
        message = f"{kind} expression {text!r} is not a Python expression: {_reason(err)}"
        return [Problem(name, message, line=expr.sourceline, element=owner)]
    return []


def _reason(err: Exception) -> str:
    return err.msg if isinstance(err, SyntaxError) else str(err)


def _reserved_id_problems(name: str, processes: list[etree._Element]) -> list[Problem]:
    return [
        Problem(
            name,
            f"id '{el.get('id')}' collides with a SpiffWorkflow internal task name; "
            "use a meaningful snake_case id",
            line=el.sourceline,
            element=el.get("id"),
        )
        for el in _descendants(processes, FLOW_NODES)
        if el.get("id") in RESERVED_IDS
    ]


def _outgoing_problems(name: str, processes: list[etree._Element]) -> list[Problem]:
    """SpiffWorkflow refuses several outgoing flows except on gateways and start events."""
    outgoing = Counter(flow.get("sourceRef") for flow in _descendants(processes, {"sequenceFlow"}))
    problems = []
    for el in _descendants(processes, FLOW_NODES - GATEWAYS - {"startEvent"}):
        count = outgoing.get(el.get("id"), 0)
        if count >= 2:
            kind = "task" if _local(el) in ACTIVITIES else "event"
            message = f"use a gateway: {kind} has {count} outgoing flows"
            problems.append(Problem(name, message, line=el.sourceline, element=el.get("id")))
    return problems


def check_dmn(name: str, content: bytes) -> list[Problem]:
    """Every problem in one DMN file that SpiffWorkflow's DMN parser would trip on."""
    root, problems = _parse(name, content)
    if root is None:
        return problems
    qname = etree.QName(root)
    if qname.localname != "definitions" or "/DMN/" not in (qname.namespace or ""):
        message = f"not a DMN file: root element is <{qname.localname}>, expected DMN definitions"
        return [Problem(name, message, line=root.sourceline)]
    ns = qname.namespace
    if ns not in DMN_NAMESPACES:
        message = f"DMN namespace {ns} is not supported; use DMN 1.1, 1.2 or 1.3"
        return [Problem(name, message, line=root.sourceline)]
    decisions = root.findall(_q("decision", ns))
    if len(decisions) != 1:
        message = f"a DMN file must hold exactly one decision, found {len(decisions)}"
        return [Problem(name, message, line=root.sourceline)]
    return _decision_problems(name, decisions[0], ns)


def _decision_problems(name: str, decision: etree._Element, ns: str) -> list[Problem]:
    decision_id = decision.get("id")
    if not decision_id:
        return [Problem(name, "decision has no id", line=decision.sourceline)]
    table = decision.find(_q("decisionTable", ns))
    if table is None:
        message = f"decision '{decision_id}' has no decisionTable"
        return [Problem(name, message, line=decision.sourceline, element=decision_id)]
    problems = []
    if not table.get("id"):
        message = f"decisionTable of decision '{decision_id}' has no id"
        problems.append(Problem(name, message, line=table.sourceline, element=decision_id))
    policy = table.get("hitPolicy", "UNIQUE").upper()
    if policy not in DMN_HIT_POLICIES:
        message = f"hit policy {policy} is not supported; use UNIQUE or COLLECT"
        problems.append(Problem(name, message, line=table.sourceline, element=decision_id))
    return problems
