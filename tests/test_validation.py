"""Static BPMN/DMN checks: each rule on a mutated minimal process; the MIWG suite never raises."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
from lxml import etree

from engine.errors import Problem
from engine.validation import check_bpmn, check_dmn, element_line, load_schema

FIXTURES = Path(__file__).parent / "fixtures" / "validation"
MINIMAL = (FIXTURES / "minimal.bpmn").read_bytes()
DMN = (FIXTURES / "legal_pathway.dmn").read_bytes()
NAME = "minimal.bpmn"


def _spiff_xsd() -> Path:
    """SpiffWorkflow's own schema copy, located without importing SpiffWorkflow."""
    spec = importlib.util.find_spec("SpiffWorkflow")
    assert spec is not None and spec.submodule_search_locations
    return Path(spec.submodule_search_locations[0]) / "bpmn" / "parser" / "schema" / "BPMN20.xsd"


def _conformance_dir() -> Path | None:
    """shared/ sits beside the clone; CI may point at it with COMPLAINTS_SHARED_DIR."""
    candidates = []
    if os.environ.get("COMPLAINTS_SHARED_DIR"):
        candidates.append(Path(os.environ["COMPLAINTS_SHARED_DIR"]))
    candidates.append(Path(__file__).resolve().parents[2] / "shared")
    for shared in candidates:
        if (shared / "conformance" / "miwg").is_dir():
            return shared / "conformance"
    return None


CONFORMANCE = _conformance_dir()
NO_CONFORMANCE = "shared/conformance not found beside the repo (set COMPLAINTS_SHARED_DIR)"


@pytest.fixture(scope="module")
def schema() -> etree.XMLSchema:
    return load_schema(_spiff_xsd())


@pytest.fixture(scope="module")
def omg_schema() -> etree.XMLSchema:
    if CONFORMANCE is None:
        pytest.skip(NO_CONFORMANCE)
    return load_schema(CONFORMANCE / "xsd" / "BPMN20.xsd")


def mutate(old: str, new: str, content: bytes = MINIMAL, count: int = 1) -> bytes:
    text = content.decode()
    assert old in text, old
    return text.replace(old, new, count).encode()


def without(element_id: str, content: bytes = MINIMAL) -> bytes:
    root = etree.fromstring(content)
    (el,) = root.xpath("//*[@id=$id]", id=element_id)
    el.getparent().remove(el)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8")


def line_of(content: bytes, needle: str) -> int:
    for number, line in enumerate(content.decode().splitlines(), start=1):
        if needle in line:
            return number
    raise AssertionError(needle)


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, problems
    return problems[0]


def test_minimal_executable_process_passes_every_check(schema):
    assert check_bpmn(NAME, MINIMAL, schema) == []


def test_minimal_process_passes_the_omg_schema_too(omg_schema):
    assert check_bpmn(NAME, MINIMAL, omg_schema) == []


def test_schema_is_compiled_once_per_path():
    assert load_schema(_spiff_xsd()) is load_schema(_spiff_xsd())


# 1. malformed XML


def test_malformed_xml_names_the_line(schema):
    content = mutate("</bpmn:userTask>", "</bpmn:usertask>")
    problem = only(check_bpmn(NAME, content, schema))
    assert problem.file == NAME
    assert problem.message.startswith("malformed XML")
    assert problem.line == line_of(content, "</bpmn:usertask>")


def test_empty_file_is_malformed_not_a_traceback(schema):
    assert only(check_bpmn(NAME, b"", schema)).message.startswith("malformed XML")


DOCTYPE = '<!DOCTYPE x [<!ENTITY secret SYSTEM "file:///etc/passwd">]>\n'


def test_external_entities_are_never_resolved(schema):
    content = mutate("<bpmn:definitions", DOCTYPE + "<bpmn:definitions")
    content = mutate('name="Bureau"', 'name="&secret;"', content)
    problem = only(check_bpmn(NAME, content, schema))
    assert "root:" not in problem.message


def test_doctype_is_refused_so_no_entity_reaches_spiffworkflow(schema):
    content = mutate("<bpmn:definitions", DOCTYPE + "<bpmn:definitions")
    problem = only(check_bpmn(NAME, content, schema))
    assert problem.message == "DOCTYPE declarations are not allowed"
    assert problem.line == line_of(content, "<!DOCTYPE")


def test_doctype_in_dmn_is_refused():
    content = mutate("<definitions", DOCTYPE + "<definitions", DMN)
    assert only(check_dmn("legal_pathway.dmn", content)).message == (
        "DOCTYPE declarations are not allowed"
    )


# 2. XSD


def test_xsd_error_names_line_and_element(schema):
    content = mutate('id="to_review" sourceRef="received" ', 'id="to_review" ')
    problem = only(check_bpmn(NAME, content, schema))
    assert problem.message.startswith("XSD: ")
    assert "bpmn:sequenceFlow" in problem.message and "sourceRef" in problem.message
    assert problem.element == "to_review"
    assert problem.line == element_line(content, "to_review")


def test_xsd_errors_stop_the_later_checks(schema):
    content = mutate("<bpmn:startEvent", "<bpmn:bogus />\n    <bpmn:startEvent")
    content = mutate('isExecutable="true"', 'isExecutable="false"', content)
    problems = check_bpmn(NAME, content, schema)
    assert problems and all(p.message.startswith("XSD: ") for p in problems)
    assert problems[0].element == "minimal"  # the bogus element has no id: its process is named


def test_correlation_properties_as_modelers_write_them_pass_the_omg_schema(omg_schema):
    correlation = """</bpmn:collaboration>
  <bpmn:message id="reply_message" name="reply" />
  <bpmn:correlationProperty id="tracking_number" name="tracking number">
    <bpmn:correlationPropertyRetrievalExpression messageRef="reply_message">
      <bpmn:formalExpression>tracking_number</bpmn:formalExpression>
    </bpmn:correlationPropertyRetrievalExpression>
  </bpmn:correlationProperty>"""
    content = mutate("</bpmn:collaboration>", correlation)
    assert not omg_schema.validate(etree.fromstring(content))  # the raw schema alone refuses it
    assert check_bpmn(NAME, content, omg_schema) == []


# 3. executable process


@pytest.mark.parametrize("replacement", ['isExecutable="false"', ""])
def test_file_without_executable_process_is_refused_as_a_drawing(schema, replacement):
    content = mutate('isExecutable="true"', replacement)
    assert check_bpmn(NAME, content, schema) == [
        Problem(
            NAME, "no executable process", line=element_line(content, "minimal"), element="minimal"
        )
    ]


def test_non_executable_pool_beside_an_executable_one_is_not_checked(schema):
    pool = """<bpmn:process id="partner" isExecutable="false">
    <bpmn:task id="undrawn_partner_task" />
  </bpmn:process>
  <bpmndi:BPMNDiagram"""
    assert check_bpmn(NAME, mutate("<bpmndi:BPMNDiagram", pool), schema) == []


# 4. BPMNDI


@pytest.mark.parametrize(
    ("di_id", "tag", "element"),
    [
        ("received_di", "startEvent", "received"),
        ("review_complaint_di", "userTask", "review_complaint"),
        ("accepted_gateway_di", "exclusiveGateway", "accepted_gateway"),
        ("review_overdue_di", "boundaryEvent", "review_overdue"),
        ("to_refused_di", "sequenceFlow", "to_refused"),
        ("intake_lane_di", "lane", "intake_lane"),
        ("bureau_di", "participant", "bureau"),
    ],
)
def test_element_without_diagram_layout_is_named(schema, di_id, tag, element):
    content = without(di_id)
    problem = only(check_bpmn(NAME, content, schema))
    assert problem.message == f"no diagram layout (BPMNDI) for {tag} '{element}'"
    assert problem.element == element
    assert problem.line == element_line(content, element)


# 5. Camunda flavour


def test_camunda_attribute_is_refused_naming_the_element(schema):
    content = mutate(
        '<bpmn:userTask id="review_complaint"',
        '<bpmn:userTask xmlns:camunda="http://camunda.org/schema/1.0/bpmn" '
        'camunda:formKey="review" camunda:candidateGroups="intake" id="review_complaint"',
    )
    problem = only(check_bpmn(NAME, content, schema))
    assert problem.message == (
        "Camunda-style camunda:formKey, camunda:candidateGroups is not executable here; "
        "use the spiffworkflow extensions / Python expressions"
    )
    assert problem.element == "review_complaint"


@pytest.mark.parametrize(
    "extension",
    [
        '<zeebe:taskDefinition xmlns:zeebe="http://camunda.org/schema/zeebe/1.0" type="review" />',
        '<activiti:field xmlns:activiti="http://activiti.org/bpmn" name="x" />',
    ],
)
def test_camunda_extension_element_is_refused_naming_its_task(schema, extension):
    content = mutate("<spiffworkflow:properties>", extension + "<spiffworkflow:properties>")
    problem = only(check_bpmn(NAME, content, schema))
    assert problem.message.startswith("Camunda-style ")
    assert problem.element == "review_complaint"


def test_camunda_namespace_declared_but_unused_is_fine(schema):
    content = mutate(
        "<bpmn:definitions", '<bpmn:definitions xmlns:camunda="http://camunda.org/schema/1.0/bpmn"'
    )
    assert check_bpmn(NAME, content, schema) == []


@pytest.mark.parametrize("juel", ["${accepted}", "#{accepted == true}"])
def test_juel_condition_is_refused_as_camunda_style(schema, juel):
    problem = only(check_bpmn(NAME, mutate("accepted == True", juel), schema))
    assert problem.message.startswith("Camunda-style condition expression")
    assert problem.message.endswith("use the spiffworkflow extensions / Python expressions")
    assert problem.element == "to_handled"


def test_juel_timer_is_refused_as_camunda_style(schema):
    problem = only(check_bpmn(NAME, mutate('"P15D"', "${deadline}"), schema))
    assert problem.message.startswith("Camunda-style timer expression")
    assert problem.element == "review_overdue"


# 6. expressions and reserved ids


def test_condition_that_does_not_compile_names_the_sequence_flow(schema):
    content = mutate("accepted == True", "accepted = True")
    problem = only(check_bpmn(NAME, content, schema))
    assert problem.message.startswith("condition expression 'accepted = True' is not a Python")
    assert problem.element == "to_handled"
    assert problem.line == line_of(content, "accepted = True")


def test_empty_condition_is_refused(schema):
    problem = only(check_bpmn(NAME, mutate("accepted == True", "  "), schema))
    assert problem.message == "condition expression is empty"
    assert problem.element == "to_handled"


@pytest.mark.parametrize(
    "literal", ["P15D", "PT1H", "P1Y2M10DT2H30M", "R3/PT1H", "2026-01-01T00:00:00"]
)
def test_unquoted_timer_literal_must_be_quoted(schema, literal):
    content = mutate('"P15D"', literal)
    problem = only(check_bpmn(NAME, content, schema))
    assert problem.message == f'timer literal must be quoted, e.g. "{literal}"'
    assert problem.element == "review_overdue"
    assert problem.line == line_of(content, "<bpmn:timeDuration")


@pytest.mark.parametrize(
    "timer", ['"PT1H"', "deadline_handling", '"R3/PT1H"', "due_at.isoformat()"]
)
def test_quoted_timer_literal_or_expression_passes(schema, timer):
    assert check_bpmn(NAME, mutate('"P15D"', timer), schema) == []


@pytest.mark.parametrize("tag", ["timeDate", "timeCycle"])
def test_every_timer_kind_is_checked(schema, tag):
    duration = '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"P15D"</bpmn:timeDuration>'
    content = mutate(duration, f'<bpmn:{tag} xsi:type="bpmn:tFormalExpression">"P15D</bpmn:{tag}>')
    problem = only(check_bpmn(NAME, content, schema))
    assert problem.message.startswith("timer expression '\"P15D' is not a Python expression")


def test_timer_without_expression_is_refused(schema):
    content = mutate(
        '<bpmn:timeDuration xsi:type="bpmn:tFormalExpression">"P15D"</bpmn:timeDuration>', ""
    )
    problem = only(check_bpmn(NAME, content, schema))
    assert problem.message == "timer has no timeDate, timeDuration or timeCycle"
    assert problem.element == "review_overdue"


@pytest.mark.parametrize(("old", "reserved"), [("received", "Start"), ("handled", "End")])
def test_ids_start_and_end_collide_with_spiffworkflow_names(schema, old, reserved):
    content = mutate(old, reserved, count=-1)
    problem = only(check_bpmn(NAME, content, schema))
    assert problem.element == reserved
    assert "collides with a SpiffWorkflow internal task name" in problem.message
    assert problem.line == element_line(content, reserved)


# 7. several outgoing flows


def _extra_flow(source: str) -> bytes:
    content = mutate(
        '<bpmn:sequenceFlow id="to_review"',
        f'<bpmn:sequenceFlow id="shortcut" sourceRef="{source}" targetRef="escalated" />\n'
        '    <bpmn:sequenceFlow id="to_review"',
    )
    edge = """<bpmndi:BPMNEdge id="shortcut_di" bpmnElement="shortcut">
        <di:waypoint x="1" y="1" />
        <di:waypoint x="2" y="2" />
      </bpmndi:BPMNEdge>
    </bpmndi:BPMNPlane>"""
    return mutate("</bpmndi:BPMNPlane>", edge, content)


def test_task_with_two_outgoing_flows_must_use_a_gateway(schema):
    content = _extra_flow("review_complaint")
    problem = only(check_bpmn(NAME, content, schema))
    assert problem.message == "use a gateway: task has 2 outgoing flows"
    assert problem.element == "review_complaint"
    assert problem.line == element_line(content, "review_complaint")


def test_boundary_event_with_two_outgoing_flows_must_use_a_gateway(schema):
    problem = only(check_bpmn(NAME, _extra_flow("review_overdue"), schema))
    assert problem.message == "use a gateway: event has 2 outgoing flows"


def test_start_event_may_fork_as_spiffworkflow_allows(schema):
    assert check_bpmn(NAME, _extra_flow("received"), schema) == []


def test_all_problems_of_a_file_are_reported_together(schema):
    content = mutate("accepted == True", "accepted = True", without("to_refused_di"))
    content = mutate('"P15D"', "P15D", content)
    assert len(check_bpmn(NAME, content, schema)) == 3


# element_line


def test_element_line_finds_the_element_by_id():
    assert element_line(MINIMAL, "review_complaint") == line_of(MINIMAL, 'id="review_complaint"')


@pytest.mark.parametrize("content", [MINIMAL, b"<broken"])
def test_element_line_is_none_when_it_cannot_tell(content):
    assert element_line(content, "no_such_element") is None


# DMN


def test_minimal_decision_table_passes():
    assert check_dmn("legal_pathway.dmn", DMN) == []


def test_malformed_dmn_names_the_line():
    problem = only(check_dmn("legal_pathway.dmn", mutate("</rule>", "</rul>", DMN)))
    assert problem.message.startswith("malformed XML")
    assert problem.line == line_of(DMN, "</rule>")


def test_bpmn_file_is_not_a_dmn_file():
    assert only(check_dmn("minimal.dmn", MINIMAL)).message.startswith("not a DMN file")


def test_dmn_version_spiffworkflow_cannot_read_is_refused():
    dmn_1_5 = "https://www.omg.org/spec/DMN/20230324/MODEL/"
    content = mutate("https://www.omg.org/spec/DMN/20191111/MODEL/", dmn_1_5, DMN)
    assert "is not supported" in only(check_dmn("legal_pathway.dmn", content)).message


def test_decision_without_decision_table_is_refused():
    root = etree.fromstring(DMN)
    decision = root[0]
    decision.remove(decision[0])
    problem = only(check_dmn("legal_pathway.dmn", etree.tostring(root)))
    assert problem.message == "decision 'legal_pathway' has no decisionTable"
    assert problem.element == "legal_pathway"


def test_decision_without_id_is_refused():
    content = mutate('<decision id="legal_pathway"', "<decision", DMN)
    assert only(check_dmn("legal_pathway.dmn", content)).message == "decision has no id"


def test_dmn_file_holds_exactly_one_decision():
    content = mutate("</definitions>", '<decision id="other" /></definitions>', DMN)
    problem = only(check_dmn("legal_pathway.dmn", content))
    assert problem.message == "a DMN file must hold exactly one decision, found 2"


def test_hit_policy_spiffworkflow_does_not_implement_is_refused():
    content = mutate('hitPolicy="UNIQUE"', 'hitPolicy="FIRST"', DMN)
    problem = only(check_dmn("legal_pathway.dmn", content))
    assert problem.message == "hit policy FIRST is not supported; use UNIQUE or COLLECT"


# MIWG conformance suite

# conformance/README.md: every reference and bpmn.io file is XSD-valid; these five exports are not.
NOT_XSD_VALID = {
    "camunda-eclipse-3.0.0/B.1.0-export.bpmn",
    "camunda-eclipse-3.0.0/B.2.0-export.bpmn",
    "signavio-19.9.0/B.1.0-export.bpmn",
    "signavio-19.9.0/B.2.0-export.bpmn",
    "signavio-19.9.0/C.9.0-export.bpmn",
}


def _miwg_files() -> list:
    if CONFORMANCE is None:
        return [pytest.param(None, marks=pytest.mark.skip(reason=NO_CONFORMANCE), id="miwg")]
    miwg = CONFORMANCE / "miwg"
    return [
        pytest.param(p, id=p.relative_to(miwg).as_posix()) for p in sorted(miwg.rglob("*.bpmn"))
    ]


@pytest.mark.parametrize("path", _miwg_files())
def test_miwg_model_gives_problems_never_a_traceback(omg_schema, path):
    relative = path.relative_to(CONFORMANCE / "miwg").as_posix()
    problems = check_bpmn(relative, path.read_bytes(), omg_schema)
    assert all(isinstance(p, Problem) and p.file == relative and p.message for p in problems)
    xsd = [p for p in problems if p.message.startswith("XSD: ")]
    if relative in NOT_XSD_VALID:
        assert xsd and all(p.line for p in xsd)
    else:
        assert xsd == []
    if any(p.message == "no executable process" for p in problems):
        assert len(problems) == 1


def test_miwg_drawings_are_refused_with_the_precise_message(omg_schema):
    if CONFORMANCE is None:
        pytest.skip(NO_CONFORMANCE)
    path = CONFORMANCE / "miwg" / "reference" / "A.1.0.bpmn"
    assert [p.message for p in check_bpmn("A.1.0.bpmn", path.read_bytes(), omg_schema)] == [
        "no executable process"
    ]


def test_element_id_reused_by_an_extension_is_named(schema):
    twice = mutate(
        "<spiffworkflow:properties>",
        '<spiffworkflow:serviceTaskOperator id="review_complaint" /><spiffworkflow:properties>',
    )
    problems = check_bpmn(NAME, twice, schema)
    named = [(p.element, "also used by" in p.message) for p in problems]
    assert named == [("review_complaint", True)]


@pytest.mark.parametrize(
    "timer", ['"P99999999Y"', '"R/P99999999Y"', '"P300000M"', '"R/2026-12-01T01:00:00+08:00/P101Y"']
)
def test_a_timer_literal_longer_than_a_century_is_refused(schema, timer):
    """SpiffWorkflow counts such a duration's months one by one: P99999999Y held the step that
    reached it (a public registration) for minutes, then overflowed."""
    content = mutate('"P15D"', timer)
    problem = only(check_bpmn(NAME, content, schema))
    assert problem.message == f"timer {timer} is longer than 100 years"
    assert problem.element == "review_overdue"
    assert problem.line == line_of(content, "<bpmn:timeDuration")


@pytest.mark.parametrize("timer", ['"P100Y"', '"P1200M"', '"R/PT1S"', '"9999-12-31T23:59:59Z"'])
def test_a_timer_literal_up_to_a_century_passes(schema, timer):
    assert check_bpmn(NAME, mutate('"P15D"', timer), schema) == []
