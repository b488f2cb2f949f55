"""The process library: BPMN diagrams and their form files, validated and content-hashed.

A *bundle* is every `.bpmn` and `.json` file under a folder, keyed by its path relative to that
folder. `load_bundle` validates it all at once and reports every problem it finds with the file,
the element id and the line; the engine only ever runs bundles that passed.
"""

from __future__ import annotations

import ast
import hashlib
import json
import posixpath
import re
from collections.abc import MutableMapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from importlib.metadata import version
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from lxml import etree
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.spiff.parser.process import VALIDATOR, SpiffBpmnParser

from ..platform.errors import DhrError, DiagramInvalid, DiagramProblem
from . import confidential, task_context
from .form_refs import self_contained
from .forms import keyword_problems
from .scripting import HELPERS, RestrictedCodeError, RestrictedEnvironment, compile_expression, compile_script
from .serialization import STATE_VERSION, new_specs, read_only, spec_state

BPMN_NS = "http://www.omg.org/spec/BPMN/20100524/MODEL"
SPIFF_NS = "http://spiffworkflow.org/bpmn/schema/1.0/core"
NS = {"bpmn": BPMN_NS, "spiffworkflow": SPIFF_NS}  # prefixes for find/iterfind on a diagram
# Diagrams come from people: no entity in them is expanded, nothing is fetched (said, not left to defaults).
SAFE_PARSER = etree.XMLParser(resolve_entities=False, no_network=True)
FORM_PROPERTY = "formJsonSchemaFilename"
UI_PROPERTY = "formUiSchemaFilename"
# What stored specs (`stored_specs`) were written by: others are ignored and the diagrams parsed.
SPEC_FORMAT = f"dhr-specs-1/spiff-{version('SpiffWorkflow')}/{STATE_VERSION}"
_ISO_LIKE = re.compile(r"^(R\d*/)?P[0-9YMWDTHS.,]+$|^\d{4}-\d{2}-\d{2}", re.IGNORECASE)


def read_folder(folder: Path) -> dict[str, str]:
    """Read every diagram and JSON file under `folder`, keyed by relative POSIX path.

    Raises:
        DhrError: the folder does not exist or holds no diagram.
    """
    if not folder.is_dir():
        raise DhrError(f"{folder} is not a folder")
    files = {
        path.relative_to(folder).as_posix(): path.read_text(encoding="utf-8")
        for path in sorted(folder.rglob("*"))
        if path.is_file() and path.suffix in (".bpmn", ".json") and "node_modules" not in path.parts
    }
    if not any(name.endswith(".bpmn") for name in files):
        raise DhrError(f"{folder} holds no .bpmn file")
    return files


def content_hash(files: dict[str, str]) -> str:
    """Hash a bundle by its paths and contents, so identical files give an identical version."""
    digest = hashlib.sha256()
    for path in sorted(files):
        digest.update(path.encode() + b"\0" + hashlib.sha256(files[path].encode()).digest())
    return digest.hexdigest()


def form_path(bpmn_file: str, reference: str) -> str:
    """Resolve a form file named in a diagram relative to the diagram's folder."""
    return posixpath.normpath(posixpath.join(posixpath.dirname(bpmn_file), reference))


@dataclass
class Bundle:
    """A validated set of diagrams and forms, ready to start and run cases."""

    files: dict[str, str]
    parser: SpiffBpmnParser | None  # None: restored from stored specs (`from_stored`), not parsed
    process_files: dict[str, str]  # process id -> the file that defines it
    forms: dict[str, dict[str, Any]] = field(default_factory=dict)
    spec_files: dict[str, str] = field(default_factory=dict)  # processes and embedded subprocesses -> file
    _specs: dict[str, tuple[Any, MutableMapping[str, Any]]] = field(default_factory=dict)
    _pristine: dict[str, str] = field(default_factory=dict)
    _refused_forms: set[str] = field(default_factory=set)  # reported once, however many tasks use them
    trusted: bool = False  # validated when deployed: the schema checks are not made again

    @cached_property
    def content_hash(self) -> str:
        return content_hash(self.files)

    @property
    def process_ids(self) -> list[str]:
        return sorted(self.process_files)

    def specs(self, process_id: str) -> tuple[Any, MutableMapping[str, Any]]:
        """Return the spec of `process_id` and the specs of every process it calls (parsed once)."""
        if process_id not in self._specs:
            if self.parser is None:
                self._specs[process_id] = new_specs(self.pristine(process_id))
            else:
                self._specs[process_id] = (self.parser.get_spec(process_id),
                                           self.parser.get_subprocess_specs(process_id))
        return self._specs[process_id]

    def pristine(self, process_id: str) -> str:
        """The serialized specs of `process_id` as parsed: what a new case starts from, and what every
        saved state is patched onto (engine/serialization.py). Workflows never run on the objects
        `specs` returns, so nothing a case does to its specs can reach another case."""
        if process_id not in self._pristine:
            if self.parser is None:
                raise KeyError(f"no process '{process_id}' in this version")
            self._pristine[process_id] = spec_state(*self.specs(process_id))
        return self._pristine[process_id]

    def stored_specs(self) -> dict[str, str]:
        """What a deployment stores beside the files, so that loading the version later restores it
        (`from_stored`) instead of parsing and checking the diagrams again: each process's
        `pristine`, and under "" the index (which file defines each process and subprocess, the
        forms as checked)."""
        stored = {process_id: self.pristine(process_id) for process_id in self.process_ids}
        stored[""] = json.dumps({"process_files": self.process_files, "spec_files": self.spec_files,
                                 "forms": self.forms})
        return stored

    @classmethod
    def from_stored(cls, files: dict[str, str], stored: dict[str, str]) -> Bundle:
        """A deployed version restored from what `stored_specs` returned when it was deployed: what
        `load_bundle(files, trusted=True)` would give, without parsing the XML."""
        index = json.loads(stored[""])
        return cls(files=files, parser=None, process_files=index["process_files"], spec_files=index["spec_files"],
                   forms=index["forms"], _pristine={k: v for k, v in stored.items() if k}, trusted=True)

    def stages(self, process_id: str) -> list[str]:
        """The names of the processes `process_id` calls, in the order the diagram lists them."""
        return [self.process_name(p) for p in self.stage_ids(process_id)]

    def stage_ids(self, process_id: str) -> list[str]:
        """The ids of the processes `process_id` calls, in the order the diagram lists them."""
        if self.parser is None:  # read from the stored specs: restoring spec objects takes far longer
            tasks = read_only(self.pristine(process_id))["spec"]["task_specs"].values()
            return [t["spec"] for t in tasks if t["typename"] == "CallActivity" and t["spec"] in self.process_files]
        spec, _ = self.specs(process_id)
        return [t.spec for t in spec.task_specs.values()
                if type(t).__name__ == "CallActivity" and t.spec in self.process_files]

    def process_name(self, process_id: str) -> str:
        if self.parser is None:
            return read_only(self.pristine(process_id))["spec"].get("description") or process_id
        spec, _ = self.specs(process_id)
        return spec.description or process_id


def _element_index(file: str, tree: Any) -> dict[str, int]:
    return {el.get("id"): el.sourceline for el in tree.iter() if isinstance(el.tag, str) and el.get("id")}


def _xsd_message(message: str) -> str:
    message = re.sub(r"\{[^}]*\}", "", message)
    return message.split(" Expected is", 1)[0]


def load_bundle(files: dict[str, str], *, trusted: bool = False) -> Bundle:
    """Parse and validate every file of a bundle; a `trusted` bundle (a deployed version, validated
    when it was deployed) skips the costly schema checks of its diagrams and forms.

    Raises:
        DiagramInvalid: listing every problem found, each with file, element id and line.
    """
    problems: list[DiagramProblem] = []
    trees: dict[str, Any] = {}
    refused: set[str] = set()  # elements refused already, whatever else they lack
    lines: dict[str, tuple[str, int]] = {}
    for name, text in sorted(files.items()):
        if not name.endswith(".bpmn"):
            continue
        try:
            tree = etree.fromstring(text.encode("utf-8"), SAFE_PARSER)
        except etree.XMLSyntaxError as exc:
            problems.append(DiagramProblem(name, f"not well-formed XML: {exc.msg}", None, exc.lineno))
            continue
        try:
            if not trusted:
                VALIDATOR.validate(tree, name)
        except ValidationException as exc:
            line = int(exc.line_number) if exc.line_number else None
            element = next(
                (el.get("id") for el in tree.iter() if isinstance(el.tag, str) and el.sourceline == line), None
            )
            problems.append(DiagramProblem(name, _xsd_message(str(exc)), element, line))
            continue
        trees[name] = tree
        for element_id, line in _element_index(name, tree).items():
            lines.setdefault(element_id, (name, line))
        for kind, message in _REFUSED_ELEMENTS.items():
            for element in list(tree.iter(f"{{{BPMN_NS}}}{kind}")):
                label = element.get("name") or element.get("id")
                problems.append(DiagramProblem(name, f"'{label}': {message}", element.get("id"), element.sourceline))
                refused.add(element.get("id"))
                element.tag = f"{{{BPMN_NS}}}task"  # so the rest of the diagram can still be checked

    def problem(file: str, element_id: str | None, message: str) -> DiagramProblem:
        located = lines.get(element_id or "")
        return DiagramProblem(located[0] if located else file, message, element_id, located[1] if located else None)

    parser = SpiffBpmnParser()  # the schema was checked above, file by file
    process_files: dict[str, str] = {}
    spec_files: dict[str, str] = {}
    for name, tree in trees.items():
        clashes = [p for p in tree.iter(f"{{{BPMN_NS}}}process") if p.get("id") in process_files]
        for process in clashes:
            other = process_files[process.get("id")]
            problems.append(DiagramProblem(
                name, f"the process id '{process.get('id')}' is also the id of a process in {other}: give one of "
                      "them another id", process.get("id"), process.sourceline))
        if clashes:
            continue
        try:
            parser.add_bpmn_xml(tree, name)
        except ValidationException as exc:
            problems.append(problem(name, exc.id or None, _plain(str(exc))))
            continue
        for process in tree.iter(f"{{{BPMN_NS}}}process"):
            process_files[process.get("id")] = name
        for element in tree.iter(f"{{{BPMN_NS}}}process", f"{{{BPMN_NS}}}subProcess"):
            spec_files[element.get("id")] = name

    calls: dict[str, list[tuple[str, str]]] = {}  # process id -> (call activity id, called process id)
    # a target in a file that did not parse is not reported again as missing
    unparsed = " ".join(text for name, text in files.items() if name.endswith(".bpmn") and name not in trees)
    for name, tree in trees.items():
        for process in tree.iter(f"{{{BPMN_NS}}}process"):
            for call in process.iter(f"{{{BPMN_NS}}}callActivity"):
                target = call.get("calledElement")
                calls.setdefault(process.get("id"), []).append((call.get("id"), target))
                if target not in process_files and f'id="{target}"' not in unparsed:
                    problems.append(problem(name, call.get("id"),
                                            f"calls process '{target}', which no diagram defines"))
    problems.extend(_call_cycles(calls, problem))

    bundle = Bundle(files=files, parser=parser, process_files=process_files, spec_files=spec_files,
                    trusted=trusted)
    specs: dict[str, Any] = {}
    pending = sorted(process_files)
    while pending:  # every process, then the embedded subprocesses that parsing them registers
        for spec_id in pending:
            try:
                specs[spec_id] = parser.get_spec(spec_id)
            except ValidationException as exc:
                specs[spec_id] = None
                problems.append(problem(spec_files.get(spec_id, ""), exc.id or spec_id, _plain(str(exc))))
        pending = sorted(set(parser.get_process_ids()) - specs.keys())
    for spec_id, spec in sorted(specs.items()):
        if spec is None:
            continue
        name = spec_files.get(spec_id, "")
        for task_spec in spec.task_specs.values():
            if task_spec.bpmn_id not in refused:
                problems.extend(_check_task(bundle, name, task_spec, problem))
    problems.extend(_check_events(trees, problem))
    if problems:
        raise DiagramInvalid(problems)
    return bundle


def problems_in(files: dict[str, str]) -> list[DiagramProblem]:
    """Check a bundle exactly as deploying it would (`load_bundle`), storing nothing: every problem found."""
    try:
        load_bundle(files)
    except DiagramInvalid as exc:
        return list(exc.problems)
    return []


def form_schema(files: dict[str, str], path: str) -> dict[str, Any]:
    """Return one form file of a bundle as a task would use it (checked, its references to the bundle's
    other form files copied in), whether or not a diagram names it yet.

    Raises:
        DiagramInvalid: the file is missing or is not a form (with the JSON's line and column).
    """
    if not path.endswith(".json") or path not in files:
        raise DiagramInvalid([DiagramProblem(path, f"form file '{path}' does not exist")])
    bundle = Bundle(files=files, parser=SpiffBpmnParser(), process_files={})

    def problem(file: str, element_id: str | None, message: str) -> DiagramProblem:
        return DiagramProblem(file, message, element_id)

    found = _form_problems(bundle, path, None, path, problem)
    if found:
        raise DiagramInvalid(found)
    return bundle.forms[path]


_SANDBOX_NAMES = frozenset(RestrictedEnvironment().globals["__builtins__"]) | frozenset(HELPERS)
# Python's names that mean something other than case data, and that the sandbox does not offer
_REFUSED_NAMES = frozenset({
    "print", "open", "input", "eval", "exec", "compile", "__import__", "globals", "locals", "vars", "exit",
    "quit", "help", "breakpoint", "dir", "delattr", "setattr", "memoryview", "super", "classmethod",
    "staticmethod", "property",
}) - _SANDBOX_NAMES  # never `type` or `id`: a form may well have a field of that name


def script_problem(source: str) -> str | None:
    """Say why a script (a script task's, or a pre- or post-script) cannot run here, or None."""
    return _code_problem(source, compile_script, "exec")


def expression_problem(source: str) -> str | None:
    """Say why a condition or other expression cannot run here, or None."""
    return _code_problem(source.strip(), compile_expression, "eval")


def _code_problem(source: str, compile_it: Any, mode: str) -> str | None:
    try:
        compile_it(source)
    except RestrictedCodeError as exc:
        return str(exc)
    tree = ast.parse(source, mode=mode)
    assigned = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import | ast.ImportFrom):
            return ("'import' is not allowed: scripts work on the case's data with the helpers "
                    f"{', '.join(sorted(HELPERS))}")
        if isinstance(node, ast.Name) and node.id in _REFUSED_NAMES and node.id not in assigned:
            if node.id == "print":
                return "'print' is not available (a script has nowhere to print to): set a variable instead"
            return f"'{node.id}' is not available to scripts here"
    return None


def _plain(message: str) -> str:
    """A parser's message without the Python object reprs some of them carry."""
    return re.sub(r"<[\w.]+ object at 0x[0-9a-f]+>\.?\s*", "", message).strip() or "cannot be parsed"


def _call_cycles(calls: dict[str, list[tuple[str, str]]], problem: Any) -> list[DiagramProblem]:
    """A process that calls itself, directly or through others, would start copies of itself forever."""
    found: list[DiagramProblem] = []
    done: set[str] = set()  # processes whose every call has been followed

    def walk(path: list[str]) -> None:
        for call_id, target in calls.get(path[-1], []):
            if target in path:
                chain = " → ".join([*path[path.index(target):], target])
                found.append(problem("", call_id, f"this call activity makes process '{target}' call itself "
                                                  f"({chain}), so it would never end: call another process"))
            elif target not in done:
                walk([*path, target])
        done.add(path[-1])

    for process in sorted(calls):
        if process not in done:
            walk([process])
    return found


def _check_events(trees: dict[str, Any], problem: Any) -> list[DiagramProblem]:
    """Events SpiffWorkflow 3.2 would not run as the diagram says: refused here rather than run wrongly."""
    found = []
    for name, tree in trees.items():
        for sub in tree.iter(f"{{{BPMN_NS}}}subProcess"):
            if sub.get("triggeredByEvent") != "true":
                continue
            for start in sub.findall(f"{{{BPMN_NS}}}startEvent"):
                if start.find(f"{{{BPMN_NS}}}escalationEventDefinition") is not None:
                    found.append(problem(name, start.get("id"), "an event subprocess cannot start on an escalation "
                                                                "here: catch it with a boundary event on the activity "
                                                                "that raises it instead"))
                elif start.get("isInterrupting", "true") != "false":
                    found.append(problem(name, start.get("id"), "an interrupting event subprocess would not stop the "
                                                                "rest of the process here: make its start event "
                                                                "non-interrupting, or catch the event with an "
                                                                "interrupting boundary event on what it should stop"))
        for boundary in tree.iter(f"{{{BPMN_NS}}}boundaryEvent"):
            if boundary.get("cancelActivity", "true") != "false":
                continue
            for kind in ("escalation", "signal"):
                if boundary.find(f"{{{BPMN_NS}}}{kind}EventDefinition") is not None:
                    found.append(problem(name, boundary.get("id"), f"a non-interrupting {kind} boundary event catches "
                                                                   f"only the first {kind} here and loses the others: "
                                                                   "make it interrupting, and loop back to the "
                                                                   "activity if it must go on"))
    return found


_PERSON_TASKS = {"UserTask": "user task", "ManualTask": "manual task", "NoneTask": "task"}
_REFUSED_ELEMENTS = {
    "serviceTask": "service tasks cannot run here (the product calls no outside services): use a script task for "
                   "a calculation, or a user task for a person's step",
    "businessRuleTask": "business rule tasks (DMN decision tables) cannot run here: use an exclusive gateway with "
                        "conditions, or a script task",
}


def _check_task(bundle: Bundle, file: str, task_spec: Any, problem: Any) -> list[DiagramProblem]:
    found: list[DiagramProblem] = []
    element_id = task_spec.bpmn_id
    kind = type(task_spec).__name__
    label = task_spec.bpmn_name or element_id

    if task_spec.manual and not task_spec.lane:
        what = _PERSON_TASKS.get(kind, "task")
        found.append(problem(file, element_id,
                             f"{what} '{label}' is for a person, but it is in no lane, so no role can do it: "
                             "put it in a lane named after a role, the one whose people do it"))
    if kind == "UserTask":
        properties = task_spec.extensions.get("properties", {})
        reference = properties.get(FORM_PROPERTY)
        if reference:
            found.extend(_check_form(bundle, file, element_id, form_path(file, reference), problem))
        for shown in task_context.forms_named(properties):  # forms whose answers the task shows
            found.extend(_check_form(bundle, file, element_id, form_path(file, shown), problem))
        if not bundle.trusted and (message := task_context.title_problem(properties)):
            found.append(problem(file, element_id, f"the title of '{label}' {message}"))

    if bundle.trusted:  # its code was checked when it was deployed
        return found
    extensions = getattr(task_spec, "extensions", {})
    for what, script in (("script", getattr(task_spec, "script", None)),
                         ("pre-script", getattr(task_spec, "prescript", None) or extensions.get("preScript")),
                         ("post-script", getattr(task_spec, "postscript", None) or extensions.get("postScript"))):
        if isinstance(script, str) and script.strip():
            message = script_problem(script)
            if message:
                found.append(problem(file, element_id, f"the {what} of '{label}' cannot run: {message}"))

    expressions = [("condition", condition.args[0])
                   for condition, _target in getattr(task_spec, "cond_task_specs", []) or []
                   if condition is not None and condition.args]
    for attribute, what in (("cardinality", "cardinality"), ("condition", "loop or completion condition")):
        value = getattr(task_spec, attribute, None)
        if isinstance(value, str):
            expressions.append((what, value))
    for what, source in expressions:
        if source and source.strip():
            message = expression_problem(source)
            if message:
                found.append(problem(file, element_id, f"the {what} '{source}' of '{label}' cannot run: {message}"))

    event = getattr(task_spec, "event_definition", None)
    if isinstance(event, TimerEventDefinition):
        message = _timer_problem(event.expression)
        if message:
            found.append(problem(file, element_id, f"timer '{label}': {message}"))
    return found


def _check_form(bundle: Bundle, file: str, element_id: str, path: str, problem: Any) -> list[DiagramProblem]:
    if path in bundle.forms or path in bundle._refused_forms:
        return []
    found = _form_problems(bundle, file, element_id, path, problem)
    if found and path in bundle.files:  # a missing file is reported for each task that names it
        bundle._refused_forms.add(path)
    return found


def _form_problems(bundle: Bundle, file: str, element_id: str | None, path: str, problem: Any) -> list[DiagramProblem]:
    text = bundle.files.get(path)
    if text is None:
        return [problem(file, element_id, f"form file '{path}' does not exist")]
    try:
        schema = json.loads(text)
    except json.JSONDecodeError as exc:
        return [DiagramProblem(path, f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})", None,
                               exc.lineno)]
    if not bundle.trusted and (refused := _schema_error(text)) is not None:
        where = "/".join(str(p) for p in refused.path) or "top level"
        return [DiagramProblem(path, f"not a valid JSON Schema at {where}: {refused.message}", element_id)]
    if not isinstance(schema, dict) or schema.get("type", "object") != "object":
        return [DiagramProblem(path, "a form schema must describe an object", element_id)]
    schema, outside = self_contained(bundle.files, path, schema)
    if outside and not bundle.trusted:  # a version deployed before the rule keeps its form; it fails when used
        return [DiagramProblem(path, f"at {where}: {message}", element_id) for where, message in outside]
    if not bundle.trusted and (marks := confidential.problems_in(schema) + keyword_problems(schema)):
        return [DiagramProblem(path, message, element_id) for message in marks]
    bundle.forms[path] = schema
    return []


@lru_cache(maxsize=256)
def _schema_error(text: str) -> SchemaError | None:
    """Check a form (valid JSON) against JSON Schema's meta-schema, once per text: it is the slowest
    check of a deployment, and the studio checks every form of a draft at each edit."""
    try:
        Draft202012Validator.check_schema(json.loads(text))
    except SchemaError as exc:
        return exc
    return None


def _timer_problem(expression: str | None) -> str | None:
    """Say what is wrong with a timer expression, or None if it can run."""
    if not expression or not expression.strip():
        return "has no expression"
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        if _ISO_LIKE.match(expression.strip()):
            return f"expression {expression.strip()} must be quoted: write \"{expression.strip()}\""
        return f"expression {expression!r} is not valid Python"
    node = tree.body
    if isinstance(node, ast.Name) and _ISO_LIKE.match(node.id):
        return f"expression {node.id} must be quoted: write \"{node.id}\""
    try:
        compile_expression(expression)
    except RestrictedCodeError as exc:
        return f"expression cannot run: {exc}"
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        value = node.value.strip()
        try:
            if value.upper().startswith("R"):
                TimerEventDefinition.parse_iso_recurring_interval(value)
            elif value.upper().startswith("P"):
                TimerEventDefinition.parse_iso_duration(value)
            else:
                from datetime import datetime

                if datetime.fromisoformat(value).tzinfo is None:
                    return f"date {value} has no UTC offset: write one (e.g. {value}+00:00)"
        except Exception:
            return f"'{value}' is not an ISO 8601 date, duration or cycle"
    return None
