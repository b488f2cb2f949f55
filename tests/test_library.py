"""Diagram validation: every problem named with its file, element id and line."""

from __future__ import annotations

import json

import pytest

from engine.bpmn.library import content_hash, load_bundle, read_folder
from engine.platform.errors import DiagramInvalid, DiagramProblem

from .conftest import DIAGRAMS


def bundle_with(**changes: str) -> dict[str, str]:
    files = read_folder(DIAGRAMS)
    files.update(changes)
    return files


def problems(files: dict[str, str]) -> list[DiagramProblem]:
    with pytest.raises(DiagramInvalid) as caught:
        load_bundle(files)
    return caught.value.problems


def line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_the_test_diagrams_are_valid() -> None:
    bundle = load_bundle(read_folder(DIAGRAMS))
    assert bundle.process_ids == ["panel_work", "review_demo"]
    assert set(bundle.forms) == {"forms/notification.schema.json", "forms/decision.schema.json",
                                 "forms/acknowledge.schema.json", "forms/imr.schema.json"}


def test_content_hash_depends_on_content_only() -> None:
    files = read_folder(DIAGRAMS)
    assert content_hash(files) == content_hash(dict(reversed(list(files.items()))))
    changed = dict(files, **{"forms/imr.schema.json": files["forms/imr.schema.json"] + " "})
    assert content_hash(changed) != content_hash(files)


def test_malformed_xml_names_file_and_line() -> None:
    text = read_folder(DIAGRAMS)["panel_work.bpmn"].replace('<bpmn:endEvent id="panel_end"/>',
                                                             '<bpmn:endEvent id="panel_end">')
    [problem] = problems(bundle_with(**{"panel_work.bpmn": text}))
    assert problem.file == "panel_work.bpmn" and problem.line is not None
    assert "not well-formed XML" in problem.message


def test_unknown_element_names_element_and_line() -> None:
    original = read_folder(DIAGRAMS)["panel_work.bpmn"]
    text = original.replace('<bpmn:endEvent id="panel_end"/>', '<bpmn:endEvnt id="panel_end"/>')
    [problem] = problems(bundle_with(**{"panel_work.bpmn": text}))
    assert problem.file == "panel_work.bpmn"
    assert problem.line == line_of(text, "endEvnt") and problem.element_id == "panel_end"
    assert "endEvnt" in problem.message


def test_missing_call_activity_target() -> None:
    text = read_folder(DIAGRAMS)["review_demo.bpmn"].replace('calledElement="panel_work"',
                                                             'calledElement="panel_wrok"')
    [problem] = problems(bundle_with(**{"review_demo.bpmn": text}))
    assert (problem.file, problem.element_id, problem.line) == ("review_demo.bpmn", "call_panel",
                                                                line_of(text, 'id="call_panel"'))
    assert "panel_wrok" in problem.message


def test_user_task_without_lane() -> None:
    text = read_folder(DIAGRAMS)["panel_work.bpmn"].replace(
        "<bpmn:flowNodeRef>chase_imr</bpmn:flowNodeRef>", "")
    [problem] = problems(bundle_with(**{"panel_work.bpmn": text}))
    assert problem.element_id == "chase_imr" and problem.line == line_of(text, 'id="chase_imr"')
    assert "in no lane, so no role can do it: put it in a lane named after a role" in problem.message


def test_missing_invalid_and_non_schema_form_files() -> None:
    files = read_folder(DIAGRAMS)
    del files["forms/acknowledge.schema.json"]
    files["forms/imr.schema.json"] = '{"type": "object", "properties": {'
    files["forms/decision.schema.json"] = json.dumps({"type": "object", "properties": {"x": {"type": "strnig"}}})
    found = {p.file: p for p in problems(files)}
    assert "does not exist" in found["review_demo.bpmn"].message
    assert found["review_demo.bpmn"].element_id == "send_reminder"
    assert "not valid JSON" in found["forms/imr.schema.json"].message
    assert found["forms/imr.schema.json"].line == 1
    assert "not a valid JSON Schema" in found["forms/decision.schema.json"].message


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("P14D", 'must be quoted: write "P14D"'),
        ("2026-01-01T09:00:00", "must be quoted"),
        ('"2026-01-01T09:00:00"', "has no UTC offset"),
        ('"P14Q"', "is not an ISO 8601"),
        ("().__class__", "cannot run"),
    ],
)
def test_bad_timer_expressions(expression: str, expected: str) -> None:
    text = read_folder(DIAGRAMS)["panel_work.bpmn"].replace('"P14D"', expression)
    [problem] = problems(bundle_with(**{"panel_work.bpmn": text}))
    assert problem.element_id == "imr_late" and expected in problem.message


def test_script_that_escapes_the_sandbox_is_rejected_with_the_task() -> None:
    text = read_folder(DIAGRAMS)["review_demo.bpmn"].replace(
        "decision_due_date = add_months(notified_on, 1)",
        "decision_due_date = ().__class__.__base__.__subclasses__()")
    [problem] = problems(bundle_with(**{"review_demo.bpmn": text}))
    assert problem.element_id == "compute_due" and "__class__" in problem.message
    assert "Work out when the decision is due" in problem.message


def test_user_tasks_inside_embedded_subprocesses_are_checked_and_their_forms_loaded() -> None:
    from pathlib import Path

    bundle = load_bundle(read_folder(Path(__file__).resolve().parent.parent / "processes"))
    assert "progress_report.schema.json" in bundle.forms  # a task inside dhr_review's embedded subprocess
    assert bundle.spec_files["quarterly_progress_reports"] == "dhr_review.bpmn"


DEAD_ENDS = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core"
                  id="dead_ends_definitions" targetNamespace="http://example.org/dhr-tests">
  <bpmn:process id="dead_ends" name="Dead ends" isExecutable="true">
    <bpmn:startEvent id="d_start"/>
    <bpmn:sequenceFlow id="d_f0" sourceRef="d_start" targetRef="do_by_hand"/>
    <bpmn:manualTask id="do_by_hand" name="Post the letter"/>
    <bpmn:sequenceFlow id="d_f1" sourceRef="do_by_hand" targetRef="plain"/>
    <bpmn:task id="plain" name="Task 1"/>
    <bpmn:sequenceFlow id="d_f2" sourceRef="plain" targetRef="say"/>
    <bpmn:scriptTask id="say" name="Say hello"><bpmn:script>print(case_reference)</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="d_f3" sourceRef="say" targetRef="load"/>
    <bpmn:scriptTask id="load" name="Load a module"><bpmn:script>import os
x = 1</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="d_f4" sourceRef="load" targetRef="call_out"/>
    <bpmn:serviceTask id="call_out" name="Call the police system"/>
    <bpmn:sequenceFlow id="d_f5" sourceRef="call_out" targetRef="decide"/>
    <bpmn:businessRuleTask id="decide" name="Decide by table"/>
    <bpmn:sequenceFlow id="d_f6" sourceRef="decide" targetRef="again"/>
    <bpmn:callActivity id="again" name="Do it all again" calledElement="dead_ends"/>
    <bpmn:sequenceFlow id="d_f7" sourceRef="again" targetRef="d_end"/>
    <bpmn:endEvent id="d_end"/>
  </bpmn:process>
</bpmn:definitions>
"""


def test_every_dead_end_is_refused_at_once_with_its_element_line_and_fix() -> None:
    files = bundle_with(**{"dead_ends.bpmn": DEAD_ENDS, "copy.bpmn": read_folder(DIAGRAMS)["panel_work.bpmn"]})
    found = {p.element_id: p for p in problems(files)}
    line = {element: line_of(DEAD_ENDS, f'id="{element}"') for element in
            ("do_by_hand", "plain", "say", "load", "call_out", "decide", "again")}
    for element, where in line.items():
        assert (found[element].file, found[element].line) == ("dead_ends.bpmn", where), element
    assert "manual task 'Post the letter' is for a person, but it is in no lane" in found["do_by_hand"].message
    assert "the one whose people do it" in found["plain"].message and "task 'Task 1'" in found["plain"].message
    assert "'print' is not available" in found["say"].message
    assert "'import' is not allowed" in found["load"].message
    assert "service tasks cannot run here" in found["call_out"].message
    assert "business rule tasks" in found["decide"].message
    assert "call itself (dead_ends → dead_ends)" in found["again"].message
    clash = found["panel_work"]
    assert clash.file == "panel_work.bpmn" and "also the id of a process in copy.bpmn" in clash.message
    for problem in found.values():
        assert "object at 0x" not in problem.message and "None" not in problem.message


def test_calls_that_go_round_in_a_circle_are_refused() -> None:
    review = read_folder(DIAGRAMS)["review_demo.bpmn"]
    panel = read_folder(DIAGRAMS)["panel_work.bpmn"].replace(
        '<bpmn:endEvent id="panel_end"/>',
        '<bpmn:callActivity id="back" calledElement="review_demo"/><bpmn:endEvent id="panel_end"/>')
    found = problems(bundle_with(**{"review_demo.bpmn": review, "panel_work.bpmn": panel}))
    assert any("(panel_work → review_demo → panel_work)" in p.message or
               "(review_demo → panel_work → review_demo)" in p.message for p in found)


def test_pre_and_post_scripts_and_conditions_are_checked() -> None:
    text = read_folder(DIAGRAMS)["review_demo.bpmn"].replace(
        '<bpmn:scriptTask id="compute_due" name="Work out when the decision is due">',
        '<bpmn:scriptTask id="compute_due" name="Work out when the decision is due"><bpmn:extensionElements>'
        "<spiffworkflow:preScript>open('x')</spiffworkflow:preScript></bpmn:extensionElements>")
    found = problems(bundle_with(**{"review_demo.bpmn": text}))
    assert any("pre-script" in p.message and "'open' is not available" in p.message for p in found), found
