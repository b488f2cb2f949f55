"""What the diagram pages draw: which elements are done (how often) and which are current."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from lxml import etree

from engine.bpmn.library import BPMN_NS
from engine.platform.audit import AuditType
from engine.platform.models import AuditEvent, CaseView

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)


def elements(text: str) -> dict[str, str]:
    """Every BPMN element of a file with an id: id -> name (layout elements left out)."""
    try:
        root = etree.fromstring(text.encode("utf-8"), _PARSER)
    except etree.XMLSyntaxError:
        return {}
    return {el.get("id"): el.get("name") or "" for el in root.iter()
            if isinstance(el.tag, str) and el.get("id") and etree.QName(el).namespace == BPMN_NS}


@dataclass
class Highlights:
    """Per file: element id -> times completed, and the ids of current elements."""

    completed: dict[str, Counter[str]] = field(default_factory=dict)
    current: dict[str, set[str]] = field(default_factory=dict)

    def for_file(self, path: str) -> dict[str, Any]:
        return {"completed": dict(self.completed.get(path, {})), "current": sorted(self.current.get(path, set()))}


def highlights(files: dict[str, str], events: list[AuditEvent | CaseView], current_ids: list[str]) -> Highlights:
    """Locate the case's history on its diagrams.

    Audit events name the element (`details["bpmn_id"]`) where the engine records it; older
    events only have the task's name, which is matched against the elements' names.
    """
    index = {path: elements(text) for path, text in files.items() if path.endswith(".bpmn")}
    by_name: dict[str, list[tuple[str, str]]] = {}
    where: dict[str, list[str]] = {}
    for path, elems in index.items():
        for element_id, name in elems.items():
            where.setdefault(element_id, []).append(path)
            if name:
                by_name.setdefault(name, []).append((path, element_id))
    result = Highlights()
    done = (AuditType.TASK_COMPLETED.value, AuditType.TIMER_FIRED.value)
    for event in events:
        if event.event_type not in done:
            continue
        bpmn_id = (event.details or {}).get("bpmn_id")
        places = [(p, bpmn_id) for p in where.get(bpmn_id, [])] if bpmn_id else \
            by_name.get(event.task_name or "", [])
        for path, found in places:
            result.completed.setdefault(path, Counter())[found] += 1
    for element_id in current_ids:
        for path in where.get(element_id, []):
            result.current.setdefault(path, set()).add(element_id)
    return result
