"""The forms' own rules, applied by the engine for every door: dates against today and each other,
questions that apply only for some answers, a "None" answer, and plain-English messages for every
JSON Schema keyword the DHR forms use."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from engine.bpmn.forms import applies, example_answers, field_errors, keyword_problems, validate_submission
from engine.bpmn.library import load_bundle, read_folder
from engine.platform.errors import DiagramInvalid, FormDataInvalid

PROCESSES = Path(__file__).resolve().parents[1] / "processes"
TODAY = date(2026, 8, 31)


def form(name: str) -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((PROCESSES / f"{name}.schema.json").read_text())
    return schema


def answers(name: str, **changes: Any) -> dict[str, Any]:
    data = {**example_answers(form(name), TODAY.isoformat()), **changes}
    return {key: value for key, value in data.items() if value is not None}


def test_a_past_event_cannot_be_dated_after_today() -> None:
    errors = field_errors(form("commissioning_decision"), answers("commissioning_decision",
                                                                  decision_date="2026-09-01"), TODAY)
    assert errors == {"decision_date": "Date of the decision must be today or in the past"}
    assert field_errors(form("commissioning_decision"), answers("commissioning_decision"), TODAY) == {}
    with pytest.raises(FormDataInvalid) as refused:
        validate_submission(form("first_panel_meeting"), answers("first_panel_meeting",
                                                                 first_meeting_held_on="2027-01-01"), TODAY)
    assert refused.value.errors == {"first_meeting_held_on": "Date held must be today or in the past"}


def test_a_period_cannot_end_before_it_starts() -> None:
    data = answers("terms_of_reference", review_period_from="2024-05-01", review_period_to="2024-04-30")
    assert field_errors(form("terms_of_reference"), data, TODAY) == {
        "review_period_to": "Review period to must be the same as or after review period from (1 May 2024)"}
    same_day = answers("terms_of_reference", review_period_from="2024-05-01", review_period_to="2024-05-01")
    assert field_errors(form("terms_of_reference"), same_day, TODAY) == {}
    died_before_born = answers("notification", victim_date_of_birth="1990-01-02", date_of_death="1990-01-01")
    assert "must be the same as or after victim's date of birth" in \
        field_errors(form("notification"), died_before_born, TODAY)["date_of_death"]


def test_a_nil_return_needs_no_recommendations_and_keeps_none() -> None:
    imr = form("imr")
    nil = answers("imr", report_type="No involvement (nil return)", agency_recommendations=None)
    assert field_errors(imr, nil, TODAY) == {}
    kept = validate_submission(imr, {**nil, "agency_recommendations": ["Hidden, so not kept"]}, TODAY)
    assert "agency_recommendations" not in kept  # an answer to a question that does not apply is dropped
    full = answers("imr", report_type="Short report", agency_recommendations=None)
    assert field_errors(imr, full, TODAY) == {"agency_recommendations": "Enter recommendations for your own agency"}


def test_a_national_recommendation_names_its_body_in_each_item() -> None:
    plan = form("action_plan")
    [item] = answers("action_plan")["recommendations"]
    del item["national_body"]
    local = {**item, "scope": "Local"}
    national = {**item, "scope": "National"}
    errors = field_errors(plan, answers("action_plan", recommendations=[local, national]), TODAY)
    assert errors == {"recommendations.1.national_body": "Enter national body"}


def test_an_empty_list_is_the_none_answer_of_a_required_choice() -> None:
    assert field_errors(form("notification"), answers("notification", parallel_processes=[]), TODAY) == {}
    assert field_errors(form("notification"), answers("notification", parallel_processes=None), TODAY) == {
        "parallel_processes": "Enter parallel processes known so far"}


RAW = re.compile(r"is less than|is greater than|is too (long|short)|is not one of|is not of type|non-unique|"
                 r"does not match|is not valid under|was unexpected|should be non-empty|expected")


def _bad_values(node: dict[str, Any]) -> list[Any]:
    """Values that break each keyword of one property."""
    bad: list[Any] = [{"an": "object"}]  # the wrong type, whatever the type
    if "minimum" in node:
        bad.append(node["minimum"] - 1)
    if "maximum" in node:
        bad.append(node["maximum"] + 1)
    if "maxLength" in node:
        bad.append("x" * (node["maxLength"] + 1))
    if "enum" in node:
        bad.append("not a choice")
    if node.get("format") in ("date", "email"):  # "uri" is not checked: jsonschema needs rfc3987 for it
        bad.append("not right")
    if node.get("type") == "array":
        items = node.get("items", {})
        bad.append(["same", "same"] if node.get("uniqueItems") else [{"wrong": 1}])
        if "enum" in items:
            bad.append(["not a choice"])
        if "maxLength" in items:
            bad.append(["x" * (items["maxLength"] + 1)])
    return bad


FORMS = sorted(PROCESSES.glob("*.schema.json"))


@pytest.mark.parametrize("path", FORMS, ids=[p.stem for p in FORMS])
def test_every_refusal_of_every_form_is_in_plain_english(path: Path) -> None:
    schema = json.loads(path.read_text())
    base = example_answers(schema, TODAY.isoformat())
    for key, node in schema["properties"].items():
        if not applies(node, base):
            continue  # a question that does not apply is not checked: its answer is dropped
        for value in _bad_values(node):
            errors = field_errors(schema, {**base, key: value}, TODAY)
            assert errors, (key, value)
            for field, message in errors.items():
                assert not RAW.search(message), (path.name, field, message)
                assert message[0].isupper() or message.startswith("is not a field"), message


def test_a_form_can_word_a_refusal_its_own_way() -> None:
    schema = {"type": "object", "properties": {"year": {"type": "integer", "title": "Year", "minimum": 2011,
                                                       "x-messages": {"minimum": "Enter a year from 2011 onwards"}},
                                              "count": {"type": "integer", "title": "Count", "minimum": 1,
                                                        "maximum": 9}}}
    assert field_errors(schema, {"year": 26, "count": 26}) == {
        "year": "Enter a year from 2011 onwards", "count": "Count must be between 1 and 9"}


@pytest.mark.parametrize(("node", "problem"), [
    ({"type": "string", "x-not-after": "today"}, "x-not-after is only for a date"),
    ({"type": "string", "format": "date", "x-not-before": "nowhere"}, "must be \"today\" or the name of another date"),
    ({"type": "string", "x-show-when": {"choice": ["Maybe"]}}, "must be among its answers"),
    ({"type": "string", "x-show-when": {"missing": ["A"]}}, "must be another question of the same form"),
    ({"type": "array", "items": {"type": "string"}, "x-none-option": "None"}, "x-none-option is the label"),
])
def test_a_misused_form_keyword_is_refused_when_the_diagrams_are_validated(node: dict[str, Any],
                                                                             problem: str) -> None:
    schema = {"type": "object", "properties": {"choice": {"type": "string", "enum": ["A", "B"]}, "rule": node}}
    [message] = keyword_problems(schema)
    assert message.startswith("rule: ") and problem in message
    files = read_folder(PROCESSES)
    files["imr.schema.json"] = json.dumps({**form("imr"), "properties": {**form("imr")["properties"], "rule": node,
                                                                          "choice": schema["properties"]["choice"]}})
    with pytest.raises(DiagramInvalid) as refused:
        load_bundle(files)
    assert any(p.file == "imr.schema.json" and problem in p.message for p in refused.value.problems)


def test_the_dhr_forms_use_their_keywords_correctly() -> None:
    assert {path.name: keyword_problems(json.loads(path.read_text())) for path in FORMS} == \
        {path.name: [] for path in FORMS}
