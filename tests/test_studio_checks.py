"""The studio's checks: validating a draft finds what deploying it would refuse, and a form file is read
as a task would use it, with its JSON errors located."""

from __future__ import annotations

import pytest

from engine.bpmn.library import form_schema, load_bundle, problems_in, read_folder
from engine.platform.errors import DiagramInvalid

from .conftest import DIAGRAMS


def test_a_valid_draft_has_no_problems() -> None:
    assert problems_in(read_folder(DIAGRAMS)) == []


def test_validating_finds_exactly_what_deploying_refuses() -> None:
    files = read_folder(DIAGRAMS)
    files["review_demo.bpmn"] = files["review_demo.bpmn"].replace(
        "decision_due_date = add_months(notified_on, 1)", "decision_due_date = add_months(notified_on, 1",
    ).replace('value="forms/acknowledge.schema.json"', 'value="forms/missing.schema.json"')
    found = problems_in(files)
    with pytest.raises(DiagramInvalid) as caught:
        load_bundle(files)
    assert found == caught.value.problems
    by_element = {p.element_id: p for p in found}
    assert set(by_element) == {"compute_due", "send_reminder"}
    assert by_element["compute_due"].file == "review_demo.bpmn" and by_element["compute_due"].line
    assert "forms/missing.schema.json" in by_element["send_reminder"].message


def test_a_form_is_read_as_a_task_uses_it() -> None:
    files = read_folder(DIAGRAMS)
    schema = form_schema(files, "forms/decision.schema.json")
    assert schema["properties"]["outcome"]["title"] == "Decision"


def test_a_form_that_is_not_json_is_located_by_line_and_column() -> None:
    files = read_folder(DIAGRAMS)
    files["forms/decision.schema.json"] = '{\n  "title": "Decision",\n  "type" "object"\n}'
    with pytest.raises(DiagramInvalid) as caught:
        form_schema(files, "forms/decision.schema.json")
    [problem] = caught.value.problems
    assert problem.file == "forms/decision.schema.json" and problem.line == 3
    assert "line 3, column 10" in problem.message


def test_a_form_must_be_a_form_file_of_the_draft() -> None:
    with pytest.raises(DiagramInvalid, match="does not exist"):
        form_schema(read_folder(DIAGRAMS), "forms/nothing.schema.json")
    files = read_folder(DIAGRAMS)
    files["forms/decision.schema.json"] = '{"type": "array"}'
    with pytest.raises(DiagramInvalid, match="must describe an object"):
        form_schema(files, "forms/decision.schema.json")
