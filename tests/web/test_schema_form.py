"""Every form of the DHR process renders, and typed values become the data its schema expects."""

from __future__ import annotations

import json

import pytest
from flask import Flask, render_template_string
from werkzeug.datastructures import MultiDict

from engine.bpmn.forms import field_errors
from tests.web.conftest import PROCESSES
from webforms import schema_form

FORMS = sorted(PROCESSES.glob("*.schema.json"))
TEMPLATE = '{% from "macros/fields.html" import field %}{% for f in fields %}{{ field(f) }}{% endfor %}'


@pytest.fixture(scope="module")
def app() -> Flask:
    from engine.platform.settings import Settings
    from webforms import create_app

    return create_app({"TESTING": True, "SETTINGS": Settings(database_url="sqlite://", env="test")})


@pytest.mark.parametrize("path", FORMS, ids=[p.name for p in FORMS])
def test_every_process_form_renders_each_field(app: Flask, path) -> None:  # type: ignore[no-untyped-def]
    schema = json.loads(path.read_text())
    fields = schema_form.fields(schema, schema_form.state_from_data(schema, {}), {})
    with app.test_request_context():
        html = render_template_string(TEMPLATE, fields=fields)
    for key, node in schema["properties"].items():
        if schema_form.kind_of(node) != "group":
            assert f'name="{key}' in html, key
        assert schema_form.label_of(key, node).replace("'", "&#39;") in html


ACTION_PLAN = {
    "type": "object", "required": ["recommendations"],
    "properties": {"recommendations": {"type": "array", "minItems": 1, "items": {
        "type": "object", "title": "Recommendation", "required": ["text", "target"],
        "properties": {"text": {"type": "string", "title": "Text", "maxLength": 100},
                       "target": {"type": "string", "format": "date", "title": "Target date"},
                       "urgent": {"type": "boolean", "title": "Urgent"}}}},
        "lines": {"type": "array", "items": {"type": "string"}},
        "count": {"type": "integer", "title": "Count"},
        "themes": {"type": "array", "items": {"type": "string", "enum": ["A", "B"]}}},
}


def test_typed_values_become_json_and_back() -> None:
    form = MultiDict([("recommendations.0._item", "1"), ("recommendations.0.text", " Train staff "),
                      ("recommendations.0.target.day", "3"), ("recommendations.0.target.month", "3"),
                      ("recommendations.0.target.year", "2027"), ("recommendations.0.urgent", "yes"),
                      ("lines.0", "first"), ("lines.1", " "), ("count", "4"), ("themes", "A"), ("themes", "B")])
    state = schema_form.state_from_form(ACTION_PLAN, form, MultiDict())
    data, errors = schema_form.data_from_state(ACTION_PLAN, state)
    assert errors == {}
    assert data == {"recommendations": [{"text": "Train staff", "target": "2027-03-03", "urgent": True}],
                    "lines": ["first"], "count": 4, "themes": ["A", "B"]}
    assert field_errors(ACTION_PLAN, data) == {}
    again = schema_form.state_from_data(ACTION_PLAN, data)
    assert again["recommendations"][0]["target"] == {"day": "3", "month": "3", "year": "2027"}


def test_malformed_values_get_messages_by_the_field() -> None:
    form = MultiDict([("recommendations.0._item", "1"), ("recommendations.0.target.day", "3"),
                      ("count", "four")])
    state = schema_form.state_from_form(ACTION_PLAN, form, MultiDict())
    data, errors = schema_form.data_from_state(ACTION_PLAN, state)
    assert errors == {"recommendations.0.target": "Target date must include a month and year",
                      "count": "Count must be a number"}
    fields = schema_form.fields(ACTION_PLAN, state, errors)
    merged = schema_form.plain_messages(fields, {**field_errors(ACTION_PLAN, data), **errors})
    summary = schema_form.summary(fields, merged)
    assert [e.text for e in summary][:2] == ["Recommendation 1: Enter text",
                                             "Recommendation 1: Target date must include a month and year"]
    assert summary[1].href == "#recommendations-0-target-day"


def test_add_another_and_remove() -> None:
    state = schema_form.state_from_data(ACTION_PLAN, {})
    assert state["recommendations"] == [{}]  # a required list starts with one item
    assert schema_form.apply_action(ACTION_PLAN, state, "add:recommendations")
    assert len(state["recommendations"]) == 2
    assert schema_form.apply_action(ACTION_PLAN, state, "remove:recommendations.0")
    assert len(state["recommendations"]) == 1
    assert schema_form.apply_action(ACTION_PLAN, state, "add:lines") and state["lines"] == [""]
    assert not schema_form.apply_action(ACTION_PLAN, state, "add:count")
    assert not schema_form.apply_action(ACTION_PLAN, state, "drop:everything")


def test_uploads_are_limited_to_documents() -> None:
    import io

    from werkzeug.datastructures import FileStorage

    schema = {"type": "object", "properties": {"doc": {"type": "string", "format": "data-url", "title": "Doc"}}}
    good = MultiDict([("doc", FileStorage(io.BytesIO(b"%PDF-1.4"), filename="report.pdf"))])
    data, errors = schema_form.data_from_state(schema, schema_form.state_from_form(schema, MultiDict(), good))
    assert errors == {} and data["doc"].startswith("data:application/pdf;name=report.pdf;base64,")
    bad = MultiDict([("doc", FileStorage(io.BytesIO(b"MZ"), filename="tool.exe"))])
    _, errors = schema_form.data_from_state(schema, schema_form.state_from_form(schema, MultiDict(), bad))
    assert "must be a PDF" in errors["doc"]


def _html(app: Flask, fields: list[schema_form.Field]) -> str:
    with app.test_request_context():
        return render_template_string(TEMPLATE, fields=fields)


def test_a_conditional_question_is_drawn_under_the_answer_it_depends_on(app: Flask) -> None:
    imr = json.loads((PROCESSES / "imr.schema.json").read_text())
    fields = schema_form.fields(imr, schema_form.state_from_data(imr, {}), {})
    names = [f.name for f in fields]
    assert "agency_recommendations" not in names and "imr_document" not in names
    [report_type] = [f for f in fields if f.name == "report_type"]
    [block] = report_type.conditionals
    assert block.values == ["Individual Management Review (IMR)", "Short report"]
    assert [f.name for f in block.fields] == ["agency_recommendations", "imr_document"]
    html = _html(app, fields)
    assert 'data-reveal-name="report_type"' in html and 'id="conditional-agency_recommendations"' in html
    assert html.index('name="report_type"') < html.index('name="agency_recommendations.0"')


def test_what_was_typed_into_a_hidden_question_is_ignored() -> None:
    imr = json.loads((PROCESSES / "imr.schema.json").read_text())
    form = MultiDict([("report_type", "No involvement (nil return)"),
                      ("agency_recommendations.0", "Typed, then hidden"),
                      ("report_submitted_on.day", "40")])
    data, errors = schema_form.data_from_state(imr, schema_form.state_from_form(imr, form, MultiDict()))
    assert "agency_recommendations" not in data and "report_submitted_on" in errors
    yes_no = {"type": "object", "properties": {
        "ok": {"type": "boolean"}, "when": {"type": "string", "format": "date", "x-show-when": {"ok": [False]}}}}
    typed = MultiDict([("ok", "yes"), ("when.day", "99")])
    assert schema_form.data_from_state(yes_no, schema_form.state_from_form(yes_no, typed, MultiDict())) == (
        {"ok": True}, {})
    [ok] = schema_form.fields(yes_no, {}, {})
    assert ok.conditionals[0].values == ["no"]


def test_none_is_an_exclusive_answer_that_means_an_empty_list(app: Flask) -> None:
    notification = json.loads((PROCESSES / "notification.schema.json").read_text())
    state = schema_form.state_from_form(notification, MultiDict([("parallel_processes", "_none")]), MultiDict())
    data, errors = schema_form.data_from_state(notification, state)
    assert data["parallel_processes"] == [] and "parallel_processes" not in errors
    assert schema_form.state_from_data(notification, data)["parallel_processes"] == ["_none"]
    both = MultiDict([("parallel_processes", "Inquest"), ("parallel_processes", "_none")])
    _, errors = schema_form.data_from_state(notification, schema_form.state_from_form(notification, both, MultiDict()))
    assert errors["parallel_processes"] == "Select 'None known so far' only if none of the others apply"
    fields = schema_form.fields(notification, schema_form.state_from_data(notification, {}), {})
    html = _html(app, fields)
    assert 'govuk-checkboxes__divider">or<' in html and 'data-behaviour="exclusive"' in html
    missing = schema_form.plain_messages(fields, field_errors(notification, {}))
    assert missing["parallel_processes"] == "Select at least one: parallel processes known so far, " \
                                            "or 'None known so far'"
