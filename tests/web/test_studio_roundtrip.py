"""Every diagram of processes/ survives the studio: imported into bpmn-js with our spiffworkflow
extension in Debian's chromium and saved, it keeps every element, id, attribute, text and extension
element (only layout and DI may differ), opens the same in plain bpmn-js (as in spiff-arena's modeler,
which reads the same namespace), and the engine parses it to the same specs."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from engine.bpmn.library import load_bundle, read_folder
from engine.platform.settings import PROJECT_ROOT
from tests.web.conftest import CHROMIUM, new_page

if not os.path.exists(CHROMIUM) and os.environ.get("CI") != "true":
    pytest.skip("chromium is not installed (apt-get install chromium); browser tests skipped", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")

PROCESSES = PROJECT_ROOT / "processes"
BUNDLE = PROJECT_ROOT / "node_modules" / ".dhr-build" / "studio.js"
PLAIN = PROJECT_ROOT / "node_modules" / "bpmn-js" / "dist" / "bpmn-modeler.development.js"
DIAGRAMS = sorted(p.name for p in PROCESSES.glob("*.bpmn"))
DI = ("http://www.omg.org/spec/BPMN/20100524/DI", "http://www.omg.org/spec/DD/20100524/DC",
      "http://www.omg.org/spec/DD/20100524/DI")
# spiff-arena's modeler names its types as the tags (`properties`, `property`, `postScript`...), with no
# tag alias; a descriptor of that shape (written here) reads our saved XML as spiff-arena's does.
SPIFF_ARENA_SHAPE = {
    "name": "SpiffWorkflow", "uri": "http://spiffworkflow.org/bpmn/schema/1.0/core", "prefix": "spiffworkflow",
    "associations": [],
    "types": [
        {"name": "properties", "superClass": ["Element"],
         "properties": [{"name": "properties", "type": "property", "isMany": True}]},
        {"name": "property", "superClass": ["Element"],
         "properties": [{"name": "name", "isAttr": True, "type": "String"},
                        {"name": "value", "isAttr": True, "type": "String"}]},
        *({"name": tag, "superClass": ["Element"], "properties": [{"name": "text", "isBody": True, "type": "String"}]}
          for tag in ("preScript", "postScript", "messagePayload", "messageVariable", "instructionsForEndUser")),
    ],
}
ROUND_TRIP = """async ([xml, studio, spiff]) => {
    const box = document.createElement('div');
    box.style.width = '1200px'; box.style.height = '800px';
    document.body.appendChild(box);
    const modeler = studio === 'studio' ? window.DhrStudio.createModeler(box)
        : studio === 'spiff' ? new window.BpmnJS({container: box, moddleExtensions: {spiffworkflow: spiff}})
        : new window.BpmnJS({container: box});
    const imported = await modeler.importXML(xml);
    const saved = await modeler.saveXML({format: true});
    modeler.destroy(); box.remove();
    return {xml: saved.xml, warnings: imported.warnings.map(w => w.message)};
}"""


@pytest.fixture(scope="module")
def browser(chromium: Any) -> Iterator[Any]:
    assert BUNDLE.exists(), "the studio's bundle is built by `make setup`"
    with new_page(chromium) as page:
        page.set_content("<!DOCTYPE html><html><body></body></html>")
        page.add_script_tag(path=str(BUNDLE))
        page.add_script_tag(path=str(PLAIN))
        yield page


def _facts(xml: str) -> set[tuple[str, str, tuple[tuple[str, str], ...], str]]:
    """Every element but the diagram's layout: where it sits (its ancestors' tags and ids), its id, its
    attributes and its text (whitespace at the ends ignored)."""
    root = etree.fromstring(xml.encode("utf-8"))
    facts = set()
    for element in root.iter():
        if not isinstance(element.tag, str) or element.tag.startswith(tuple("{" + ns for ns in DI)):
            continue
        path = "/".join(f"{a.tag}#{a.get('id', '')}" for a in reversed(list(element.iterancestors())))
        attributes = tuple(sorted((k, v) for k, v in element.attrib.items()))
        facts.add((f"{path}/{element.tag}", element.get("id", ""), attributes, (element.text or "").strip()))
    return facts


def _save(page: Any, xml: str, modeler: str = "studio") -> str:
    result = page.evaluate(ROUND_TRIP, [xml, modeler, SPIFF_ARENA_SHAPE])
    assert result["warnings"] == []
    return str(result["xml"])


@pytest.mark.parametrize("name", DIAGRAMS)
def test_a_diagram_saved_by_the_studio_keeps_every_element_id_attribute_and_extension(browser: Any,
                                                                                      name: str) -> None:
    original = (PROCESSES / name).read_text(encoding="utf-8")
    saved = _save(browser, original)
    before, after = _facts(original), _facts(saved)
    assert before - after == set(), "lost by the studio"
    assert after - before == set(), "added by the studio"
    assert "spiffworkflow:properties" in saved or "spiffworkflow:" not in original
    # plain bpmn-js (no extension), and bpmn-js with a descriptor shaped as spiff-arena's, keep it all too
    assert _facts(_save(browser, saved, "plain")) == before
    assert _facts(_save(browser, saved, "spiff")) == before


def test_the_engine_parses_the_studios_diagrams_to_the_same_specs(browser: Any) -> None:
    files = read_folder(Path(PROCESSES))
    saved = {path: _save(browser, text) if path.endswith(".bpmn") else text for path, text in files.items()}
    original, studio = load_bundle(files), load_bundle(saved)
    assert studio.process_ids == original.process_ids
    for process_id in original.process_ids:
        assert studio.pristine(process_id) == original.pristine(process_id), process_id
