"""The BPMN layout tool gives every element readable diagram interchange, touching nothing else."""

from __future__ import annotations

import os
from collections import Counter
from itertools import combinations, pairwise
from pathlib import Path

import pytest
from lxml import etree

from tools import bpmn_layout

MODEL = "http://www.omg.org/spec/BPMN/20100524/MODEL"
BPMNDI = "http://www.omg.org/spec/BPMN/20100524/DI"
DC = "http://www.omg.org/spec/DD/20100524/DC"
DI = "http://www.omg.org/spec/DD/20100524/DI"

FLOW_NODES = {
    "startEvent",
    "endEvent",
    "intermediateCatchEvent",
    "intermediateThrowEvent",
    "boundaryEvent",
    "task",
    "userTask",
    "serviceTask",
    "scriptTask",
    "businessRuleTask",
    "manualTask",
    "sendTask",
    "receiveTask",
    "callActivity",
    "subProcess",
    "transaction",
    "adHocSubProcess",
    "exclusiveGateway",
    "parallelGateway",
    "inclusiveGateway",
    "eventBasedGateway",
    "complexGateway",
}
SHAPED = FLOW_NODES | {"lane", "participant", "dataObjectReference", "dataStoreReference"}


def shared_dir() -> Path:
    return Path(
        os.environ.get("COMPLAINTS_SHARED_DIR") or Path(__file__).resolve().parents[2] / "shared"
    )


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    xsd = shared_dir() / "conformance" / "xsd" / "BPMN20.xsd"
    if not xsd.is_file():
        pytest.skip(f"BPMN XSD not found at {xsd} (set COMPLAINTS_SHARED_DIR)")
    return etree.XMLSchema(etree.parse(str(xsd)))


def definitions(body: str) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="{MODEL}" id="Definitions_1" targetNamespace="http://example.org/complaints">
{body}
</bpmn:definitions>
""".encode()


def flows(*pairs: str) -> str:
    """Sequence flows written as 'source>target' (ids f1, f2, ... in order)."""
    return "\n".join(
        f'<bpmn:sequenceFlow id="f{n}" sourceRef="{a}" targetRef="{b}"/>'
        for n, (a, b) in enumerate((pair.split(">") for pair in pairs), 1)
    )


LINEAR = definitions(f"""
<bpmn:process id="linear" isExecutable="true">
  <bpmn:startEvent id="received"/>
  <bpmn:userTask id="register" name="Register complaint"/>
  <bpmn:serviceTask id="notify" name="Notify citizen"/>
  <bpmn:endEvent id="done"/>
  {flows("received>register", "register>notify", "notify>done")}
</bpmn:process>""")

SPLIT_JOIN = definitions(f"""
<bpmn:process id="split" isExecutable="true">
  <bpmn:startEvent id="received"/>
  <bpmn:exclusiveGateway id="severe" name="Severe?"/>
  <bpmn:userTask id="inspect" name="Inspect on site"/>
  <bpmn:userTask id="letter" name="Send letter"/>
  <bpmn:exclusiveGateway id="merge"/>
  <bpmn:endEvent id="done"/>
  {
    flows(
        "received>severe",
        "severe>inspect",
        "severe>letter",
        "inspect>merge",
        "letter>merge",
        "merge>done",
    )
}
</bpmn:process>""")

LOOP = definitions(f"""
<bpmn:process id="loop" isExecutable="true">
  <bpmn:startEvent id="received"/>
  <bpmn:userTask id="review" name="Review"/>
  <bpmn:exclusiveGateway id="complete" name="Complete?"/>
  <bpmn:userTask id="ask" name="Ask for information"/>
  <bpmn:endEvent id="done"/>
  {flows("received>review", "review>complete", "complete>done", "complete>ask", "ask>review")}
</bpmn:process>""")

BOUNDARY = definitions(f"""
<bpmn:process id="deadline" isExecutable="true">
  <bpmn:startEvent id="received"/>
  <bpmn:userTask id="handle" name="Handle complaint"/>
  <bpmn:boundaryEvent id="overdue" name="60 days" attachedToRef="handle">
    <bpmn:timerEventDefinition><bpmn:timeDuration>"P60D"</bpmn:timeDuration></bpmn:timerEventDefinition>
  </bpmn:boundaryEvent>
  <bpmn:boundaryEvent id="reminder" name="7 days" attachedToRef="handle" cancelActivity="false">
    <bpmn:timerEventDefinition><bpmn:timeDuration>"P7D"</bpmn:timeDuration></bpmn:timerEventDefinition>
  </bpmn:boundaryEvent>
  <bpmn:sendTask id="remind" name="Remind handler"/>
  <bpmn:userTask id="escalate" name="Escalate"/>
  <bpmn:endEvent id="done"/>
  <bpmn:endEvent id="reminded"/>
  <bpmn:endEvent id="escalated"/>
  {
    flows(
        "received>handle",
        "handle>done",
        "overdue>escalate",
        "escalate>escalated",
        "reminder>remind",
        "remind>reminded",
    )
}
</bpmn:process>""")

LANES = definitions(f"""
<bpmn:process id="complaint" name="Complaint" isExecutable="true">
  <bpmn:laneSet id="roles">
    <bpmn:lane id="citizen" name="Citizen">
      <bpmn:flowNodeRef>submitted</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>answer</bpmn:flowNodeRef>
    </bpmn:lane>
    <bpmn:lane id="clerk" name="Clerk">
      <bpmn:flowNodeRef>triage</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>needs_visit</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>close</bpmn:flowNodeRef>
      <bpmn:flowNodeRef>closed</bpmn:flowNodeRef>
    </bpmn:lane>
    <bpmn:lane id="inspector" name="Inspector">
      <bpmn:flowNodeRef>visit</bpmn:flowNodeRef>
    </bpmn:lane>
  </bpmn:laneSet>
  <bpmn:startEvent id="submitted"/>
  <bpmn:userTask id="triage" name="Triage"/>
  <bpmn:exclusiveGateway id="needs_visit" name="Visit needed?"/>
  <bpmn:userTask id="visit" name="Visit site"/>
  <bpmn:userTask id="close" name="Close"/>
  <bpmn:userTask id="answer" name="Rate the answer"/>
  <bpmn:endEvent id="closed"/>
  {
    flows(
        "submitted>triage",
        "triage>needs_visit",
        "needs_visit>visit",
        "needs_visit>close",
        "visit>close",
        "close>answer",
        "answer>closed",
    )
}
</bpmn:process>""")

EVENT_BASED = definitions(f"""
<bpmn:message id="reply_message" name="reply"/>
<bpmn:process id="waiting" isExecutable="true">
  <bpmn:startEvent id="received"/>
  <bpmn:sendTask id="ask" name="Ask the citizen"/>
  <bpmn:eventBasedGateway id="wait"/>
  <bpmn:intermediateCatchEvent id="reply" name="Reply">
    <bpmn:messageEventDefinition messageRef="reply_message"/>
  </bpmn:intermediateCatchEvent>
  <bpmn:intermediateCatchEvent id="silence" name="14 days">
    <bpmn:timerEventDefinition><bpmn:timeDuration>"P14D"</bpmn:timeDuration></bpmn:timerEventDefinition>
  </bpmn:intermediateCatchEvent>
  <bpmn:userTask id="continue" name="Continue"/>
  <bpmn:userTask id="drop" name="Drop complaint"/>
  <bpmn:endEvent id="done"/>
  <bpmn:endEvent id="dropped"/>
  {
    flows(
        "received>ask",
        "ask>wait",
        "wait>reply",
        "wait>silence",
        "reply>continue",
        "silence>drop",
        "continue>done",
        "drop>dropped",
    )
}
</bpmn:process>""")

SUBPROCESS = definitions(f"""
<bpmn:process id="outer" isExecutable="true">
  <bpmn:startEvent id="received"/>
  <bpmn:subProcess id="investigate" name="Investigate">
    <bpmn:startEvent id="inner_start"/>
    <bpmn:userTask id="collect" name="Collect evidence"/>
    <bpmn:endEvent id="inner_end"/>
    <bpmn:sequenceFlow id="i1" sourceRef="inner_start" targetRef="collect"/>
    <bpmn:sequenceFlow id="i2" sourceRef="collect" targetRef="inner_end"/>
  </bpmn:subProcess>
  <bpmn:endEvent id="done"/>
  {flows("received>investigate", "investigate>done")}
</bpmn:process>""")

CALL_ACTIVITY = definitions(f"""
<bpmn:process id="caller" isExecutable="true">
  <bpmn:startEvent id="received"/>
  <bpmn:callActivity id="assess" name="Assess pollution" calledElement="assessment"/>
  <bpmn:endEvent id="done"/>
  {flows("received>assess", "assess>done")}
</bpmn:process>""")

ALL = {
    "linear": LINEAR,
    "split_join": SPLIT_JOIN,
    "loop": LOOP,
    "boundary": BOUNDARY,
    "lanes": LANES,
    "event_based": EVENT_BASED,
    "subprocess": SUBPROCESS,
    "call_activity": CALL_ACTIVITY,
}


# --- helpers ------------------------------------------------------------------------------


def kind(el: etree._Element) -> str:
    tag = el.tag if isinstance(el.tag, str) else ""
    return tag.split("}")[1] if tag.startswith("{" + MODEL + "}") else ""


def semantic(root: etree._Element, drop: set[str] = frozenset()) -> tuple:
    """Everything but diagram interchange and whitespace, prefixes included."""

    def walk(el: etree._Element) -> tuple:
        if not isinstance(el.tag, str):
            return ("#", el.text)
        children = [
            walk(child)
            for child in el
            if not (isinstance(child.tag, str) and child.tag == f"{{{BPMNDI}}}BPMNDiagram")
            and child.get("id") not in drop
        ]
        text = (el.text or "").strip()
        tail = (el.tail or "").strip()
        return (el.tag, el.prefix, list(el.attrib.items()), text, tail, children)

    return walk(root)


def shapes(root: etree._Element) -> dict[str, tuple[float, float, float, float]]:
    found = {}
    for shape in root.iter(f"{{{BPMNDI}}}BPMNShape"):
        bounds = shape.find(f"{{{DC}}}Bounds")
        box = tuple(float(bounds.get(k)) for k in ("x", "y", "width", "height"))
        found[shape.get("bpmnElement")] = box
    return found


def waypoints(root: etree._Element) -> dict[str, list[tuple[float, float]]]:
    return {
        edge.get("bpmnElement"): [
            (float(p.get("x")), float(p.get("y"))) for p in edge.iter(f"{{{DI}}}waypoint")
        ]
        for edge in root.iter(f"{{{BPMNDI}}}BPMNEdge")
    }


def elements(root: etree._Element, kinds: set[str]) -> list[etree._Element]:
    return [el for el in root.iter() if kind(el) in kinds]


def overlap(a: tuple, b: tuple) -> bool:
    ax, ay, aw, ah = a
    bx, by, bw, bh = b
    return ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah


def on_border(point: tuple[float, float], box: tuple) -> bool:
    x, y = point
    bx, by, bw, bh = box
    inside = bx - 1 <= x <= bx + bw + 1 and by - 1 <= y <= by + bh + 1
    return inside and min(abs(x - bx), abs(x - bx - bw), abs(y - by), abs(y - by - bh)) <= 1


def laid_out(content: bytes, schema: etree.XMLSchema) -> etree._Element:
    """Lay content out and check what every result must satisfy."""
    result = bpmn_layout.layout(content)
    root = etree.fromstring(result)
    assert schema.validate(root), schema.error_log
    assert bpmn_layout.layout(result) == result, "layout is not idempotent"
    assert bpmn_layout.layout(content) == result, "layout is not deterministic"
    assert_covered(root)
    assert_no_overlap(root)
    assert_edges_attached(root)
    assert_semantics_kept(content, root)
    return root


def assert_covered(root: etree._Element) -> None:
    shape_refs = Counter(s.get("bpmnElement") for s in root.iter(f"{{{BPMNDI}}}BPMNShape"))
    edge_refs = Counter(e.get("bpmnElement") for e in root.iter(f"{{{BPMNDI}}}BPMNEdge"))
    for el in elements(root, SHAPED):
        assert shape_refs[el.get("id")] == 1, f"{kind(el)} {el.get('id')}"
    for el in elements(root, {"sequenceFlow"}):
        assert edge_refs[el.get("id")] == 1, f"sequenceFlow {el.get('id')}"


def assert_no_overlap(root: etree._Element) -> None:
    hosts = {el.get("id"): el.get("attachedToRef") for el in elements(root, {"boundaryEvent"})}
    nodes = {el.get("id") for el in elements(root, FLOW_NODES)}
    for plane in root.iter(f"{{{BPMNDI}}}BPMNPlane"):
        boxes = {ref: box for ref, box in shapes(plane).items() if ref in nodes}
        for (a, box_a), (b, box_b) in combinations(boxes.items(), 2):
            if hosts.get(a) == b or hosts.get(b) == a:
                continue
            assert not overlap(box_a, box_b), f"{a} overlaps {b}"


def assert_edges_attached(root: etree._Element) -> None:
    """Sequence flows are orthogonal and start and end on their shapes' borders."""
    boxes = shapes(root)
    points = waypoints(root)
    for flow in elements(root, {"sequenceFlow"}):
        route = points[flow.get("id")]
        assert len(route) >= 2
        for (x1, y1), (x2, y2) in pairwise(route):
            assert x1 == x2 or y1 == y2, f"{flow.get('id')} has a diagonal segment"
        assert on_border(route[0], boxes[flow.get("sourceRef")]), flow.get("id")
        assert on_border(route[-1], boxes[flow.get("targetRef")]), flow.get("id")


def assert_semantics_kept(content: bytes, root: etree._Element) -> None:
    original = etree.fromstring(content)
    created = {
        el.get("id")
        for el in root
        if kind(el) == "collaboration" and original.find(f"{{{MODEL}}}collaboration") is None
    }
    assert semantic(root, created) == semantic(original)
    assert set(original.nsmap.items()) <= set(root.nsmap.items())
    assert {BPMNDI, DC, DI} <= set(root.nsmap.values())  # declared on definitions, reused


def centre(box: tuple) -> tuple[float, float]:
    return box[0] + box[2] / 2, box[1] + box[3] / 2


# --- tests --------------------------------------------------------------------------------


def test_a_linear_process_is_laid_out_left_to_right_on_one_row(schema):
    root = laid_out(LINEAR, schema)
    boxes = shapes(root)
    order = ["received", "register", "notify", "done"]
    centres = [centre(boxes[ident]) for ident in order]
    assert [x for x, _ in centres] == sorted(x for x, _ in centres)
    assert len({y for _, y in centres}) == 1
    assert boxes["received"][2:] == (36, 36) and boxes["register"][2:] == (100, 80)
    assert all(len(route) == 2 for route in waypoints(root).values())


def test_the_output_is_pretty_printed_with_the_di_prefixes_on_definitions(schema):
    text = bpmn_layout.layout(LINEAR).decode()
    assert text.startswith('<?xml version="1.0" encoding="UTF-8"?>\n<bpmn:definitions ')
    first_line = text.splitlines()[1]
    for prefix, uri in (("bpmndi", BPMNDI), ("dc", DC), ("di", DI)):
        assert f'xmlns:{prefix}="{uri}"' in first_line
    assert "\n  <bpmn:process" in text
    assert "\n  <bpmndi:BPMNDiagram" in text
    assert '\n      <bpmndi:BPMNShape id="register_di" bpmnElement="register">' in text
    assert '\n        <dc:Bounds x="' in text


def test_an_exclusive_split_and_join_put_the_branches_in_one_column(schema):
    root = laid_out(SPLIT_JOIN, schema)
    boxes = shapes(root)
    inspect, letter = centre(boxes["inspect"]), centre(boxes["letter"])
    assert inspect[0] == letter[0] and inspect[1] != letter[1]
    assert centre(boxes["merge"])[1] == centre(boxes["severe"])[1]
    assert centre(boxes["merge"])[0] > inspect[0] > centre(boxes["severe"])[0]
    gateways = root.iter(f"{{{BPMNDI}}}BPMNShape")
    markers = {s.get("bpmnElement"): s.get("isMarkerVisible") for s in gateways}
    assert markers["severe"] == markers["merge"] == "true"


def test_a_loop_routes_its_back_edge_below_the_nodes(schema):
    root = laid_out(LOOP, schema)
    boxes = shapes(root)
    lowest = max(box[1] + box[3] for box in boxes.values())
    back = waypoints(root)["f5"]  # ask -> review
    assert any(y > lowest for _, y in back)
    assert centre(boxes["review"])[0] < centre(boxes["ask"])[0]
    for flow in ("f1", "f2", "f3", "f4"):
        assert all(y <= lowest for _, y in waypoints(root)[flow])


def test_boundary_events_sit_on_the_bottom_border_and_lead_to_later_columns(schema):
    root = laid_out(BOUNDARY, schema)
    boxes = shapes(root)
    host = boxes["handle"]
    for event, target in (("overdue", "escalate"), ("reminder", "remind")):
        x, y = centre(boxes[event])
        assert y == host[1] + host[3]
        assert host[0] <= x <= host[0] + host[2]
        assert boxes[target][0] > host[0] + host[2]
        assert centre(boxes[target])[1] > y
    assert not overlap(boxes["overdue"], boxes["reminder"])
    routes = waypoints(root)
    assert routes["f3"][0] == (centre(boxes["overdue"])[0], boxes["overdue"][1] + 36)


def test_lanes_become_bands_of_a_created_pool_that_they_tile(schema):
    root = laid_out(LANES, schema)
    collab = root.find(f"{{{MODEL}}}collaboration")
    assert collab is not None and collab.getnext().get("id") == "complaint"
    participant = collab.find(f"{{{MODEL}}}participant")
    assert dict(participant.attrib) == {
        "id": "complaint_participant",
        "name": "Complaint",
        "processRef": "complaint",
    }
    plane = root.find(f".//{{{BPMNDI}}}BPMNPlane")
    assert plane.get("bpmnElement") == collab.get("id")
    boxes = shapes(root)
    pool = boxes["complaint_participant"]
    lanes = [boxes[lane] for lane in ("citizen", "clerk", "inspector")]
    assert lanes[0][1] == pool[1]
    for upper, lower in pairwise(lanes):
        assert upper[1] + upper[3] == lower[1]
    assert lanes[-1][1] + lanes[-1][3] == pool[1] + pool[3]
    for lane in lanes:
        assert lane[0] == pool[0] + 30 and lane[0] + lane[2] == pool[0] + pool[2]
    for lane in root.iter(f"{{{MODEL}}}lane"):
        band = boxes[lane.get("id")]
        for ref in lane.iter(f"{{{MODEL}}}flowNodeRef"):
            box = boxes[ref.text]
            assert band[0] < box[0] and box[0] + box[2] < band[0] + band[2], ref.text
            assert band[1] < box[1] and box[1] + box[3] < band[1] + band[3], ref.text
    shape = next(s for s in plane if s.get("bpmnElement") == "complaint_participant")
    assert shape.get("isHorizontal") == "true"


def test_an_event_based_gateway_fans_out_to_its_catch_events(schema):
    root = laid_out(EVENT_BASED, schema)
    boxes = shapes(root)
    reply, silence = centre(boxes["reply"]), centre(boxes["silence"])
    assert reply[0] == silence[0] > centre(boxes["wait"])[0]
    assert reply[1] == centre(boxes["wait"])[1] < silence[1]
    assert boxes["wait"][2:] == (50, 50)
    route = waypoints(root)["f4"]  # wait -> silence leaves through the gateway's bottom
    assert route[0] == (centre(boxes["wait"])[0], boxes["wait"][1] + 50)


def test_a_collapsed_subprocess_gets_its_own_plane(schema):
    root = laid_out(SUBPROCESS, schema)
    diagrams = root.findall(f"{{{BPMNDI}}}BPMNDiagram")
    assert len(diagrams) == 2
    main, inner = (d.find(f"{{{BPMNDI}}}BPMNPlane") for d in diagrams)
    assert main.get("bpmnElement") == "outer" and inner.get("bpmnElement") == "investigate"
    shape = next(s for s in main if s.get("bpmnElement") == "investigate")
    assert shape.get("isExpanded") == "false"
    assert shapes(main)["investigate"][2:] == (100, 80)
    assert set(shapes(inner)) == {"inner_start", "collect", "inner_end"}
    assert set(waypoints(inner)) == {"i1", "i2"}
    assert not {"inner_start", "collect", "inner_end"} & set(shapes(main))


def test_a_call_activity_is_drawn_as_a_task(schema):
    root = laid_out(CALL_ACTIVITY, schema)
    assert shapes(root)["assess"][2:] == (100, 80)
    assert len(root.findall(f"{{{BPMNDI}}}BPMNDiagram")) == 1


def test_an_existing_diagram_is_replaced(schema):
    stale = LINEAR.replace(
        b"</bpmn:definitions>",
        f"""<bpmndi:BPMNDiagram xmlns:bpmndi="{BPMNDI}" xmlns:dc="{DC}" id="old">
  <bpmndi:BPMNPlane id="old_plane" bpmnElement="linear">
    <bpmndi:BPMNShape id="old_shape" bpmnElement="register">
      <dc:Bounds x="1" y="2" width="3" height="4"/>
    </bpmndi:BPMNShape>
  </bpmndi:BPMNPlane>
</bpmndi:BPMNDiagram>
</bpmn:definitions>""".encode(),
    )
    assert bpmn_layout.layout(stale) == bpmn_layout.layout(LINEAR)


def test_existing_prefixes_and_foreign_content_are_kept(schema):
    content = f"""<?xml version="1.0" encoding="ISO-8859-1"?>
<!-- written by hand -->
<definitions xmlns="{MODEL}" xmlns:omgdc="{DC}" xmlns:spiff="http://spiffworkflow.org/bpmn/schema/1.0/core"
    xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="d" targetNamespace="x">
  <process id="p" isExecutable="true">
    <startEvent id="s"/>
    <scriptTask id="t" name="Caf\xe9">
      <extensionElements><spiff:preScript>x = 1</spiff:preScript></extensionElements>
      <script><![CDATA[if a < b: c = "&"]]></script>
    </scriptTask>
    <endEvent id="e"/>
    <sequenceFlow id="f1" sourceRef="s" targetRef="t">
      <conditionExpression xsi:type="tFormalExpression">True</conditionExpression>
    </sequenceFlow>
    <sequenceFlow id="f2" sourceRef="t" targetRef="e"/>
  </process>
</definitions>
""".encode("iso-8859-1")
    result = bpmn_layout.layout(content)
    root = laid_out(content, schema)
    assert b"<![CDATA[" in result and "Café".encode() in result
    assert b"<!-- written by hand -->" in result
    assert b"<omgdc:Bounds" in result and b"<dc:Bounds" not in result
    assert b'xmlns:bpmndi="' + BPMNDI.encode() + b'"' in result
    assert root.find(f"{{{MODEL}}}process").prefix is None


def test_a_process_with_an_unassigned_node_still_gets_every_lane(schema):
    content = LANES.replace(b"<bpmn:flowNodeRef>visit</bpmn:flowNodeRef>", b"")
    root = laid_out(content, schema)
    boxes = shapes(root)
    inspector, pool = boxes["inspector"], boxes["complaint_participant"]
    assert boxes["visit"][1] > inspector[1] + inspector[3]  # below the lanes, inside the pool
    assert boxes["visit"][1] + boxes["visit"][3] < pool[1] + pool[3]


def test_check_lists_files_without_layout_and_layout_fixes_them(tmp_path, capsys):
    path = tmp_path / "complaint.bpmn"
    path.write_bytes(LOOP)
    assert bpmn_layout.main([str(path), "--check"]) == 1
    assert str(path) in capsys.readouterr().out
    assert path.read_bytes() == LOOP
    assert bpmn_layout.main([str(path)]) == 0
    laid = path.read_bytes()
    assert laid != LOOP
    assert bpmn_layout.main(["--check", str(path)]) == 0
    assert bpmn_layout.main([str(path)]) == 0
    assert path.read_bytes() == laid


def test_check_names_the_elements_without_di(tmp_path, capsys):
    laid = etree.fromstring(bpmn_layout.layout(LINEAR))
    edge = next(laid.iter(f"{{{BPMNDI}}}BPMNEdge"))
    edge.getparent().remove(edge)
    path = tmp_path / "partial.bpmn"
    path.write_bytes(etree.tostring(laid))
    assert bpmn_layout.main(["--check", str(path)]) == 1
    assert "f1" in capsys.readouterr().out


def test_unreadable_files_are_reported_not_raised(tmp_path, capsys):
    path = tmp_path / "broken.bpmn"
    path.write_bytes(b"<bpmn:definitions")
    assert bpmn_layout.main([str(path)]) == 1
    assert str(path) in capsys.readouterr().err
    other = tmp_path / "other.xml"
    other.write_bytes(b"<html/>")
    assert bpmn_layout.main([str(other)]) == 1
    assert "not bpmn:definitions" in capsys.readouterr().err


# --- MIWG reference models ----------------------------------------------------------------


def miwg_files() -> list[Path]:
    return sorted((shared_dir() / "conformance" / "miwg" / "reference").glob("*.bpmn"))


@pytest.mark.parametrize("path", miwg_files(), ids=lambda p: p.name)
def test_miwg_reference_models_get_valid_complete_layout(path, schema):
    root = etree.parse(str(path)).getroot()
    for diagram in root.findall(f"{{{BPMNDI}}}BPMNDiagram"):
        root.remove(diagram)
    content = etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")
    unsupported = bpmn_layout.unsupported_constructs(content)
    if unsupported:
        pytest.skip(f"{path.name} uses {', '.join(unsupported)}, which the tool does not draw")
    result = etree.fromstring(bpmn_layout.layout(content))
    assert schema.validate(result), schema.error_log
    assert_covered(result)
    assert bpmn_layout.missing_di(etree.tostring(result)) == []


def test_the_miwg_suite_is_there_when_the_schema_is(schema):
    assert len(miwg_files()) >= 20


def test_a_stripped_reference_model_is_not_changed_in_its_semantics(schema):
    path = shared_dir() / "conformance" / "miwg" / "reference" / "C.1.0.bpmn"
    root = etree.parse(str(path)).getroot()
    for diagram in root.findall(f"{{{BPMNDI}}}BPMNDiagram"):
        root.remove(diagram)
    content = etree.tostring(root.getroottree(), xml_declaration=True, encoding="UTF-8")
    result = etree.fromstring(bpmn_layout.layout(content))
    assert semantic(result) == semantic(root)
