"""Diagram validation: every problem named with its file, element id and line."""

from __future__ import annotations

import json

import pytest

from engine.errors import DiagramInvalid, DiagramProblem
from engine.library import content_hash, load_bundle, read_folder

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
    assert "not in a lane" in problem.message


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
