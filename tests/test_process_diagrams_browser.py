"""Every diagram in processes/ as a process designer sees it: bpmn-js (the library of bpmn.io
and Camunda Modeler, from node_modules) imports each file in headless Chromium without an error
or a single warning, and draws a shape for every flow node. Skipped, saying why, where the
browser, playwright or node_modules/bpmn-js is missing (the same conditions as the admin pages'
browser test)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from lxml import etree

from tests.test_admin_browser import ARGS, CHROMIUM, VIEWER, pytestmark, sync_playwright

__all__ = ["pytestmark"]

PROCESSES = Path(__file__).resolve().parents[1] / "processes"
BPMN = "{http://www.omg.org/spec/BPMN/20100524/MODEL}"
FLOW_NODES = {
    "startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent",
    "boundaryEvent", "task", "userTask", "serviceTask", "scriptTask", "businessRuleTask",
    "sendTask", "receiveTask", "manualTask", "callActivity", "subProcess",
    "exclusiveGateway", "parallelGateway", "inclusiveGateway", "eventBasedGateway",
}  # fmt: skip

IMPORT = """async (xml) => {
  const viewer = new BpmnJS({container: '#canvas'});
  try {
    const result = await viewer.importXML(xml);
    const shapes = viewer.get('elementRegistry').getAll()
      .map(e => e.businessObject && e.businessObject.id);
    return {warnings: result.warnings.map(w => w.message), shapes: shapes};
  } catch (err) {
    return {error: err.message, warnings: (err.warnings || []).map(w => w.message), shapes: []};
  } finally {
    viewer.destroy();
  }
}"""


@pytest.fixture(scope="module")
def page() -> Iterator:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=ARGS
        )
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.set_content('<div id="canvas" style="width:1600px;height:1000px"></div>')
        page.add_script_tag(path=str(VIEWER))
        yield page
        browser.close()


def flow_node_ids(path: Path) -> set[str]:
    tree = etree.parse(str(path))
    return {
        element.get("id")
        for element in tree.iter()
        if isinstance(element.tag, str)
        and element.tag.startswith(BPMN)
        and element.tag[len(BPMN) :] in FLOW_NODES
    }


@pytest.mark.parametrize("path", sorted(PROCESSES.glob("*.bpmn")), ids=lambda p: p.name)
def test_bpmn_js_imports_the_diagram_without_a_warning(page, path: Path) -> None:
    result = page.evaluate(IMPORT, path.read_text(encoding="utf-8"))
    assert "error" not in result, result
    assert result["warnings"] == []
    expected = flow_node_ids(path)
    assert expected, "no flow nodes found: the check would prove nothing"
    missing = expected - set(result["shapes"])
    assert not missing, f"not drawn: {sorted(missing)}"


def test_the_check_sees_a_dangling_reference_and_a_node_without_layout(page) -> None:
    """The same import on a diagram with a flow to nowhere and a task without a shape."""
    xml = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI"
  xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" id="d" targetNamespace="t">
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="start" />
    <bpmn:task id="unlaid" />
    <bpmn:sequenceFlow id="f" sourceRef="start" targetRef="nowhere" />
  </bpmn:process>
  <bpmndi:BPMNDiagram id="dia"><bpmndi:BPMNPlane id="plane" bpmnElement="p">
    <bpmndi:BPMNShape id="start_di" bpmnElement="start">
      <dc:Bounds x="100" y="100" width="36" height="36" /></bpmndi:BPMNShape>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>"""
    result = page.evaluate(IMPORT, xml)
    assert result["warnings"], result
    assert "unlaid" not in result["shapes"]
