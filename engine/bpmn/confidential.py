"""Confidential form fields: values (a person's name, a date of birth) kept out of the audit trail.

A form marks a field with the JSON Schema keyword `"x-confidential": true`, at any depth (a field of
the objects in a list too). Where the value would be written to the audit trail, a keyed hash of it
is written instead (`audit.seal_value`), so the trail still shows that it changed and an auditor who
holds the audit key can confirm what it was, but nobody reading the trail learns it.

A field is confidential in every case, whatever its version, once any deployed version marks it: a
later version that drops the mark cannot bring the values back into the trail.
"""

from __future__ import annotations

import hmac
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..platform.access import may_see_case, may_see_confidential
from ..platform.audit import SEALED, AuditType, record, seal_value, sealed
from ..platform.errors import NotAllowed
from ..platform.models import AuditEvent, Case, ProcessFile, User
from .deployments import content_hashes
from .form_refs import json_files, self_contained

KEYWORD = "x-confidential"
ANY_ITEM = "*"  # a path step that stands for every item of a list


def fields_of(schema: dict[str, Any]) -> dict[str, str]:
    """The confidential fields of a form: dotted path ('family_key_contacts.*.name') -> label.

    A field defined by a reference inside the form (`"$ref": "#/$defs/person"`, as a reference to
    another form file becomes when the version loads) is followed there.
    """
    found: dict[str, str] = {}
    _walk(schema, schema, [], [], found, ())
    return found


def _walk(root: dict[str, Any], node: dict[str, Any], path: list[str], titles: list[str], found: dict[str, str],
          following: tuple[str, ...]) -> None:
    reference = node.get("$ref")
    if isinstance(reference, str) and reference.startswith("#/") and reference not in following:
        target = _resolve(root, reference)
        if isinstance(target, dict):
            _walk(root, target, path, titles, found, (*following, reference))
    properties = node.get("properties")
    if isinstance(properties, dict):
        for name, child in properties.items():
            if not isinstance(child, dict):
                continue
            title = str(child.get("title") or name.replace("_", " ").capitalize())
            if child.get(KEYWORD) is True or _marked(root, child):
                found[".".join([*path, name])] = ": ".join([*titles, title])
            else:
                _walk(root, child, [*path, name], [*titles, title], found, following)
    items = node.get("items")
    if isinstance(items, dict):
        _walk(root, items, [*path, ANY_ITEM], titles, found, following)


def _marked(root: dict[str, Any], node: dict[str, Any]) -> bool:
    """Whether a field's definition, reached by its local reference, carries the mark."""
    reference = node.get("$ref")
    target = _resolve(root, reference) if isinstance(reference, str) and reference.startswith("#/") else None
    return isinstance(target, dict) and target.get(KEYWORD) is True


def _resolve(root: dict[str, Any], reference: str) -> Any:
    node: Any = root
    for part in reference[2:].split("/"):
        part = part.replace("~1", "/").replace("~0", "~")
        node = node.get(part) if isinstance(node, dict) else None
    return node


def problems_in(schema: dict[str, Any], where: str = "") -> list[str]:
    """Say where a form uses the keyword with anything but true or false."""
    found = []
    if KEYWORD in schema and not isinstance(schema[KEYWORD], bool):
        found.append(f"'{KEYWORD}' at {where or 'top level'} must be true or false")
    for name, child in (schema.get("properties") or {}).items():
        if isinstance(child, dict):
            found += problems_in(child, f"{where}/{name}" if where else name)
    if isinstance(schema.get("items"), dict):
        found += problems_in(schema["items"], f"{where}/items" if where else "items")
    for name, child in (schema.get("$defs") or {}).items():
        if isinstance(child, dict):
            found += problems_in(child, f"{where}/$defs/{name}" if where else f"$defs/{name}")
    return found


def from_files(files: dict[str, str]) -> dict[str, str]:
    """The confidential fields of every form among `files` (path -> text); unreadable ones are skipped."""
    found: dict[str, str] = {}
    for path, schema in json_files(files).items():
        if isinstance(schema, dict):
            schema, _ = self_contained(files, path, schema)  # another form file's fields count too
            for dotted, label in fields_of(schema).items():
                found.setdefault(dotted, label)
    return found


@dataclass(frozen=True)
class Confidential:
    """A set of confidential fields, by dotted path, with their labels."""

    fields: dict[str, str] = field(default_factory=dict)

    def names(self) -> set[str]:
        """The variables (top-level fields) that hold a confidential value, or one deeper inside."""
        return {path.split(".", 1)[0] for path in self.fields}

    def seal(self, name: str, value: Any, case_id: int | None) -> Any:
        """`value` of variable `name` with every confidential value in it replaced by its seal."""
        for path in self.fields:
            steps = path.split(".")
            if steps[0] == name:
                value = _seal(value, steps[1:], path, case_id)
        return value

    def seal_changes(self, changed: dict[str, Any], case_id: int | None) -> dict[str, Any]:
        """An audit event's `changed` ({field: [old, new]}) with confidential values sealed."""
        names = self.names()
        return {key: ([self.seal(key, side, case_id) for side in pair] if isinstance(pair, list) else
                      self.seal(key, pair, case_id)) if key in names else pair
                for key, pair in changed.items()}

    def values(self, data: dict[str, Any]) -> list[tuple[str, Any]]:
        """The confidential values `data` holds, with their labels, in the order the fields were found."""
        shown = []
        for path, label in self.fields.items():
            found = _values(data, path.split("."))
            if found:
                shown.append((label, found[0] if ANY_ITEM not in path else found))
        return shown

    def without(self, data: dict[str, Any]) -> dict[str, Any]:
        """A copy of `data` without its confidential values (for letters and the like)."""
        clean = dict(data)
        for path in self.fields:
            steps = path.split(".")
            if steps[0] in clean:
                clean[steps[0]] = _drop(clean[steps[0]], steps[1:])
        return {k: v for k, v in clean.items() if v is not _GONE}


_GONE = object()


def _seal(value: Any, rest: list[str], path: str, case_id: int | None) -> Any:
    if value is None or sealed(value):
        return value
    if not rest:
        return {SEALED: seal_value(case_id, path, value)}
    step, tail = rest[0], rest[1:]
    if step == ANY_ITEM:
        return [_seal(item, tail, path, case_id) for item in value] if isinstance(value, list) else value
    if isinstance(value, dict) and step in value:
        return {**value, step: _seal(value[step], tail, path, case_id)}
    return value


def _values(value: Any, steps: list[str]) -> list[Any]:
    if not steps:
        return [] if value in (None, "") else [value]
    step, tail = steps[0], steps[1:]
    if step == ANY_ITEM:
        return [v for item in value for v in _values(item, tail)] if isinstance(value, list) else []
    return _values(value.get(step), tail) if isinstance(value, dict) else []


def _drop(value: Any, rest: list[str]) -> Any:
    if not rest:
        return _GONE
    step, tail = rest[0], rest[1:]
    if step == ANY_ITEM:
        return [_drop(item, tail) for item in value] if isinstance(value, list) else value
    if isinstance(value, dict) and step in value:
        kept = _drop(value[step], tail)
        return {k: v for k, v in value.items() if k != step} if kept is _GONE else {**value, step: kept}
    return value


def confirms(event: AuditEvent, path: str, value: Any) -> bool | None:
    """Whether `value` is a value the event sealed as field `path` (the old or the new one); None if
    the event seals nothing there. Only the holder of the audit key can tell."""
    details = event.details or {}
    holder = details.get("changed") if event.event_type == AuditType.TASK_COMPLETED.value else details.get("payload")
    steps = path.split(".")
    entry = holder.get(steps[0]) if isinstance(holder, dict) else None
    sides = entry if event.event_type == AuditType.TASK_COMPLETED.value and isinstance(entry, list) else [entry]
    seals = [found[SEALED] for side in sides for found in _values(side, steps[1:]) if sealed(found)]
    if not seals:
        return None
    digest = seal_value(event.case_id, path, value)
    return any(hmac.compare_digest(each, digest) for each in seals)


_by_version: dict[int, tuple[str, dict[str, str]]] = {}  # version id -> (content hash, its fields)
_lock = threading.Lock()


def deployed(session: Session) -> Confidential:
    """The fields any deployed version marks confidential.

    Versions never change once deployed, so each is read once per process (checked against its
    content hash, as `runtime.bundle_for` does).
    """
    found: dict[str, str] = {}
    for version_id, content_hash in sorted(content_hashes(session).items(), reverse=True):
        with _lock:
            cached = _by_version.get(version_id)
        if cached is None or cached[0] != content_hash:
            rows = session.execute(select(ProcessFile.path, ProcessFile.content).where(
                ProcessFile.version_id == version_id, ProcessFile.path.like("%.json")))
            cached = (content_hash, from_files({path: text for path, text in rows}))
            with _lock:
                _by_version[version_id] = cached
        for path, label in cached[1].items():
            found.setdefault(path, label)
    return Confidential(found)


def reveal(session: Session, case: Case, user: User, *, roles: tuple[str, ...], at: datetime) -> list[tuple[str, Any]]:
    """The case's confidential values, with their labels, for a user whose role needs them
    (`roles`, DHR_CONFIDENTIAL_ROLES) and who may see the case; each read is audited.

    Raises:
        NotAllowed: the user's role is not one of `roles`, or they may not see the case.
    """
    if not may_see_confidential(user, roles) or not may_see_case(session, user, case.id):
        raise NotAllowed(f"{user.username} ({user.role}) may not see the confidential details of {case.reference}")
    from .runtime import WORKFLOWS, load_workflow  # the runtime seals with this module: imported when needed

    workflow = load_workflow(case, session)
    WORKFLOWS.put(case.id, case.state, workflow)  # only read: keep it for the next writer
    data: dict[str, Any] = {}
    for task in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING) or [workflow.last_task]:
        if task is not None:
            data.update(task.data)
    secret = deployed(session)
    shown = secret.values(data)
    if shown:
        record(session, AuditType.CONFIDENTIAL_VIEWED, actor=user.username, at=at, case_id=case.id,
               details={"fields": [path for path in secret.fields if _values(data, path.split("."))],
                        "role": user.role})
    return shown
