"""Scripts, conditions and timer expressions of diagrams, run in a RestrictedPython sandbox.

Diagram code is written by process owners, not developers: it is compiled with RestrictedPython
(no dunder names, no imports, no `open`, guarded attribute access) and sees only task data, a
few safe builtins and the date helpers below.
"""

from __future__ import annotations

import builtins
import operator
from datetime import date, datetime, time
from functools import lru_cache
from typing import Any

from RestrictedPython import compile_restricted_eval, compile_restricted_exec, limited_builtins, safe_builtins
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment

from .calendar import LONDON, add_months, add_working_days, london_day
from .clock import SystemClock, _current, as_utc, parse_duration


class RestrictedCodeError(Exception):
    """Diagram code that the sandbox refuses to compile."""


def _now() -> str:
    clock = _current.get() or SystemClock()
    return clock.now().isoformat()


def _today() -> str:
    clock = _current.get() or SystemClock()
    return london_day(clock.now()).isoformat()


def _date(value: str) -> date:
    return datetime.fromisoformat(value).date() if "T" in value else date.fromisoformat(value)


def _add_months(value: str, months: int) -> str:
    return add_months(_date(value), int(months)).isoformat()


def _add_days(value: str, days: int) -> str:
    return (_date(value) + parse_duration(f"P{abs(int(days))}D") * (1 if days >= 0 else -1)).isoformat()


def _london_time(value: str, at: str = "09:00") -> str:
    local = datetime.combine(_date(value), time.fromisoformat(at), LONDON)
    return local.isoformat()


def _add_period(value: str, duration: str) -> str:
    start = datetime.fromisoformat(value)
    start = as_utc(start) if start.tzinfo is None else start
    return (start + parse_duration(duration)).isoformat()


def _add_working_days(value: str, days: int) -> str:
    return add_working_days(_date(value), int(days)).isoformat()


def _same_day_of_year(a: str, b: str) -> bool:
    first, second = _date(a), _date(b)
    return (first.month, first.day) == (second.month, second.day)


HELPERS: dict[str, Any] = {
    "now": _now,
    "today": _today,
    "add_months": _add_months,
    "add_days": _add_days,
    "add_working_days": _add_working_days,
    "add_period": _add_period,
    "london_time": _london_time,
    "same_day_of_year": _same_day_of_year,
}

_BUILTINS = dict(safe_builtins)
_BUILTINS.update(limited_builtins)
_BUILTINS.update(
    {name: getattr(builtins, name)
     for name in ("all", "any", "dict", "enumerate", "list", "max", "min", "sum", "map", "filter", "reversed")}
)

_GUARDS: dict[str, Any] = {
    "__builtins__": _BUILTINS,
    "_getattr_": safer_getattr,
    "_getitem_": default_guarded_getitem,
    "_getiter_": default_guarded_getiter,
    "_write_": full_write_guard,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_inplacevar_": lambda op, x, y: _INPLACE[op](x, y),
}

_INPLACE: dict[str, Any] = {
    "+=": operator.add,
    "-=": operator.sub,
    "*=": operator.mul,
    "/=": operator.truediv,
    "//=": operator.floordiv,
    "%=": operator.mod,
}


@lru_cache(maxsize=2048)
def compile_expression(source: str) -> Any:
    """Compile a condition or timer expression in the sandbox.

    Raises:
        RestrictedCodeError: the code has a syntax error or uses something the sandbox forbids.
    """
    result = compile_restricted_eval(source.strip(), "<expression>")
    if result.errors:
        raise RestrictedCodeError("; ".join(result.errors))
    return result.code


@lru_cache(maxsize=2048)
def compile_script(source: str) -> Any:
    """Compile a script task's script in the sandbox.

    Raises:
        RestrictedCodeError: the code has a syntax error or uses something the sandbox forbids.
    """
    result = compile_restricted_exec(source, "<string>")
    if result.errors:
        raise RestrictedCodeError("; ".join(result.errors))
    return result.code


class RestrictedEnvironment(TaskDataEnvironment):
    """Task data as the namespace, restricted code as the only thing that runs in it."""

    def __init__(self) -> None:
        super().__init__({**_GUARDS, **HELPERS})

    def evaluate(self, expression: str, context: dict[str, Any], external_context: Any = None) -> Any:
        namespace = dict(self.globals)
        namespace.update(external_context or {})
        namespace.update(context)
        return eval(compile_expression(expression), namespace)

    def execute(self, script: str, context: dict[str, Any], external_context: Any = None) -> bool:
        code = compile_script(script)
        self.check_for_overwrite(context, external_context or {})
        context.update(self.globals)
        context.update(external_context or {})
        try:
            exec(code, context)
        finally:
            self._remove_globals_and_functions_from_context(context, external_context)
        return True

    def _remove_globals_and_functions_from_context(self, context: dict[str, Any], external_context: Any = None) -> None:
        for key in list(context):
            internal = key.startswith("_") or key in self.globals or callable(context[key])
            if internal or (external_context and key in external_context):
                context.pop(key)


def script_engine() -> PythonScriptEngine:
    return PythonScriptEngine(environment=RestrictedEnvironment())
