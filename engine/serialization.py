"""Persisted instance state: SpiffWorkflow's serializer, without the diagrams.

A case is pinned to its process version, whose files are stored and never change, so the state
of an instance need not carry its specs: they come from the parsed version instead of being
written into, and parsed back out of, every save (they are half or more of a stock state). The
state keeps SpiffWorkflow's `serializer_version` key and is migrated by SpiffWorkflow on load; a
stock state that still has its specs loads as well.
"""

from __future__ import annotations

from contextvars import ContextVar
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.workflow import BpmnWorkflowConverter, WorkflowConverter
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.spiff.serializer import DEFAULT_CONFIG

from .scripting import script_engine

SCRIPT_ENGINE = script_engine()
STOCK = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure(DEFAULT_CONFIG))


_specs: ContextVar[tuple[Any, dict[str, Any]] | None] = ContextVar("dhr_specs", default=None)


class _WorkflowWithoutSpecs(BpmnWorkflowConverter):
    """Writes a workflow like SpiffWorkflow does, less `spec` and `subprocess_specs`."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct: dict[str, Any] = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any]) -> BpmnWorkflow:
        specs = _specs.get()
        if "spec" in dct or specs is None:
            return super().from_dict(dct)
        spec, subprocess_specs = specs
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


_registry = BpmnWorkflowSerializer.configure({**DEFAULT_CONFIG, BpmnWorkflow: _WorkflowWithoutSpecs})
_SERIALIZER = BpmnWorkflowSerializer(_registry)
VERSION = _SERIALIZER.VERSION


def dumps(workflow: BpmnWorkflow) -> str:
    """Serialize an instance (without its specs) to JSON."""
    return str(_SERIALIZER.serialize_json(workflow))


def loads(state: str, specs: tuple[Any, dict[str, Any]]) -> BpmnWorkflow:
    """Restore an instance, taking its specs from the process version it is pinned to."""
    token = _specs.set(specs)
    try:
        workflow = _SERIALIZER.deserialize_json(state)
    finally:
        _specs.reset(token)
    workflow.script_engine = SCRIPT_ENGINE
    return workflow
