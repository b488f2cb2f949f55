"""The date a timer of a draft diagram would give for an example case, for the studio's Timer panel.

The example case is made of the draft's own code: the timer's expression runs in the sandbox, and
each variable it lacks is set by running, first, the earliest script (script task, pre- or
post-script) that assigns it, the payload of the message that delivers it, or an example answer of a
form that asks it (dates are the example case's day, today on the given clock). Nothing is stored.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lxml import etree

from ..platform.calendar import LONDON, long_date, long_moment, parse_moment
from ..platform.clock import parse_duration, use_clock
from .forms import example_answers
from .library import BPMN_NS, NS, SAFE_PARSER, SPIFF_NS
from .scripting import RestrictedEnvironment

_MISSING = re.compile(r"name '(\w+)' is not defined")
_ROUNDS = 200


@dataclass(frozen=True)
class TimerExample:
    """What the panel shows: the example's date (or why there is none) and the case's day it used."""

    ok: bool
    text: str
    fires_at: datetime | None = None


class _Unknown(Exception):
    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name


@dataclass
class _Sources:
    scripts: dict[str, list[str]]  # variable -> scripts that assign it, in document order
    payloads: dict[str, list[str]]  # message variable -> payload expressions of the messages that fill it
    answers: dict[str, Any]  # form field -> example answer
    items: dict[str, list[str]]  # a multi-instance's item variable -> the lists it is taken from


def _assigned(script: str) -> set[str]:
    try:
        tree = ast.parse(script)
    except SyntaxError:
        return set()
    names: set[str] = set()
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] \
            if isinstance(node, ast.AugAssign | ast.AnnAssign) else []
        for target in targets:
            for leaf in ast.walk(target):
                if isinstance(leaf, ast.Name):
                    names.add(leaf.id)
    return names


def _sources(files: dict[str, str], first: str, today: str) -> _Sources:
    scripts: dict[str, list[str]] = {}
    payloads: dict[str, list[str]] = {}
    answers: dict[str, Any] = {}
    items: dict[str, list[str]] = {}
    thrown: dict[str, list[str]] = {}
    caught: list[tuple[str, str]] = []
    order = [first] + sorted(p for p in files if p.endswith(".bpmn") and p != first)
    for path in order:
        try:
            root = etree.fromstring(files[path].encode("utf-8"), SAFE_PARSER)
        except etree.XMLSyntaxError:
            continue
        messages = {m.get("id"): m.get("name") or m.get("id") for m in root.iterfind(".//bpmn:message", NS)}
        for node in root.iter(f"{{{BPMN_NS}}}script", f"{{{SPIFF_NS}}}preScript", f"{{{SPIFF_NS}}}postScript"):
            for name in _assigned(node.text or ""):
                scripts.setdefault(name, []).append(node.text or "")
        for loop in root.iterfind(".//bpmn:multiInstanceLoopCharacteristics", NS):
            source, item = loop.find("bpmn:loopDataInputRef", NS), loop.find("bpmn:inputDataItem", NS)
            if source is not None and item is not None and item.get("name") and (source.text or "").strip():
                items.setdefault(str(item.get("name")), []).append((source.text or "").strip())
        for definition in root.iterfind(".//bpmn:messageEventDefinition", NS):
            message = messages.get(definition.get("messageRef"), "")
            payload = definition.find(".//spiffworkflow:messagePayload", NS)
            variable = definition.find(".//spiffworkflow:messageVariable", NS)
            if payload is not None and (payload.text or "").strip():
                thrown.setdefault(message, []).append(payload.text or "")
            if variable is not None and (variable.text or "").strip():
                caught.append(((variable.text or "").strip(), message))
    for variable, message in caught:
        payloads.setdefault(variable, []).extend(thrown.get(message, []))
    for path in sorted(p for p in files if p.endswith(".json")):
        try:
            schema = json.loads(files[path])
        except ValueError:
            continue
        questions = schema.get("properties") if isinstance(schema, dict) else None
        for name in questions if isinstance(questions, dict) else {}:
            try:  # every question, asked always or only after some answer: the example answers them all
                answers.setdefault(name, example_answers({"properties": questions, "required": [name]}, today)[name])
            except (ValueError, KeyError, TypeError, AttributeError):
                continue
    return _Sources(scripts, payloads, answers, items)


class _Case:
    """Task data built on demand: a missing variable is set by the code or form that provides it."""

    def __init__(self, sources: _Sources, start: dict[str, Any]) -> None:
        self.sources = sources
        self.data: dict[str, Any] = dict(start)
        self.environment = RestrictedEnvironment()
        self.busy: set[str] = set()
        self.used: list[str] = []

    def run(self, code: str, evaluate: bool) -> Any:
        for _ in range(_ROUNDS):
            try:
                if evaluate:
                    return self.environment.evaluate(code, dict(self.data))
                context = dict(self.data)
                self.environment.execute(code, context)
                self.data = context
                return None
            except NameError as exc:
                match = _MISSING.search(str(exc))
                if not match:
                    raise
                self.provide(match.group(1))
        raise _Unknown("(too many variables)")

    def provide(self, name: str) -> None:
        if name in self.busy:
            raise _Unknown(name)
        self.busy.add(name)
        unknown = _Unknown(name)
        try:
            for script in self.sources.scripts.get(name, []):
                try:
                    self.run(script, evaluate=False)
                except _Unknown as exc:  # it needs what is being worked out (a cycle) or what nothing sets
                    unknown = exc
                    continue
                except Exception:  # noqa: BLE001 - a script that cannot run for the example: try the next source
                    continue
                if name in self.data:
                    self.used.append(name)
                    return
            for payload in self.sources.payloads.get(name, []):
                try:
                    self.data[name] = self.run(payload, evaluate=True)
                    return
                except _Unknown as exc:
                    unknown = exc
            for source in self.sources.items.get(name, []):
                try:
                    values = self.run(source, evaluate=True)
                except _Unknown as exc:
                    unknown = exc
                    continue
                if values:
                    self.data[name] = values[0]
                    return
            if name in self.sources.answers:
                self.data[name] = self.sources.answers[name]
                return
            raise unknown
        finally:
            self.busy.discard(name)


def _timer(root: Any, element_id: str) -> tuple[str, str] | None:
    for element in root.iter():
        if element.get("id") == element_id:
            definition = element.find("bpmn:timerEventDefinition", NS)
            if definition is None:
                return None
            for kind in ("timeDate", "timeDuration", "timeCycle"):
                node = definition.find(f"bpmn:{kind}", NS)
                if node is not None:
                    return kind, (node.text or "").strip()
            return "timeDate", ""
    return None


def _fires_at(kind: str, value: Any, now: datetime) -> datetime:
    text = str(value).strip()
    if kind == "timeDate":
        moment = parse_moment(text)
        if moment is None:
            raise ValueError(f"'{text}' is not a date and time")
        return moment
    if kind == "timeCycle":
        text = text.split("/")[-1]
    return now + parse_duration(text)


def timer_example(files: dict[str, str], path: str, element_id: str, clock: Any) -> TimerExample:
    """Work out when the timer `element_id` of the draft diagram `path` fires for an example case that
    starts today on `clock`; an expression that cannot be worked out gives the reason, never raises."""
    now = clock.now()
    today = now.astimezone(LONDON).date()
    try:
        root = etree.fromstring(files.get(path, "").encode("utf-8"), SAFE_PARSER)
    except etree.XMLSyntaxError:
        return TimerExample(False, "The diagram's XML does not parse.")
    found = _timer(root, element_id)
    if found is None:
        return TimerExample(False, f"{element_id} is not a timer event.")
    kind, expression = found
    if not expression:
        return TimerExample(False, "The timer has no expression yet.")
    # What a case starts with (runtime.start_case), for a fictional case
    start = {"case_reference": f"Example/{today.year}", "case_pseudonym": "Example", "case_year": today.year}
    case = _Case(_sources(files, path, today.isoformat()), start)
    with use_clock(clock):
        try:
            value = case.run(expression, evaluate=True)
            fires = _fires_at(kind, value, now)
        except _Unknown as exc:
            return TimerExample(False, f"No script, message or form of these diagrams sets {exc.name}, "
                                       "so no example date can be worked out.")
        except Exception as exc:  # noqa: BLE001 - the owner's code failing is the answer shown, not an error
            return TimerExample(False, f"The expression fails for the example case: {type(exc).__name__}: {exc}")
    return TimerExample(True, f"{long_moment(fires)} (for a case whose dates are all {long_date(today)})", fires)
