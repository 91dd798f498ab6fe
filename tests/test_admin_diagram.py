"""`GET /api/instances/<id>/diagram`: the BPMN of the instance's own deployment version and what
the admin page marks on it (completed elements, the path taken, open tasks, waiting timers and
messages with due times), through the life of the demo process."""

from __future__ import annotations

import pytest

from api.admin_diagram import parse_model, taken_flows, waiting_messages
from api.composition import bundle_files
from engine import Actor, Engine
from tests.conftest import ADMIN, DEMO_PROCESSES, ENFORCEMENT
from tests.test_admin_support import admin_api, complete_review
from tests.test_api_support import Api, error_of


@pytest.fixture
def api(engine: Engine, sqlite_url: str) -> Api:
    return admin_api(engine, sqlite_url)


def diagram(api: Api, instance_id: int) -> dict:
    answer = api.as_("admin").get(f"/api/instances/{instance_id}/diagram")
    assert answer.status_code == 200, answer.get_json()
    return answer.get_json()


def waiting(body: dict) -> list[tuple[str, str, str | None]]:
    return sorted((w["element_id"], w["kind"], w["due_at"]) for w in body["waiting"])


def test_the_diagram_is_for_administrators_and_known_instances(api: Api) -> None:
    instance = api.start()
    path = f"/api/instances/{instance.id}/diagram"
    assert error_of(api.client.get(path))[:2] == (401, "unauthorized")
    assert error_of(api.as_("li.intake").get(path))[:2] == (403, "forbidden")
    assert error_of(api.as_("admin").get("/api/instances/999/diagram"))[:2] == (404, "not_found")


def test_a_new_instance_shows_its_open_review_and_both_boundary_timers(api: Api) -> None:
    instance = api.start()
    body = diagram(api, instance.id)
    assert body["file"] == "engine_demo.bpmn" and body["deployment_version"] == 1
    assert '<bpmn:process id="engine_demo"' in body["bpmn_xml"]
    assert body["completed_elements"] == ["received"]
    assert body["completed_flows"] == ["to_review"]
    assert body["active_elements"] == ["review"]
    assert waiting(body) == [
        ("review_reminder", "timer", "2026-03-03T01:00:00+00:00"),
        ("review_timeout", "timer", "2026-03-04T01:00:00+00:00"),
    ]


def test_after_the_review_the_path_is_marked_and_reply_or_lapse_is_awaited(api: Api) -> None:
    instance = api.start()
    complete_review(api.engine, instance, "low")
    body = diagram(api, instance.id)
    assert body["completed_elements"] == [
        "received",
        "review",
        "register",
        "decide_route",
        "route_split",
    ]
    assert body["completed_flows"] == [
        "to_await_reply",
        "to_decide_route",
        "to_register",
        "to_review",
        "to_route_split",
    ]
    assert body["active_elements"] == []
    # SpiffWorkflow waits on the event-based gateway; the page shows each of its branches.
    assert waiting(body) == [
        ("reply", "message", None),
        ("reply_window", "timer", "2026-03-09T01:00:00+00:00"),
    ]
    assert {w["via"] for w in body["waiting"]} == {"await_reply"}
    assert next(w for w in body["waiting"] if w["kind"] == "message")["label"] == "reply_received"


def test_a_call_activity_is_active_while_its_called_process_has_an_open_task(api: Api) -> None:
    instance = api.start()
    complete_review(api.engine, instance, "high")
    body = diagram(api, instance.id)
    assert body["active_elements"] == ["inspect_site", "inspect"]
    assert (
        "to_inspect" in body["completed_flows"] and "to_await_reply" not in body["completed_flows"]
    )
    assert body["waiting"] == []

    [task] = api.engine.tasks(instance_id=instance.id)
    api.engine.complete_task(task.id, {"violation_found": False}, ENFORCEMENT)
    done = diagram(api, instance.id)
    assert done["status"] == "completed"
    assert {"inspect_site", "inspection_done", "inspected"} <= set(done["completed_elements"])
    assert done["active_elements"] == [] and done["waiting"] == []


def test_a_received_message_ends_the_wait(api: Api) -> None:
    instance = api.start()
    complete_review(api.engine, instance, "low")
    api.engine.send_message("C-1", "reply_received", {"text": "ok"}, Actor.system_actor())
    body = diagram(api, instance.id)
    assert body["status"] == "completed"
    assert {"reply", "replied"} <= set(body["completed_elements"])
    assert (
        "to_reply" in body["completed_flows"] and "to_reply_window" not in body["completed_flows"]
    )
    assert body["waiting"] == []


def test_an_instance_is_drawn_with_the_version_it_runs_on(api: Api) -> None:
    first = api.start("C-1")
    files = bundle_files(DEMO_PROCESSES)
    files["engine_demo.bpmn"] = files["engine_demo.bpmn"].replace(
        b'name="Review"', b'name="Review (v2)"'
    )
    assert api.engine.deploy(files, ADMIN).version == 2
    second = api.start("C-2")
    assert diagram(api, first.id)["deployment_version"] == 1
    assert 'name="Review (v2)"' not in diagram(api, first.id)["bpmn_xml"]
    assert 'name="Review (v2)"' in diagram(api, second.id)["bpmn_xml"]


# ------------------------------------------------------------ reading the diagram alone

CHOICE = b"""<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="x">
  <message id="m" name="answer"/>
  <process id="p" isExecutable="true">
    <startEvent id="s"/>
    <sequenceFlow id="f1" sourceRef="s" targetRef="ask"/>
    <userTask id="ask"/>
    <boundaryEvent id="cancelled" attachedToRef="ask"><messageEventDefinition messageRef="m"/>
    </boundaryEvent>
    <sequenceFlow id="f2" sourceRef="ask" targetRef="split"/>
    <exclusiveGateway id="split"/>
    <sequenceFlow id="f3" sourceRef="split" targetRef="wait_a"/>
    <sequenceFlow id="f4" sourceRef="split" targetRef="wait_b"/>
    <intermediateCatchEvent id="wait_a"><messageEventDefinition messageRef="m"/>
    </intermediateCatchEvent>
    <receiveTask id="wait_b" messageRef="m"/>
    <sequenceFlow id="f5" sourceRef="s" targetRef="direct"/>
    <intermediateCatchEvent id="direct"><messageEventDefinition messageRef="m"/>
    </intermediateCatchEvent>
  </process>
</definitions>"""


def test_message_waits_are_claimed_only_where_the_diagram_can_tell() -> None:
    model = parse_model(CHOICE)
    assert model.messages == {
        "cancelled": "answer",
        "wait_a": "answer",
        "wait_b": "answer",
        "direct": "answer",
    }
    # At the user task: its boundary message waits, and the catcher straight after the start.
    assert waiting_messages(model, ["s"], ["ask"]) == [
        ("cancelled", "answer", None),
        ("direct", "answer", None),
    ]
    # After an exclusive choice the diagram cannot tell which branch was taken: none claimed.
    assert waiting_messages(model, ["s", "ask", "split", "direct"], []) == []
    assert taken_flows(model, ["s", "ask", "split"], ["wait_a"]) == ["f1", "f2", "f3"]
