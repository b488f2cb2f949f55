"""What a task's page and lists say about it beyond its form: its title and its context, both named
by the diagram, so a process owner can change them.

- `taskTitle`: a Jinja text rendered over the task's data when the task opens ("Answer
  {{ request.subject }} for {{ request.team }}"); the element's name when absent or when it does not
  render. It becomes the task's title in the inbox, the case page, e-mails, letters and the history.
- `taskContext`: what the person doing the task should see of earlier answers, entries separated by
  `;`: a form file (`intake.schema.json`: every answer given in that form, labelled by it) or a
  variable (`request.team`, a dotted path), optionally labelled (`Team = request.team`)
  and with `| since` after a date ("2 June 2026, 28 days ago"). A variable the task's data lacks is
  looked up in the data of the process that called it, and so on up.

Confidential values (`x-confidential`) are never given to either: a title reaches lists, e-mails and
the audit trail, and context is shown to everyone who may open the task.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from jinja2 import TemplateError, TemplateSyntaxError

from ..platform.calendar import london_day, long_date, parse_day
from ..platform.errors import BudgetExceeded
from . import templating
from .confidential import Confidential, fields_of

if TYPE_CHECKING:
    from .library import Bundle

log = logging.getLogger(__name__)

TITLE_PROPERTY = "taskTitle"
CONTEXT_PROPERTY = "taskContext"
TITLE_LENGTH = 300  # the open_task.title column
SINCE = "since"


def _properties(task: Any) -> dict[str, Any]:
    return task.task_spec.extensions.get("properties", {}) or {}


def _days_since(value: Any, today: Any) -> int | None:
    day = parse_day(value)
    return (today - day).days if day else None


def template_helpers(now: datetime) -> dict[str, Any]:
    """What a title template may call besides the data: `days_since(day)` and `long_date(day)`."""
    today = london_day(now)

    def in_words(value: Any) -> str:
        day = parse_day(value)
        return long_date(day) if day else str(value or "")

    return {"days_since": lambda value: _days_since(value, today), "long_date": in_words}


def confidential_of(forms: dict[str, dict[str, Any]]) -> Confidential:
    """The fields the forms mark confidential."""
    found: dict[str, str] = {}
    for schema in forms.values():
        for path, label in fields_of(schema).items():
            found.setdefault(path, label)
    return Confidential(found)


_by_bundle: dict[str, Confidential] = {}


def bundle_confidential(bundle: Bundle) -> Confidential:
    """The fields a version's forms mark confidential (read once per version and process)."""
    found = _by_bundle.get(bundle.content_hash)
    if found is None:
        found = _by_bundle[bundle.content_hash] = confidential_of(bundle.forms)
    return found


def title_of(task: Any, secret: Confidential, now: datetime) -> str:
    """The task's title: its `taskTitle` rendered over its data (without confidential values), or its name."""
    spec = task.task_spec
    name = str(spec.bpmn_name or spec.bpmn_id)
    text = _properties(task).get(TITLE_PROPERTY)
    if not text:
        return name
    data = {**secret.without(dict(task.data)), **template_helpers(now)}
    try:
        rendered = templating.render(str(text), data, element=name, what="title")
    except (BudgetExceeded, TemplateError, TypeError, ValueError, AttributeError, KeyError, IndexError) as exc:
        log.warning("the title of %r did not render (%s); its name is used", spec.bpmn_id, type(exc).__name__)
        return name
    title = " ".join(rendered.split())
    if not title:
        return name
    return title if len(title) <= TITLE_LENGTH else title[:TITLE_LENGTH - 1] + "…"


def field_labels(bundle: Bundle) -> dict[str, str]:
    """The label of each top-level field of a version's forms (the first form's, where two share a name)."""
    found: dict[str, str] = {}
    for schema in bundle.forms.values():
        for name, prop in (schema.get("properties") or {}).items():
            if isinstance(prop, dict):
                found.setdefault(name, _label(name, prop))
    return found


def field_label(bundle: Bundle, path: str) -> str:
    """A field's label from a dotted path as documents and form errors name it ('plan.0.file' ->
    'Plan 1: File'); the path itself where no form of the version has it."""
    for schema in bundle.forms.values():
        parts: list[str] = []
        node: Any = schema
        for step in path.split("."):
            if step.isdigit() and isinstance(node, dict) and isinstance(node.get("items"), dict):
                parts[-1:] = [f"{parts[-1]} {int(step) + 1}"] if parts else [str(int(step) + 1)]
                node = node["items"]
                continue
            node = (node.get("properties") or {}).get(step) if isinstance(node, dict) else None
            if not isinstance(node, dict):
                break
            parts.append(_label(step, node))
        else:
            return ": ".join(parts)
    return path


# ---------------------------------------------------------------------------------------------
# Context


@dataclass(frozen=True)
class Document:
    """An uploaded document a context value refers to."""

    id: int
    name: str


@dataclass(frozen=True)
class Item:
    """One thing shown: its label and value (text, lines of text, or a document)."""

    label: str
    value: str | list[str] | Document


@dataclass
class Section:
    """A group of items: the answers of one form (titled by it) or the variables listed."""

    title: str | None
    items: list[Item] = field(default_factory=list)


@dataclass
class TaskContext:
    sections: list[Section] = field(default_factory=list)
    withheld: bool = False  # a confidential value was left out

    def __bool__(self) -> bool:
        return any(s.items for s in self.sections)


@dataclass(frozen=True)
class Entry:
    """One entry of `taskContext`."""

    label: str | None
    path: str  # a form file, or a dotted variable path
    since: bool = False

    @property
    def is_form(self) -> bool:
        return self.path.endswith(".json")


def entries(value: str | None) -> list[Entry]:
    """Read a `taskContext` property."""
    found = []
    for raw in (value or "").split(";"):
        text, _, fmt = raw.partition("|")
        label, _, path = text.rpartition("=")
        path = path.strip()
        if path:
            found.append(Entry(label.strip() or None, path, fmt.strip().lower() == SINCE))
    return found


def forms_named(properties: dict[str, Any]) -> list[str]:
    """The form files a task's `taskContext` names (as written, relative to its diagram)."""
    return [e.path for e in entries(properties.get(CONTEXT_PROPERTY)) if e.is_form]


def title_problem(properties: dict[str, Any]) -> str | None:
    """Say why a task's `taskTitle` cannot be read as a template, or None."""
    text = properties.get(TITLE_PROPERTY)
    if not text:
        return None
    try:
        templating.template(str(text))
    except TemplateSyntaxError as exc:
        return f"is not a valid template (line {exc.lineno}): {exc.message}"
    return None


def scopes(task: Any) -> list[dict[str, Any]]:
    """The task's data, then the data of the task that called its process, and so on up."""
    found = [task.data]
    workflow = task.workflow
    while getattr(workflow, "parent_task_id", None) is not None:
        parent = workflow.top_workflow.get_task_from_id(workflow.parent_task_id)
        if parent is None:
            break
        found.append(parent.data)
        workflow = parent.workflow
    return found


def _lookup(scope_list: list[dict[str, Any]], path: str) -> Any:
    steps = path.split(".")
    for data in scope_list:
        value: Any = data
        for step in steps:
            value = value.get(step) if isinstance(value, dict) else None
        if value not in (None, "", [], {}):
            return value
    return None


def context_of(task: Any, bundle: Bundle, secret: Confidential, now: datetime) -> TaskContext:
    """What the task's `taskContext` names, read from its data (and its callers'), without confidential
    values; labels from the forms."""
    wanted = entries(_properties(task).get(CONTEXT_PROPERTY))
    if not wanted:
        return TaskContext()
    from .library import form_path  # the library validates these properties with this module

    forms = bundle.forms
    diagram = bundle.spec_files.get(task.workflow.spec.name, "")
    raw = scopes(task)
    clean = [secret.without(dict(data)) for data in raw]
    context = TaskContext()
    loose = Section(None)
    for entry in wanted:
        if entry.is_form:
            schema = forms.get(form_path(diagram, entry.path), {})
            section = Section(str(schema.get("title") or entry.path))
            for name, prop in (schema.get("properties") or {}).items():
                if isinstance(prop, dict):
                    _add(section, context, raw, clean, name, prop, None, False, now)
            context.sections.append(section)
        else:
            prop = _field(forms, entry.path)
            _add(loose, context, raw, clean, entry.path, prop, entry.label, entry.since, now)
    if loose.items:
        context.sections.insert(0, loose)
    context.sections = [s for s in context.sections if s.items]
    return context


def _add(section: Section, context: TaskContext, raw: list[dict[str, Any]], clean: list[dict[str, Any]],
         path: str, prop: dict[str, Any], label: str | None, since: bool, now: datetime) -> None:
    value = _lookup(clean, path)
    if _lookup(raw, path) != value:
        context.withheld = True
    if value is None:
        return
    shown = _shown(value, prop)
    if since and isinstance(shown, str):
        days = _days_since(value, london_day(now))
        if days is not None:
            shown = f"{shown}, {_days(days)}"
    section.items.append(Item(label or _label(path, prop), shown))


def _days(days: int) -> str:
    if days == 0:
        return "today"
    if days > 0:
        return f"{days} day{'s' if days != 1 else ''} ago"
    return f"in {-days} day{'s' if days != -1 else ''}"


def _field(forms: dict[str, dict[str, Any]], path: str) -> dict[str, Any]:
    """The first form field at `path` (for its title and type); empty when no form has one."""
    for schema in forms.values():
        node: Any = schema
        for step in path.split("."):
            node = (node.get("properties") or {}).get(step) if isinstance(node, dict) else None
        if isinstance(node, dict):
            return node
    return {}


def _label(path: str, prop: dict[str, Any]) -> str:
    return str(prop.get("title") or path.rsplit(".", 1)[-1].replace("_", " ").capitalize())


def _shown(value: Any, prop: dict[str, Any]) -> str | list[str] | Document:
    """A value as a page shows it: dates in words, yes or no, lists a line each, documents by name."""
    if isinstance(value, dict) and "document_id" in value:
        return Document(int(value["document_id"]), str(value.get("name") or "document"))
    if isinstance(value, list):
        item = prop.get("items")
        return [_line(each, item if isinstance(item, dict) else {}) for each in value]
    return _scalar(value, prop)


def _line(value: Any, prop: dict[str, Any]) -> str:
    if isinstance(value, dict):
        props = prop.get("properties") or {}
        given = [(k, v) for k, v in value.items() if v not in (None, "", [], {})]
        if len(given) == 1:  # one answer needs no label
            return _scalar(given[0][1], props.get(given[0][0]) or {})
        return "; ".join(f"{_label(k, props.get(k) or {})}: {_scalar(v, props.get(k) or {})}" for k, v in given)
    return _scalar(value, prop)


def _scalar(value: Any, prop: dict[str, Any]) -> str:
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, dict) and "name" in value and "document_id" in value:
        return str(value["name"])
    if isinstance(value, list):
        return ", ".join(_scalar(v, {}) for v in value)
    if isinstance(value, dict):
        return _line(value, prop)
    if isinstance(value, str) and len(value) >= 10 and value[4:5] == "-" and (day := parse_day(value[:10])):
        return long_date(day)
    return str(value)
