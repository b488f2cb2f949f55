"""What changed between two process versions, file by file and element by element, in values a
process owner reads: names, scripts line by line, timer expressions, conditions, lanes, forms, and
the fields of changed form schemas."""

from __future__ import annotations

import copy
import difflib
import json
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from .library import BPMN_NS, NS

# as library.SAFE_PARSER, with the blanks between elements dropped for comparing
_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)
_SCRIPTS = {"Script": "bpmn:script", "Script before the step": "bpmn:extensionElements/spiffworkflow:preScript",
            "Script after the step": "bpmn:extensionElements/spiffworkflow:postScript"}
_PROPERTIES = {"formJsonSchemaFilename": "Form", "formUiSchemaFilename": "Form layout",
               "caseDeadlineDate": "Case deadline variable", "taskDueDate": "Due date variable",
               "taskTitle": "Task title"}


@dataclass(frozen=True)
class ValueChange:
    """One value of an element or a form field, before and after (None: it had none)."""

    what: str
    old: str | None
    new: str | None


@dataclass(frozen=True)
class DiffLine:
    kind: str  # added | removed | context | hunk
    text: str


@dataclass
class ScriptChange:
    what: str
    lines: list[DiffLine]


@dataclass
class ElementChange:
    element_id: str
    kind: str  # the element's type, e.g. userTask
    name: str
    change: str  # added | removed | changed
    values: list[ValueChange] = field(default_factory=list)
    scripts: list[ScriptChange] = field(default_factory=list)
    other: bool = False  # something else changed too (its flows, say)


@dataclass
class FieldChange:
    name: str  # its path in the form's data, e.g. agencies[].contact_email
    change: str  # added | removed | changed
    values: list[ValueChange] = field(default_factory=list)


@dataclass
class FileChange:
    path: str
    change: str  # added | removed | changed
    elements: list[ElementChange] = field(default_factory=list)
    layout_only: bool = False
    fields: list[FieldChange] = field(default_factory=list)


@dataclass(frozen=True)
class _Element:
    kind: str
    name: str
    facts: dict[str, str]
    scripts: dict[str, str]
    signature: bytes


def _text(el: Any) -> str | None:
    return el.text.strip() if el is not None and el.text and el.text.strip() else None


def _elements(text: str) -> dict[str, _Element]:
    """Each BPMN element with an id (but event definitions, read as part of their event)."""
    try:
        root = etree.fromstring(text.encode("utf-8"), _PARSER)
    except etree.XMLSyntaxError:
        return {}
    lanes = {_text(ref): lane.get("name") or lane.get("id") for lane in root.iterfind(".//bpmn:lane", NS)
             for ref in lane.iterfind("bpmn:flowNodeRef", NS)}
    found = {}
    for el in root.iter():
        if not isinstance(el.tag, str) or not el.get("id") or etree.QName(el).namespace != BPMN_NS:
            continue
        kind = etree.QName(el).localname
        if kind.endswith("EventDefinition"):
            continue
        facts: dict[str, str] = {}
        if el.get("id") in lanes:
            facts["Lane"] = str(lanes[el.get("id")])
        for definition in el:
            if isinstance(definition.tag, str) and etree.QName(definition).localname == "timerEventDefinition":
                for child in definition:
                    if isinstance(child.tag, str) and _text(child):
                        facts["Timer"] = f"{etree.QName(child).localname}: {_text(child)}"
        condition = _text(el.find("bpmn:conditionExpression", NS))
        if condition:
            facts["Condition"] = condition
        if el.get("calledElement"):
            facts["Called process"] = el.get("calledElement")
        for prop in el.iterfind("bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property", NS):
            label = _PROPERTIES.get(prop.get("name", ""), prop.get("name", ""))
            facts[label] = prop.get("value", "")
        instructions = _text(el.find("bpmn:extensionElements/spiffworkflow:instructionsForEndUser", NS))
        if instructions:
            facts["Instructions"] = instructions
        scripts = {what: el.find(path, NS).text or "" for what, path in _SCRIPTS.items()
                   if el.find(path, NS) is not None}
        own = copy.deepcopy(el)
        for child in list(own):
            if (isinstance(child.tag, str) and child.get("id")  # its own entry, or the drawing's
                    and not etree.QName(child).localname.endswith("EventDefinition")):
                own.remove(child)
        found[el.get("id")] = _Element(kind, el.get("name") or "", facts, scripts,
                                       etree.tostring(own, method="c14n"))
    return found


def _script_lines(old: str, new: str) -> list[DiffLine]:
    lines = []
    for line in difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=2):
        if line.startswith(("---", "+++")):
            continue
        kind = {"@": "hunk", "+": "added", "-": "removed"}.get(line[:1], "context")
        lines.append(DiffLine(kind, line if kind == "hunk" else line[1:]))
    return lines


def _element_change(element_id: str, before: _Element | None, after: _Element | None) -> ElementChange | None:
    shown = after or before
    assert shown is not None
    if before == after:
        return None
    change = "added" if before is None else "removed" if after is None else "changed"
    item = ElementChange(element_id, shown.kind, shown.name, change)
    old_facts = {"Name": before.name, **before.facts} if before else {}
    new_facts = {"Name": after.name, **after.facts} if after else {}
    for what in [*old_facts, *(k for k in new_facts if k not in old_facts)]:
        old, new = old_facts.get(what) or None, new_facts.get(what) or None
        if old != new:
            item.values.append(ValueChange(what, old, new))
    old_scripts, new_scripts = (before.scripts if before else {}), (after.scripts if after else {})
    for what in [*old_scripts, *(k for k in new_scripts if k not in old_scripts)]:
        old_text, new_text = old_scripts.get(what, ""), new_scripts.get(what, "")
        if old_text != new_text:
            item.scripts.append(ScriptChange(what, _script_lines(old_text, new_text)))
    if before is not None and after is not None:
        item.other = before.signature != after.signature and not item.values and not item.scripts
    return item


def _fields(schema: Any, prefix: str = "") -> dict[str, dict[str, str]]:
    """Each field of a JSON Schema form by its path: its title, type and whether it is required."""
    found: dict[str, dict[str, str]] = {}
    if not isinstance(schema, dict):
        return found
    required = set(schema.get("required") or [])
    for name, sub in (schema.get("properties") or {}).items():
        if not isinstance(sub, dict):
            continue
        path = f"{prefix}{name}"
        kind = sub.get("type")
        kind = " or ".join(map(str, kind)) if isinstance(kind, list) else str(kind or "any")
        if sub.get("format"):
            kind += f" ({sub['format']})"
        if sub.get("enum"):
            kind += ": " + ", ".join(map(str, sub["enum"]))
        found[path] = {"Title": str(sub.get("title") or ""), "Type": kind,
                       "Required": "yes" if name in required else "no"}
        found.update(_fields(sub, f"{path}."))
        if isinstance(sub.get("items"), dict):
            found.update(_fields(sub["items"], f"{path}[]."))
    return found


def _field_changes(old_text: str, new_text: str) -> list[FieldChange]:
    try:
        before, after = _fields(json.loads(old_text)), _fields(json.loads(new_text))
    except ValueError:
        return []
    changes = []
    for path in [*before, *(p for p in after if p not in before)]:
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        change = "added" if old is None else "removed" if new is None else "changed"
        values = [ValueChange(what, (old or {}).get(what), (new or {}).get(what))
                  for what in ("Title", "Type", "Required") if (old or {}).get(what) != (new or {}).get(what)]
        changes.append(FieldChange(path, change, values))
    return changes


def diff_versions(old: dict[str, str], new: dict[str, str]) -> list[FileChange]:
    """The files that differ between two versions' files (path -> text), and in each what changed."""
    changes = []
    for path in sorted(old.keys() | new.keys()):
        if path not in old:
            changes.append(FileChange(path, "added"))
        elif path not in new:
            changes.append(FileChange(path, "removed"))
        elif old[path] != new[path]:
            item = FileChange(path, "changed")
            if path.endswith(".bpmn"):
                before, after = _elements(old[path]), _elements(new[path])
                for element_id in sorted(before.keys() | after.keys()):
                    found = _element_change(element_id, before.get(element_id), after.get(element_id))
                    if found is not None:
                        item.elements.append(found)
                item.layout_only = not item.elements
            elif path.endswith(".json"):
                item.fields = _field_changes(old[path], new[path])
            changes.append(item)
    return changes
