"""Persisted instance state: SpiffWorkflow's own serializer, with the diagrams stored once.

A case is pinned to its process version, whose files are stored and never change, so a state need
not repeat the version's specs (they are most of a stock state). But SpiffWorkflow changes specs
while it runs (an event subprocess, once triggered, is wired to the process's start and end), and a
stock state carries those changes. So a state here is a stock state whose `spec` and
`subprocess_specs` are replaced by `spec_patch`: only what differs from the version's specs as
parsed. Loading puts the version's specs back, applies the patch and restores the workflow with
SpiffWorkflow's serializer, so a case resumes in a new process exactly as a stock state would.
Every loaded workflow gets spec objects of its own: nothing one case does to its specs reaches
another.

`FORMAT` is this module's own version, beside SpiffWorkflow's `serializer_version`. Format 1 (the
first release) stored no patch and lost those changes; its states are repaired as they load.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, MutableMapping
from functools import lru_cache
from typing import Any

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter
from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import LoopTask
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer import DEFAULT_CONFIG
from SpiffWorkflow.util.task import TaskState

from ..platform.errors import DhrError
from .scripting import script_engine

SCRIPT_ENGINE = script_engine()


class SubprocessSpecs(MutableMapping[str, Any]):
    """A workflow's called processes' specs, each restored from its dictionary when SpiffWorkflow first
    asks for it: a case at its first stage never needs the specs of the last. Restoring every spec
    at each load was a fifth of a step's time.

    A spec never asked for was never changed, so it is written back as the dictionary it came from.
    """

    def __init__(self, serialized: dict[str, dict[str, Any]]) -> None:
        self._serialized = serialized  # not restored yet (restoring consumes a dictionary)
        self._specs: dict[str, Any] = {}

    def __getitem__(self, name: str) -> Any:
        if name not in self._specs:
            self._specs[name] = STOCK.registry.restore(self._serialized.pop(name))  # KeyError if neither
        return self._specs[name]

    def __contains__(self, name: object) -> bool:
        return name in self._specs or name in self._serialized

    def __setitem__(self, name: str, spec: Any) -> None:
        self._serialized.pop(name, None)
        self._specs[name] = spec

    def __delitem__(self, name: str) -> None:
        if name in self._specs:
            del self._specs[name]
        else:
            del self._serialized[name]

    def __iter__(self) -> Iterator[str]:
        return iter([*self._specs, *self._serialized])

    def __len__(self) -> int:
        return len(self._specs) + len(self._serialized)

    def restored(self) -> set[str]:
        """The names of the specs restored so far."""
        return set(self._specs)

    def serialized(self) -> dict[str, dict[str, Any]]:
        """Every spec as a dictionary: those restored converted anew, the others as they came."""
        return {**{name: STOCK.registry.convert(spec) for name, spec in self._specs.items()}, **self._serialized}


class _Serialized(dict[str, Any]):
    """Called processes' spec dictionaries that loading hands over to `SubprocessSpecs` unrestored."""


class _WorkflowConverter(BpmnWorkflowConverter):
    """SpiffWorkflow's own workflow converter (replaced the way its serializer provides for), but
    with the called processes' specs restored lazily (`SubprocessSpecs`)."""

    def mapping_from_dict(self, mapping: Any, key_class: Any = None, **kwargs: Any) -> Any:
        if isinstance(mapping, _Serialized):
            return SubprocessSpecs(dict(mapping))
        return super().mapping_from_dict(mapping, key_class, **kwargs)

    def mapping_to_dict(self, mapping: Any, **kwargs: Any) -> Any:
        if isinstance(mapping, SubprocessSpecs):
            return mapping.serialized()
        return super().mapping_to_dict(mapping, **kwargs)


STOCK = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure({**DEFAULT_CONFIG, BpmnWorkflow: _WorkflowConverter}))
VERSION = STOCK.VERSION
FORMAT = 2
_FORMAT_KEY = "dhr_format"
# What `case_instance.serializer_version` says of a state written now: SpiffWorkflow's version and
# this module's format, so the states to upgrade are found without reading them.
STATE_VERSION = f"{VERSION}+dhr{FORMAT}"


def spec_state(spec: Any, subprocess_specs: MutableMapping[str, Any]) -> str:
    """Serialize a version's parsed specs once: what every state of that version is patched onto."""
    registry = STOCK.registry
    return json.dumps({
        "spec": registry.convert(spec),
        "subprocess_specs": {name: registry.convert(sub) for name, sub in subprocess_specs.items()},
    })


def new_specs(pristine: str) -> tuple[Any, SubprocessSpecs]:
    """Spec objects of their own for a new workflow, restored from a version's serialized specs (those
    of the processes it calls when first used)."""
    dct = json.loads(pristine)
    return STOCK.registry.restore(dct["spec"]), SubprocessSpecs(dct["subprocess_specs"])


def dumps(workflow: BpmnWorkflow, pristine: str) -> str:
    """Serialize an instance, its specs reduced to what differs from the version's."""
    dct = STOCK.to_dict(workflow)
    base = read_only(pristine)
    dct["spec_patch"] = {
        "spec": _diff(base["spec"], dct.pop("spec")),
        "subprocess_specs": {
            name: _diff(base["subprocess_specs"].get(name), sub)
            for name, sub in dct.pop("subprocess_specs").items()
            if base["subprocess_specs"].get(name) != sub
        },
    }
    dct[STOCK.VERSION_KEY] = STOCK.VERSION
    dct[_FORMAT_KEY] = FORMAT
    return json.dumps(dct)


def loads(state: str, pristine: str, repin: str | None = None) -> BpmnWorkflow:
    """Restore an instance on its version's specs (`pristine`, from `spec_state`), or move it onto
    another version's (`repin`): its changes to its old specs are then made again on the new ones.

    A stock state, which carries its own specs, loads as well.

    Raises:
        DhrError: the version to move onto lacks a step the case is at.
    """
    dct = json.loads(state)
    legacy = False
    if repin is not None:
        for key in ("spec", "subprocess_specs", "spec_patch"):
            dct.pop(key, None)
        dct[_FORMAT_KEY], pristine = 1, repin
        _check_steps(dct, json.loads(repin))
    if "spec" not in dct:
        legacy = dct.pop(_FORMAT_KEY, 1) < 2
        base = json.loads(pristine)
        patch = dct.pop("spec_patch", {"spec": {}, "subprocess_specs": {}})
        dct["spec"] = _patched(base["spec"], patch["spec"])
        dct["subprocess_specs"] = {
            name: _patched(base["subprocess_specs"].get(name), patch["subprocess_specs"].get(name, {}))
            for name in base["subprocess_specs"].keys() | patch["subprocess_specs"].keys()
        }
    STOCK.migrate(dct)
    dct["subprocess_specs"] = _Serialized(dct.get("subprocess_specs", {}))
    workflow: BpmnWorkflow = STOCK.from_dict(dct)
    workflow.script_engine = SCRIPT_ENGINE
    if legacy:
        repair_format_1(workflow)
    return workflow


@lru_cache(maxsize=32)
def read_only(pristine: str) -> dict[str, Any]:
    """A version's specs as dictionaries, parsed once, to compare with and to read (never to restore
    from: restoring consumes the dictionaries it is given; never to change)."""
    parsed: dict[str, Any] = json.loads(pristine)
    return parsed


def _check_steps(dct: dict[str, Any], specs: dict[str, Any]) -> None:
    missing = {task["task_spec"] for task in dct["tasks"].values()} - specs["spec"]["task_specs"].keys()
    for sub in dct["subprocesses"].values():
        spec = specs["subprocess_specs"].get(sub["spec"])
        if spec is None:
            missing.add(sub["spec"])
        else:
            missing |= {task["task_spec"] for task in sub["tasks"].values()} - spec["task_specs"].keys()
    if missing:
        raise DhrError("the newer version has no step " + ", ".join(f"'{name}'" for name in sorted(missing))
                       + " that the case has reached; keep those element ids in the diagram to move the case onto it")


def _diff(base: dict[str, Any] | None, current: dict[str, Any]) -> dict[str, Any]:
    """What `current` changes in a spec: whole attributes, and task specs one by one."""
    if base is None:
        return {"new": current}
    changed: dict[str, Any] = {}
    for key, value in current.items():
        if key == "task_specs":
            tasks = {name: spec for name, spec in value.items() if base["task_specs"].get(name) != spec}
            gone = [name for name in base["task_specs"] if name not in value]
            if tasks or gone:
                changed["task_specs"] = {"set": tasks, "gone": gone}
        elif base.get(key) != value:
            changed[key] = value
    return changed


def _patched(base: dict[str, Any] | None, patch: dict[str, Any]) -> dict[str, Any]:
    if "new" in patch:
        return dict(patch["new"])
    assert base is not None
    result = {**base, **{k: v for k, v in patch.items() if k != "task_specs"}}
    if "task_specs" in patch:
        tasks = {**base["task_specs"], **patch["task_specs"]["set"]}
        for name in patch["task_specs"]["gone"]:
            tasks.pop(name, None)
        result["task_specs"] = tasks
    return result


def repair_format_1(workflow: BpmnWorkflow) -> list[str]:
    """Put back what a format-1 state lost, and return what was repaired.

    Format 1 dropped SpiffWorkflow's changes to specs, so after a restart (a) a loop or
    multi-instance activity never heard that its instance finished: the instance is merged now, as
    it would have been then; (b) a triggered event subprocess lost its wiring: it is wired again.
    """
    repaired: list[str] = []
    for each in (workflow, *workflow.subprocesses.values()):
        start = each.spec.start
        for name in getattr(start, "trigger_specs", []):
            spec = each.spec.task_specs.get(name)
            if spec is not None and start not in spec.inputs and any(
                    t.task_spec is spec for t in each.tasks.values()):
                start.connect(spec)
                spec.connect(each.spec.end)
                repaired.append(f"event subprocess {spec.bpmn_id or name}")
        for task in list(each.tasks.values()):
            if not isinstance(task.task_spec, LoopTask) or task.state != TaskState.STARTED:
                continue
            merged = task.internal_data.setdefault("merged", [])
            for child in list(task.children):
                if (child.task_spec.name == task.task_spec.task_spec and child.state == TaskState.COMPLETED
                        and str(child.id) not in merged and task.state == TaskState.STARTED):
                    task.task_spec.merge_child(each, child)
                    repaired.append(f"{task.task_spec.bpmn_name or task.task_spec.bpmn_id}: an instance merged")
    return repaired
