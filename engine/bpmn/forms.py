"""Task form data: checked against the task's JSON Schema before the engine sees it.

Besides JSON Schema, a form property may carry these keywords (checked here, so every door applies
them; `dhr processes validate` refuses them when misused):

- `"x-not-after"` / `"x-not-before"` on a date: `"today"` (the London day of the clock) or the name
  of another date property of the same object ("a period cannot end before it starts");
- `"x-show-when": {"other_property": [values...]}`: the question applies only when every property
  named holds one of its values (a boolean as true/false). A question that does not apply is not
  required, and an answer to it is dropped;
- `"x-none-option": "None"` on a list of choices: the form offers that exclusive answer, and an
  empty list means "none" (so a required list may truly be empty);
- `"x-messages": {"minimum": "Enter a year from 2011 onwards"}`: the message for a JSON Schema
  keyword, instead of the plain-English default.
"""

from __future__ import annotations

import copy
import re
from datetime import date
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from referencing.exceptions import Unresolvable

from ..platform.calendar import long_date, parse_day
from ..platform.errors import DhrError, FormDataInvalid
from .form_refs import NOTHING_OUTSIDE

_REQUIRED = re.compile(r"'(.+)' is a required property")
TODAY = "today"
DATE_RULES = ("x-not-after", "x-not-before")
FORMAT_EXAMPLES = {"date": "a valid date, like 2026-03-27", "email": "a valid email address, like name@example.org",
                   "date-time": "a valid date and time, like 2026-03-27T09:00:00+00:00",
                   "uri": "a web address, like https://www.example.org/report",
                   "data-url": "a file (a PDF, Word, ODT, RTF or text document)"}
TYPE_WORDS = {"string": "text", "integer": "a whole number", "number": "a number", "boolean": "yes or no",
              "array": "a list", "object": "a set of answers"}


def _node_at(schema: dict[str, Any], path: list[Any]) -> dict[str, Any]:
    """The schema of the value at `path` (property names and item indices)."""
    node = schema
    for part in path:
        node = node.get("properties", {}).get(part, {}) if isinstance(part, str) else node.get("items", {})
    return node


def _title(schema: dict[str, Any], path: list[Any], field: str) -> str:
    node = _node_at(schema, path)
    return str(node.get("properties", {}).get(field, {}).get("title") or field.replace("_", " ").capitalize())


def lower_first(text: str) -> str:
    """'Date the CSP...' -> 'date the CSP...', but 'CSP chair' stays (an acronym)."""
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


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


# ---------------------------------------------------------------------------------------------
# Questions that apply only when another answer says so


def applies(node: dict[str, Any], answers: dict[str, Any]) -> bool:
    """Whether a property with this schema applies, given the other answers of its object."""
    condition = node.get("x-show-when")
    if not isinstance(condition, dict):
        return True
    return all(field in answers and answers[field] in values and not isinstance(answers[field], (list, dict))
               for field, values in condition.items() if isinstance(values, list))


def drop_inapplicable(schema: dict[str, Any], data: Any) -> Any:
    """`data` without the answers to questions that do not apply (in list items too)."""
    if not isinstance(data, dict):
        return data
    props = schema.get("properties", {})
    kept = {}
    for key, value in data.items():
        node = props.get(key)
        if node is None:
            kept[key] = value
        elif applies(node, data):
            items = node.get("items", {})
            if node.get("type") == "array" and items.get("type") == "object" and isinstance(value, list):
                value = [drop_inapplicable(items, each) for each in value]
            kept[key] = value
    return kept


def _conditions_lifted(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema with conditional questions left out of `required` (their absence is checked apart)."""
    lifted = copy.deepcopy(schema)

    def lift(node: dict[str, Any]) -> None:
        props = node.get("properties", {})
        if "required" in node and isinstance(node["required"], list):
            node["required"] = [name for name in node["required"]
                                if not isinstance(props.get(name, {}).get("x-show-when"), dict)]
        for child in props.values():
            if isinstance(child, dict) and isinstance(child.get("items"), dict):
                lift(child["items"])
    lift(lifted)
    return lifted


def _objects(schema: dict[str, Any], data: Any, path: list[Any]) -> list[tuple[dict[str, Any], dict[str, Any],
                                                                               list[Any]]]:
    """Each object of the form (the form itself and each item of its lists of objects), with its path."""
    if not isinstance(data, dict):
        return []
    found = [(schema, data, path)]
    for key, node in schema.get("properties", {}).items():
        items, value = node.get("items", {}), data.get(key)
        if node.get("type") == "array" and items.get("type") == "object" and isinstance(value, list):
            for index, each in enumerate(value):
                found.extend(_objects(items, each, [*path, key, index]))
    return found


def _missing_conditional(schema: dict[str, Any], data: dict[str, Any]) -> dict[str, str]:
    """A required question that applies and was not answered."""
    errors = {}
    for node, answers, path in _objects(schema, data, []):
        props = node.get("properties", {})
        for name in node.get("required", []):
            child = props.get(name, {})
            if isinstance(child.get("x-show-when"), dict) and applies(child, answers) and name not in answers:
                errors[".".join(str(p) for p in [*path, name])] = f"Enter {lower_first(_title(schema, path, name))}"
    return errors


# ---------------------------------------------------------------------------------------------
# Dates against today and against each other


def _date_problems(schema: dict[str, Any], data: dict[str, Any], today: date | None) -> dict[str, str]:
    errors = {}
    for node, answers, path in _objects(schema, data, []):
        props = node.get("properties", {})
        for name, child in props.items():
            day = parse_day(answers.get(name)) if child.get("format") == "date" else None
            if day is None:
                continue
            key = ".".join(str(p) for p in [*path, name])
            label = str(child.get("title") or name.replace("_", " ").capitalize())
            message = _date_problem(child, props, answers, day, today, label)
            if message:
                errors[key] = message
    return errors


def _date_problem(node: dict[str, Any], props: dict[str, Any], answers: dict[str, Any], day: date,
                  today: date | None, label: str) -> str | None:
    for rule in DATE_RULES:
        bound = node.get(rule)
        after = rule == "x-not-after"
        if bound == TODAY:
            if today is not None and (day > today if after else day < today):
                return node.get("x-messages", {}).get(rule) or \
                    f"{label} must be today or in the {'past' if after else 'future'}"
        elif isinstance(bound, str) and bound in props:
            other = parse_day(answers.get(bound))
            if other is not None and (day > other if after else day < other):
                other_label = lower_first(str(props[bound].get("title") or bound.replace("_", " ")))
                return node.get("x-messages", {}).get(rule) or (
                    f"{label} must be the same as or {'before' if after else 'after'} {other_label} "
                    f"({long_date(other)})")
    return None


# ---------------------------------------------------------------------------------------------
# Plain-English messages, one for each JSON Schema keyword the forms use


def _number(value: Any) -> str:
    return f"{value:,}" if isinstance(value, int) and abs(value) >= 10000 else str(value)


def _plain(error: ValidationError, node: dict[str, Any], label: str) -> str:
    """What a person reads for a value the schema refuses (never the validator's own words)."""
    own = node.get("x-messages", {}).get(str(error.validator)) if isinstance(node.get("x-messages"), dict) else None
    if own:
        return str(own)
    kind, limit = str(error.validator), error.validator_value
    low, high = node.get("minimum"), node.get("maximum")
    if kind in ("minimum", "maximum") and low is not None and high is not None:
        return f"{label} must be between {_number(low)} and {_number(high)}"
    messages = {
        "enum": lambda: f"{label}: choose one of {', '.join(str(v) for v in limit)}",
        "const": lambda: f"{label} must be {limit}",
        "format": lambda: f"{label} must be {FORMAT_EXAMPLES.get(str(limit), 'in the right format')}",
        "type": lambda: f"{label} must be {TYPE_WORDS.get(str(limit), 'the right kind of answer')}",
        "minLength": lambda: f"Enter {lower_first(label)}" if limit == 1 else
        f"{label} must be {limit} characters or more",
        "maxLength": lambda: f"{label} must be {_number(limit)} characters or fewer",
        "minimum": lambda: f"{label} must be {_number(limit)} or more",
        "maximum": lambda: f"{label} must be {_number(limit)} or less",
        "exclusiveMinimum": lambda: f"{label} must be more than {_number(limit)}",
        "exclusiveMaximum": lambda: f"{label} must be less than {_number(limit)}",
        "multipleOf": lambda: f"{label} must be a multiple of {limit}",
        "minItems": lambda: f"Enter {lower_first(label)}" if limit == 1 else f"Enter at least {limit}: {label}",
        "maxItems": lambda: f"Enter no more than {limit}: {label}",
        "uniqueItems": lambda: f"{label} lists the same answer more than once",
        "pattern": lambda: f"{label} is not in the right format",
        "additionalProperties": lambda: f"{label} has answers to questions that are not on this form",
    }
    return messages.get(kind, lambda: f"{label} is not a valid answer")()


def field_errors(schema: dict[str, Any], data: dict[str, Any], today: date | None = None) -> dict[str, str]:
    """Return a plain-English message for each field of `data` that the form rejects. Rules against
    today (`x-not-after: today`) are checked when `today` is given; the engine always gives it."""
    errors: dict[str, str] = _unstorable(data, [])
    allowed = set(schema.get("properties", {}))
    for key in data:
        if key not in allowed:
            errors[key] = "is not a field of this form"
    data = drop_inapplicable(schema, data)
    validator = Draft202012Validator(_conditions_lifted(schema), registry=NOTHING_OUTSIDE,
                                     format_checker=Draft202012Validator.FORMAT_CHECKER)
    try:
        found = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.path])
    except Unresolvable as exc:  # only a version deployed before form files had to be self-contained
        raise DhrError(f"this task's form refers to '{exc.ref}', outside its process version, so it cannot be "
                       "checked; a process owner must fix the form file and deploy the diagrams again") from exc
    for error in found:
        path = list(error.path)
        if error.validator == "required":
            match = _REQUIRED.match(error.message)
            name = match.group(1) if match else ""
            key = ".".join(str(p) for p in [*path, name])
            errors.setdefault(key, f"Enter {lower_first(_title(schema, path, name))}")
            continue
        key = ".".join(str(p) for p in path)
        parent, name = path[:-1], str(path[-1]) if path else ""
        label = _title(schema, parent, name) if name and isinstance(path[-1], str) else \
            _title(schema, path[:-2], str(path[-2])) if len(path) > 1 else "The form"
        errors.setdefault(key, _plain(error, error.schema if isinstance(error.schema, dict) else {}, label))
    for key, message in {**_missing_conditional(schema, data), **_date_problems(schema, data, today)}.items():
        errors.setdefault(key, message)
    return errors


def validate_submission(schema: dict[str, Any] | None, data: dict[str, Any],
                        today: date | None = None) -> dict[str, Any]:
    """Return the data if it satisfies the form, without answers to questions that do not apply;
    a task without a form takes no data.

    Raises:
        FormDataInvalid: with a message for each field that is wrong.
    """
    if not isinstance(data, dict):
        raise FormDataInvalid({"": "the data must be an object of field names and values"})
    form = schema or {"type": "object", "properties": {}}
    errors = field_errors(form, data, today)
    if errors:
        raise FormDataInvalid(errors)
    return dict(drop_inapplicable(form, data))


def keyword_problems(schema: dict[str, Any]) -> list[str]:
    """What is wrong with the form's own keywords (x-not-after, x-show-when...), for validation."""
    found: list[str] = []
    for node, path in _object_schemas(schema, []):
        props = node.get("properties", {})
        for name, child in props.items():
            if not isinstance(child, dict):
                continue
            where = "/".join([*path, name])
            found.extend(f"{where}: {problem}" for problem in _property_problems(child, props))
    return found


def _object_schemas(schema: dict[str, Any], path: list[str]) -> list[tuple[dict[str, Any], list[str]]]:
    found = [(schema, path)]
    for name, child in schema.get("properties", {}).items():
        if isinstance(child, dict) and isinstance(child.get("items"), dict) and child["items"].get("properties"):
            found.extend(_object_schemas(child["items"], [*path, name, "items"]))
    return found


def _property_problems(node: dict[str, Any], props: dict[str, Any]) -> list[str]:
    problems = []
    for rule in DATE_RULES:
        bound = node.get(rule)
        if bound is None:
            continue
        if node.get("format") != "date":
            problems.append(f"{rule} is only for a date (\"format\": \"date\")")
        elif bound != TODAY and not (isinstance(bound, str) and props.get(bound, {}).get("format") == "date"):
            problems.append(f"{rule} must be \"today\" or the name of another date of the same form, not {bound!r}")
    condition = node.get("x-show-when")
    if condition is not None:
        if not isinstance(condition, dict) or not condition:
            problems.append("x-show-when must map another question's name to a list of its answers")
        else:
            for other, values in condition.items():
                target = props.get(other)
                if not isinstance(target, dict) or not isinstance(values, list) or not values:
                    problems.append(f"x-show-when names '{other}', which must be another question of the same "
                                    "form, with a list of its answers")
                    continue
                allowed = target.get("enum") or ([True, False] if target.get("type") == "boolean" else None)
                wrong = [v for v in values if allowed is not None and v not in allowed]
                if allowed is None or wrong:
                    problems.append(f"x-show-when: '{other}' must be a choice or yes/no question, and "
                                    f"{wrong or values} must be among its answers")
    none = node.get("x-none-option")
    if none is not None and not (isinstance(none, str) and none.strip() and "enum" in node.get("items", {})):
        problems.append("x-none-option is the label of the 'none' answer of a list of choices")
    messages = node.get("x-messages")
    if messages is not None and not (isinstance(messages, dict) and all(isinstance(v, str) for v in messages.values())):
        problems.append("x-messages maps a JSON Schema keyword to its message")
    return problems


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
