"""Task form data: checked against the task's JSON Schema before the engine sees it."""

from __future__ import annotations

import re
from typing import Any

from jsonschema import Draft202012Validator
from referencing.exceptions import Unresolvable

from ..platform.errors import DhrError, FormDataInvalid
from .form_refs import NOTHING_OUTSIDE

_REQUIRED = re.compile(r"'(.+)' is a required property")


def _title(schema: dict[str, Any], path: list[Any], field: str) -> str:
    node = schema
    for part in path:
        node = node.get("properties", {}).get(part, {}) if isinstance(part, str) else node.get("items", {})
    return str(node.get("properties", {}).get(field, {}).get("title") or field.replace("_", " ").capitalize())


def _unstorable(value: Any, path: list[str]) -> dict[str, str]:
    """Text holding a NUL character, which no database column can keep (PostgreSQL refuses it)."""
    if isinstance(value, str):
        return {".".join(path): "contains a character that cannot be stored (NUL); remove it"} if "\x00" in value \
            else {}
    items = value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else []
    found: dict[str, str] = {}
    for key, each in items:
        found.update(_unstorable(each, [*path, str(key)]))
    return found


def field_errors(schema: dict[str, Any], data: dict[str, Any]) -> dict[str, str]:
    """Return a plain-English message for each field of `data` that the schema rejects."""
    errors: dict[str, str] = _unstorable(data, [])
    allowed = set(schema.get("properties", {}))
    for key in data:
        if key not in allowed:
            errors[key] = "is not a field of this form"
    validator = Draft202012Validator(schema, registry=NOTHING_OUTSIDE,
                                     format_checker=Draft202012Validator.FORMAT_CHECKER)
    try:
        found = sorted(validator.iter_errors(data), key=lambda e: list(e.path))
    except Unresolvable as exc:  # only a version deployed before form files had to be self-contained
        raise DhrError(f"this task's form refers to '{exc.ref}', outside its process version, so it cannot be "
                       "checked; a process owner must fix the form file and deploy the diagrams again") from exc
    for error in found:
        path = list(error.path)
        if error.validator == "required":
            match = _REQUIRED.match(error.message)
            name = match.group(1) if match else ""
            key = ".".join(str(p) for p in [*path, name])
            errors.setdefault(key, f"Enter {_title(schema, path, name).lower()}")
            continue
        key = ".".join(str(p) for p in path)
        parent, name = path[:-1], str(path[-1]) if path else ""
        label = _title(schema, parent, name) if name else "The form"
        if error.validator == "enum":
            message = f"{label}: choose one of {', '.join(str(v) for v in error.validator_value)}"
        elif error.validator == "format":
            example = {"date": "2026-03-27", "email": "name@example.org", "date-time": "2026-03-27T09:00:00+00:00"}
            hint = example.get(str(error.validator_value))
            message = f"{label} must be a valid {error.validator_value}" + (f", like {hint}" if hint else "")
        elif error.validator == "type":
            message = f"{label} must be a {error.validator_value}"
        elif error.validator in ("minLength", "minItems") and error.validator_value == 1:
            message = f"Enter {label.lower()}"
        else:
            message = f"{label}: {error.message}"
        errors.setdefault(key, message)
    return errors


def validate_submission(schema: dict[str, Any] | None, data: dict[str, Any]) -> dict[str, Any]:
    """Return the data if it satisfies the form; a task without a form takes no data.

    Raises:
        FormDataInvalid: with a message for each field that is wrong.
    """
    if not isinstance(data, dict):
        raise FormDataInvalid({"": "the data must be an object of field names and values"})
    errors = field_errors(schema or {"type": "object", "properties": {}}, data)
    if errors:
        raise FormDataInvalid(errors)
    return dict(data)


def example_answers(schema: dict[str, Any], today: str) -> dict[str, Any]:
    """Plausible answers to a form's required questions (for demo data and tests; fictional)."""
    return {name: _example(schema["properties"][name], today) for name in schema.get("required", [])}


def _example(node: dict[str, Any], today: str) -> Any:
    if "enum" in node:
        return node["enum"][0]
    kind = node.get("type")
    if kind == "string":
        return {"date": today, "email": "someone@example.org", "uri": "https://www.example.org/dhr",
                "data-url": "data:text/plain;name=report.txt;base64,UmVwb3J0"}.get(node.get("format", ""),
                                                                                  "Example text")
    if kind == "boolean":
        return True
    if kind == "integer":
        minimum = node.get("minimum", 0)
        return 2025 if minimum >= 2000 else max(minimum, 1)
    if kind == "number":
        return 1000
    if kind == "array":
        return [_example(node["items"], today) for _ in range(max(node.get("minItems", 1), 1))]
    if kind == "object":
        return example_answers(node, today)
    raise ValueError(f"no example answer for {node}")
