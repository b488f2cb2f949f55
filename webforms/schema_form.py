"""A task's JSON Schema as an HTML form: what each field is, what was typed, and the data it makes.

Three steps, each pure: the *state* of a form (what a person typed, as strings, kept on error) comes
from a request (`state_from_form`) or from task data (`state_from_data`); `data_from_state` turns it
into the JSON the schema validates, with a message for anything that is not even well-formed (a
date that does not exist, a number with letters); `fields` describes every field, with its value
and error, for the templates' macros (one macro per `Field.kind`).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from werkzeug.datastructures import FileStorage, MultiDict

from engine.bpmn.forms import applies, field_errors
from engine.platform.documents import (
    KEPT_PREFIX,
    MAX_UPLOAD_BYTES,
    is_reference,
    media_type_of,
    safe_name,
    upload_problem,
)

RADIO_LIMIT = 6  # more options than this: a select
TEXTAREA_OVER = 500  # strings longer than this (or unbounded) get a textarea
_ITEM = re.compile(r"^(\d+)(?:\.|$)")
NONE = "_none"  # the value of a list's exclusive "None" box (`x-none-option`): it submits an empty list


@dataclass
class Option:
    value: str
    label: str
    checked: bool


@dataclass
class Field:
    """One field as the macros draw it."""

    kind: str  # text, textarea, email, url, number, date, yesno, radios, select, checkboxes, list, group, file
    name: str  # the input's name: a dotted path such as "recommendations.0.theme"
    label: str
    hint: str | None
    required: bool
    value: Any = ""
    error: str | None = None
    options: list[Option] = field(default_factory=list)
    items: list[list[Field]] = field(default_factory=list)  # group: the fields of each item
    item_label: str = "Item"
    max_length: int | None = None
    integer: bool = False
    none_option: str | None = None  # checkboxes: the label of the exclusive "None" box
    show_when: dict[str, list[str]] = field(default_factory=dict)  # the answers (as typed) it depends on
    conditionals: list[Conditional] = field(default_factory=list)  # questions revealed by this one's answers
    suggest: str | None = None  # "agencies": the text box offers the agency list (x-suggest), anything else typed

    @property
    def id(self) -> str:
        return self.name.replace(".", "-")

    @property
    def anchor(self) -> str:
        """The id of the input the error summary links to."""
        if self.kind == "date":
            return f"{self.id}-day"
        if self.kind in ("yesno", "radios", "checkboxes"):
            return f"{self.id}-0" if self.options else self.id
        if self.kind == "list":
            return f"{self.id}-0"
        return self.id


@dataclass
class Conditional:
    """Questions shown under a choice only when one of `values` is chosen (GOV.UK conditional reveal)."""

    values: list[str]
    fields: list[Field]

    @property
    def id(self) -> str:
        return f"conditional-{self.fields[0].id}"


def kind_of(node: dict[str, Any]) -> str:
    kind = node.get("type")
    if kind == "boolean":
        return "yesno"
    if kind in ("number", "integer"):
        return "number"
    if kind == "array":
        items = node.get("items", {})
        if items.get("type") == "object":
            return "group"
        return "checkboxes" if "enum" in items else "list"
    if "enum" in node:
        return "radios" if len(node["enum"]) <= RADIO_LIMIT else "select"
    fmt = node.get("format")
    if fmt == "date":
        return "date"
    if fmt == "data-url":
        return "file"
    if fmt == "email":
        return "email"
    if fmt in ("uri", "url"):
        return "url"
    max_length = node.get("maxLength")
    return "textarea" if max_length is None or max_length > TEXTAREA_OVER else "text"


def _properties(schema: dict[str, Any]) -> dict[str, dict[str, Any]]:
    props: dict[str, dict[str, Any]] = schema.get("properties", {})
    return props


def label_of(key: str, node: dict[str, Any]) -> str:
    return str(node.get("title") or key.replace("_", " ").capitalize())


def _lower_first(text: str) -> str:
    """'Date the CSP...' -> 'date the CSP...', but 'CSP chair' stays (an acronym)."""
    if len(text) > 1 and text[0].isupper() and not text[1].isupper():
        return text[0].lower() + text[1:]
    return text


# ---------------------------------------------------------------------------------------------
# State: what a person typed


def state_from_data(schema: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """Show existing task data in the form (a task met again in a loop, a revision)."""
    state: dict[str, Any] = {}
    for key, node in _properties(schema).items():
        if key not in data or data[key] is None:
            if kind_of(node) == "group" and node.get("minItems"):
                state[key] = [{}]
            continue
        value, kind = data[key], kind_of(node)
        if kind == "date":
            match = re.match(r"^(\d{4})-(\d{2})-(\d{2})$", str(value))
            state[key] = ({"day": str(int(match[3])), "month": str(int(match[2])), "year": match[1]}
                          if match else {"day": "", "month": "", "year": ""})
        elif kind == "yesno":
            state[key] = "yes" if value is True else "no" if value is False else ""
        elif kind in ("checkboxes", "list"):
            state[key] = [str(v) for v in value] if isinstance(value, list) else []
            if kind == "checkboxes" and value == [] and node.get("x-none-option"):
                state[key] = [NONE]
        elif kind == "group":
            state[key] = [state_from_data(node["items"], v if isinstance(v, dict) else {})
                          for v in (value if isinstance(value, list) else [])]
        elif kind == "number":
            state[key] = str(value)
        elif kind == "file":  # task data names a stored document; the form keeps it by id
            state[key] = (_file_state(kept=str(value["document_id"]), name=str(value["name"]))
                          if is_reference(value) else _file_state())
        else:
            state[key] = str(value)
    return state


def _file_state(data_url: str = "", kept: str = "", name: str = "", error: str = "") -> dict[str, str]:
    """A file field as typed: a new upload (`data_url`, until it is held), or the id of a stored
    document the form keeps (`kept`, as the browser sent it: checked by the engine, never trusted)."""
    return {"data_url": data_url, "kept": kept, "name": name, "error": error}


def state_from_form(schema: dict[str, Any], form: MultiDict[str, str], files: MultiDict[str, FileStorage],
                    prefix: str = "") -> dict[str, Any]:
    """Read what was typed, field by field, as strings."""
    state: dict[str, Any] = {}
    for key, node in _properties(schema).items():
        name = prefix + key
        kind = kind_of(node)
        if kind == "date":
            state[key] = {part: form.get(f"{name}.{part}", "").strip() for part in ("day", "month", "year")}
        elif kind == "checkboxes":
            state[key] = form.getlist(name)
        elif kind == "list":
            state[key] = [form.get(f"{name}.{i}", "") for i in _indices(form, name)]
        elif kind == "group":
            state[key] = [state_from_form(node["items"], form, files, f"{name}.{i}.") for i in _indices(form, name)]
        elif kind == "file":
            state[key] = _upload(files.get(name), form.get(f"{name}.kept", ""))
        else:
            state[key] = form.get(name, "")
    return state


def _indices(form: MultiDict[str, str], name: str) -> list[int]:
    found = set()
    for key in form:
        if key.startswith(name + "."):
            match = _ITEM.match(key[len(name) + 1:])
            if match:
                found.add(int(match.group(1)))
    return sorted(found)


def _upload(upload: FileStorage | None, kept: str) -> dict[str, str]:
    """A chosen file as a data URL (what the engine takes from every door), after the form's own
    limits on type and size (the engine applies them again); no file chosen: the kept id."""
    if upload is None or not upload.filename:
        return _file_state(kept=kept)
    filename = safe_name(upload.filename)
    content = upload.read(MAX_UPLOAD_BYTES + 1)
    problem = upload_problem(filename, len(content))
    if problem:
        return _file_state(kept=kept, error=problem)
    encoded = base64.b64encode(content).decode()
    return _file_state(data_url=f"data:{media_type_of(filename)};name={filename};base64,{encoded}")


def file_states(schema: dict[str, Any], state: dict[str, Any], prefix: str = "") -> list[tuple[str, dict[str, str]]]:
    """Each file field's state in a form's state, with the field's name (its dotted path)."""
    found = []
    for key, node in _properties(schema).items():
        name, kind, raw = prefix + key, kind_of(node), state.get(key)
        if kind == "file" and isinstance(raw, dict):
            found.append((name, raw))
        elif kind == "group" and isinstance(raw, list):
            for index, item in enumerate(raw):
                if isinstance(item, dict):
                    found.extend(file_states(node["items"], item, f"{name}.{index}."))
    return found


def file_value(upload: dict[str, str]) -> str:
    """What the form submits for a file field: a new file's data URL, `document:<kept id>`, or ""."""
    if upload.get("data_url"):
        return upload["data_url"]
    # Whatever the browser sent as the kept id is named as one, so a data URL there is never a file.
    return KEPT_PREFIX + upload["kept"] if upload.get("kept") else ""


def apply_action(schema: dict[str, Any], state: dict[str, Any], action: str) -> bool:
    """Add an item to a list ("add:path") or remove one ("remove:path.N"); False if not an action."""
    verb, _, path = action.partition(":")
    if verb not in ("add", "remove") or not path:
        return False
    parts = path.split(".")
    if verb == "remove":
        if not parts[-1].isdigit():
            return False
        index, parts = int(parts[-1]), parts[:-1]
    node: dict[str, Any] = schema
    holder: Any = state
    for i, part in enumerate(parts):
        if part.isdigit():
            holder = holder[int(part)] if isinstance(holder, list) and int(part) < len(holder) else None
            node = node.get("items", {})
            if holder is None:
                return False
            continue
        node = _properties(node).get(part, {})
        if i == len(parts) - 1:
            items = holder.setdefault(part, []) if isinstance(holder, dict) else None
            if not isinstance(items, list) or kind_of(node) not in ("group", "list"):
                return False
            if verb == "add":
                items.append({} if kind_of(node) == "group" else "")
            elif index < len(items):
                items.pop(index)
            return True
        holder = holder.get(part) if isinstance(holder, dict) else None
        if holder is None:
            return False
    return False


# ---------------------------------------------------------------------------------------------
# Data: what the schema validates


def data_from_state(
    schema: dict[str, Any], state: dict[str, Any], prefix: str = ""
) -> tuple[dict[str, Any], dict[str, str]]:
    """Turn typed strings into JSON values; empty fields are left out (so "required" can say so)."""
    data: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for key, node in _properties(schema).items():
        name, kind, raw = prefix + key, kind_of(node), state.get(key)
        label = label_of(key, node)
        if kind == "date":
            parts = raw or {}
            value, message = _date(label, parts.get("day", ""), parts.get("month", ""), parts.get("year", ""))
            if message:
                errors[name] = message
            elif value:
                data[key] = value
        elif kind == "number":
            text = (raw or "").strip().replace(",", "")
            if not text:
                continue
            try:
                number = float(text)
            except ValueError:
                errors[name] = f"{label} must be a number"
                continue
            if node.get("type") == "integer":
                if not number.is_integer():
                    errors[name] = f"{label} must be a whole number"
                    continue
                data[key] = int(number)
            else:
                data[key] = int(number) if number.is_integer() and "." not in text else number
        elif kind == "yesno":
            if raw in ("yes", "no"):
                data[key] = raw == "yes"
        elif kind == "checkboxes":
            chosen = list(raw or [])
            if NONE in chosen and node.get("x-none-option"):
                if len(chosen) > 1:
                    errors[name] = f"Select '{node['x-none-option']}' only if none of the others apply"
                else:
                    data[key] = []
            elif chosen:
                data[key] = chosen
        elif kind == "list":
            values = [v.strip() for v in (raw or []) if v.strip()]
            if values:
                data[key] = values
        elif kind == "group":
            items = []
            for index, item in enumerate(raw or []):
                item_data, item_errors = data_from_state(node["items"], item, f"{name}.{index}.")
                items.append(item_data)
                errors.update(item_errors)
            if items:
                data[key] = items
        elif kind == "file":
            upload = raw or {}
            if upload.get("error"):
                errors[name] = upload["error"]
            elif file_value(upload):
                data[key] = file_value(upload)
        else:
            text = (raw or "").replace("\r\n", "\n")
            text = text.strip() if kind != "textarea" else text.strip("\n ").rstrip()
            if text:
                data[key] = text
    return _applicable(schema, data, errors, prefix)


def _applicable(schema: dict[str, Any], data: dict[str, Any], errors: dict[str, str],
                prefix: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Forget what was typed into questions that do not apply (hidden by the answer they depend on)."""
    hidden = [prefix + key for key, node in _properties(schema).items() if not applies(node, data)]
    for name in hidden:
        data.pop(name[len(prefix):], None)
    return data, {key: message for key, message in errors.items()
                  if not any(key == name or key.startswith(name + ".") for name in hidden)}


def _date(label: str, day: str, month: str, year: str) -> tuple[str | None, str | None]:
    given = {"day": day, "month": month, "year": year}
    if not any(given.values()):
        return None, None
    missing = [part for part, value in given.items() if not value]
    if missing:
        return None, f"{label} must include a {' and '.join(missing)}"
    if not all(v.isdigit() for v in given.values()) or len(year) != 4:
        return None, f"{label} must be a real date"
    try:
        return date(int(year), int(month), int(day)).isoformat(), None
    except (ValueError, OverflowError):  # a 40-digit day overflows before it is out of range
        return None, f"{label} must be a real date"


# ---------------------------------------------------------------------------------------------
# Fields: what the macros draw


def fields(schema: dict[str, Any], state: dict[str, Any], errors: dict[str, str], prefix: str = "") -> list[Field]:
    """Describe every field of the schema, with what was typed and its error."""
    required = set(schema.get("required", []))
    result = []
    for key, node in _properties(schema).items():
        name, kind = prefix + key, kind_of(node)
        raw = state.get(key)
        item = Field(kind=kind, name=name, label=label_of(key, node), hint=node.get("description"),
                     required=key in required, error=errors.get(name), max_length=node.get("maxLength"),
                     integer=node.get("type") == "integer", suggest=node.get("x-suggest"))
        if kind == "date":
            item.value = raw or {"day": "", "month": "", "year": ""}
        elif kind == "yesno":
            item.options = [Option("yes", "Yes", raw == "yes"), Option("no", "No", raw == "no")]
        elif kind in ("radios", "select"):
            item.options = [Option(str(v), str(v), raw == str(v)) for v in node["enum"]]
            item.value = raw or ""
        elif kind == "checkboxes":
            chosen = set(raw or [])
            item.options = [Option(str(v), str(v), str(v) in chosen) for v in node["items"]["enum"]]
            if node.get("x-none-option"):
                item.none_option = str(node["x-none-option"])
                item.options.append(Option(NONE, item.none_option, NONE in chosen))
        elif kind == "list":
            item.value = list(raw or [""])
            item.item_label = label_of(key, node.get("items", {})) if node.get("items", {}).get("title") else "Item"
            item.max_length = node.get("items", {}).get("maxLength")
        elif kind == "group":
            item.item_label = label_of(key, node["items"]) if node["items"].get("title") else "Item"
            item.items = [fields(node["items"], member, errors, f"{name}.{index}.")
                          for index, member in enumerate(raw or [])]
        elif kind == "file":  # only a held document (an id) is shown as kept, never the bytes
            upload = raw or {}
            kept = upload.get("kept", "") if not upload.get("data_url") else ""
            item.value = {"kept": kept, "name": upload.get("name", "") if kept else ""}
        else:
            item.value = raw or ""
        condition = node.get("x-show-when")
        if isinstance(condition, dict):
            item.show_when = {prefix + other: [_typed(v) for v in values] for other, values in condition.items()
                              if isinstance(values, list)}
        result.append(item)
    return _nest_conditionals(result)


def _typed(value: Any) -> str:
    """An answer as the form sends it (yes/no for a boolean)."""
    return "yes" if value is True else "no" if value is False else str(value)


def _nest_conditionals(form_fields: list[Field]) -> list[Field]:
    """Move each conditional question under the first question it depends on."""
    by_name = {item.name: item for item in form_fields}
    top = []
    for item in form_fields:
        controller = next((by_name[name] for name in item.show_when if name in by_name), None)
        if controller is None or controller is item:
            top.append(item)
            continue
        values = item.show_when[controller.name]
        same = next((c for c in controller.conditionals if c.values == values), None)
        if same is not None:
            same.fields.append(item)
        else:
            controller.conditionals.append(Conditional(values, [item]))
    return top


def plain_messages(form_fields: list[Field], errors: dict[str, str]) -> dict[str, str]:
    """Reword "required" messages GOV.UK's way ("Select ..." for choices) with the field's own label."""
    result = dict(errors)
    for item in _walk(form_fields):
        message = result.get(item.name)
        if message is None or not message.startswith("Enter "):
            continue
        if item.kind in ("yesno", "radios", "select"):
            result[item.name] = f"Select {_lower_first(item.label)}" if item.kind != "yesno" else \
                f"Select yes or no: {_lower_first(item.label)}"
        elif item.kind == "checkboxes":
            result[item.name] = f"Select at least one: {_lower_first(item.label)}" + (
                f", or '{item.none_option}'" if item.none_option else "")
        elif item.kind == "group":
            result[item.name] = f"Add at least one {_lower_first(item.item_label)}"
        elif item.kind == "file":
            result[item.name] = f"Upload {_lower_first(item.label)}"
        else:
            result[item.name] = f"Enter {_lower_first(item.label)}"
    return result


def _walk(form_fields: list[Field]) -> list[Field]:
    out = []
    for item in form_fields:
        out.append(item)
        for member in item.items:
            out.extend(_walk(member))
        for conditional in item.conditionals:
            out.extend(_walk(conditional.fields))
    return out


@dataclass
class SummaryError:
    text: str
    href: str


def summary(form_fields: list[Field], errors: dict[str, str]) -> list[SummaryError]:
    """The error summary, in the order of the fields; errors no field shows link to the form."""
    result = []
    shown = set()
    for item in _walk(form_fields):
        if item.name in errors:
            shown.add(item.name)
            text = errors[item.name]
            match = re.match(r"^(.*)\.(\d+)\.[^.]+$", item.name)
            if match:
                text = f"{_item_title(form_fields, match.group(1), int(match.group(2)))}: {text}"
            result.append(SummaryError(text, f"#{item.anchor}"))
    for key, message in errors.items():
        if key not in shown:
            result.append(SummaryError(f"{key}: {message}" if key else message, "#task-form"))
    return result


def _item_title(form_fields: list[Field], group_name: str, index: int) -> str:
    for item in _walk(form_fields):
        if item.name == group_name:
            return f"{item.item_label} {index + 1}"
    return f"Item {index + 1}"


def attach(form_fields: list[Field], errors: dict[str, str]) -> None:
    """Put each message next to its field."""
    for item in _walk(form_fields):
        item.error = errors.get(item.name)


# ---------------------------------------------------------------------------------------------
# A page's own form (not a task's), described by a JSON Schema


def read_submission(schema: dict[str, Any], form: MultiDict[str, str], today: date | None = None
                    ) -> tuple[dict[str, Any], dict[str, Any], dict[str, str]]:
    """Read a posted form against `schema`: its data, what was typed (to show again) and the errors."""
    state = state_from_form(schema, form, MultiDict())
    data, parse_errors = data_from_state(schema, state)
    return data, state, {**field_errors(schema, data, today), **parse_errors}


def draw(schema: dict[str, Any], state: dict[str, Any], errors: dict[str, str]) -> tuple[list[Field],
                                                                                        list[SummaryError]]:
    """The fields to draw, each with its error, and the error summary."""
    form_fields = fields(schema, state, {})
    errors = plain_messages(form_fields, errors)
    attach(form_fields, errors)
    return form_fields, summary(form_fields, errors)
