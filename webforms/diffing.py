"""Moved to the engine (`engine.bpmn.diffing`); kept so that code written against this module still runs."""

from engine.bpmn.diffing import ElementChange, FieldChange, FileChange, ScriptChange, ValueChange, diff_versions

__all__ = ["ElementChange", "FieldChange", "FileChange", "ScriptChange", "ValueChange", "diff_versions"]
