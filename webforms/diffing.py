"""Which files and which BPMN elements changed between two process versions."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from lxml import etree

from engine.bpmn.library import BPMN_NS

_PARSER = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)


@dataclass
class ElementChange:
    element_id: str
    kind: str  # the element's type, e.g. userTask
    name: str
    change: str  # added | removed | changed


@dataclass
class FileChange:
    path: str
    change: str  # added | removed | changed
    elements: list[ElementChange] = field(default_factory=list)
    layout_only: bool = False


def _signatures(text: str) -> dict[str, tuple[str, str, bytes]]:
    """Each BPMN element: its type, name and content without its own child elements that have ids."""
    try:
        root = etree.fromstring(text.encode("utf-8"), _PARSER)
    except etree.XMLSyntaxError:
        return {}
    result = {}
    for el in root.iter():
        if not isinstance(el.tag, str) or not el.get("id") or etree.QName(el).namespace != BPMN_NS:
            continue
        own = copy.deepcopy(el)
        for child in list(own):
            if isinstance(child.tag, str) and child.get("id") and etree.QName(child).namespace == BPMN_NS:
                own.remove(child)
        result[el.get("id")] = (etree.QName(el).localname, el.get("name") or "", etree.tostring(own, method="c14n"))
    return result


def diff_versions(old: dict[str, str], new: dict[str, str]) -> list[FileChange]:
    changes = []
    for path in sorted(old.keys() | new.keys()):
        if path not in old:
            changes.append(FileChange(path, "added"))
        elif path not in new:
            changes.append(FileChange(path, "removed"))
        elif old[path] != new[path]:
            item = FileChange(path, "changed")
            if path.endswith(".bpmn"):
                before, after = _signatures(old[path]), _signatures(new[path])
                for element_id in sorted(before.keys() | after.keys()):
                    a, b = before.get(element_id), after.get(element_id)
                    if a == b:
                        continue
                    shown = b or a
                    assert shown is not None
                    kind = "added" if a is None else "removed" if b is None else "changed"
                    item.elements.append(ElementChange(element_id, shown[0], shown[1], kind))
                item.layout_only = not item.elements
            changes.append(item)
    return changes
