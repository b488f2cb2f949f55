"""What changed between two versions, per element: names, scripts line by line, timers, conditions,
lanes, forms, and the fields of changed forms."""

from __future__ import annotations

import json

from engine.bpmn.diffing import DiffLine, ValueChange, diff_versions
from engine.bpmn.library import read_folder

from .dhr_driver import PROCESSES

FILES = read_folder(PROCESSES)
SIX = "completion_due_date = add_months(clock_start_date, 6)"
TWELVE = "completion_due_date = add_months(clock_start_date, 12)"


def _changed(**edits: list[tuple[str, str]]) -> dict[str, str]:
    files = dict(FILES)
    for path, pairs in edits.items():
        path = path.replace("__", ".")
        for old, new in pairs:
            assert old in files[path], old
            files[path] = files[path].replace(old, new, 1)
    return files


def test_a_script_changed_from_six_to_twelve_months_shows_the_old_and_new_lines() -> None:
    [file] = diff_versions(FILES, _changed(dhr_review__bpmn=[(SIX, TWELVE)]))
    assert (file.path, file.change) == ("dhr_review.bpmn", "changed")
    [element] = file.elements
    assert (element.element_id, element.kind, element.name) == ("start_six_month_clock", "scriptTask",
                                                                 "Start the six-month clock")
    assert element.values == [] and not element.other
    [script] = element.scripts
    assert script.what == "Script"
    changed = [line for line in script.lines if line.kind in ("added", "removed")]
    assert changed == [DiffLine("removed", SIX), DiffLine("added", TWELVE)]
    assert any(line.kind == "context" for line in script.lines)


def test_names_timers_conditions_lanes_and_forms_say_old_and_new() -> None:
    reminder = '<bpmn:timeDate xsi:type="bpmn:tFormalExpression">deadline_reminder_at</bpmn:timeDate>'
    condition = 'extension_outcome == "New completion date agreed"'
    lane_ref = "        <bpmn:flowNodeRef>stop_the_clocks</bpmn:flowNodeRef>\n"
    files = _changed(dhr_review__bpmn=[
        ('name="Conducting the review"', 'name="Conduct the review"'),
        (reminder, reminder.replace("deadline_reminder_at", "deadline_breach_at")),
        (condition, condition.replace("New", "A new")),
        (lane_ref, ""),
        ("<bpmn:flowNodeRef>stage_conducting</bpmn:flowNodeRef>",
         "<bpmn:flowNodeRef>stage_conducting</bpmn:flowNodeRef>" + lane_ref.strip()),
        ('value="deadline_reminder.schema.json"', 'value="decision_reminder.schema.json"'),
    ])
    [file] = diff_versions(FILES, files)
    by_id = {e.element_id: e for e in file.elements}
    assert by_id["stage_conducting"].values == [ValueChange("Name", "Conducting the review", "Conduct the review")]
    timer = next(e for e in file.elements if any(v.what == "Timer" for v in e.values))
    assert ValueChange("Timer", "timeDate: deadline_reminder_at", "timeDate: deadline_breach_at") in timer.values
    flow = next(e for e in file.elements if e.kind == "sequenceFlow")
    assert flow.values == [ValueChange("Condition", condition, condition.replace("New", "A new"))]
    assert by_id["stop_the_clocks"].values == [ValueChange("Lane", "CSP Chair", "Independent Chair")]
    form = next(e for e in file.elements if any(v.what == "Form" for v in e.values))
    assert ValueChange("Form", "deadline_reminder.schema.json", "decision_reminder.schema.json") in form.values


def test_a_changed_form_says_which_fields_were_added_removed_and_changed() -> None:
    schema = json.loads(FILES["decision_reminder.schema.json"])
    props = schema["properties"]
    props["decision_reminder_method"]["title"] = "How it was sent"
    del props["decision_reminder_notes"]
    props["decision_reminder_to"] = {"type": "string", "title": "Sent to"}
    schema["required"] = [*schema.get("required", []), "decision_reminder_to"]
    files = {**FILES, "decision_reminder.schema.json": json.dumps(schema)}
    [file] = diff_versions(FILES, files)
    fields = {f.name: f for f in file.fields}
    assert fields["decision_reminder_method"].change == "changed"
    assert fields["decision_reminder_method"].values == [ValueChange("Title", "How", "How it was sent")]
    assert fields["decision_reminder_notes"].change == "removed"
    added = fields["decision_reminder_to"]
    assert added.change == "added" and ValueChange("Required", None, "yes") in added.values


def test_a_layout_change_says_only_the_layout_changed() -> None:
    text = FILES["dhr_review.bpmn"]
    moved = text.replace('x="', 'x="1', 1)
    assert moved != text
    [file] = diff_versions(FILES, {**FILES, "dhr_review.bpmn": moved})
    assert file.layout_only and file.elements == []
