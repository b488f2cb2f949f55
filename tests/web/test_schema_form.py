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
