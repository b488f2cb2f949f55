"""Scripts, conditions and timer expressions of diagrams, run in a RestrictedPython sandbox.

Diagram code is written by process owners, not developers: it is compiled with RestrictedPython
(no dunder names, no imports, no `open`, guarded attribute access) and sees only task data, a
few safe builtins and the date helpers below.

It also runs on a budget (`budget`): code that runs longer than DHR_SCRIPT_SECONDS is stopped by a
trace function installed only while it runs (in whatever thread it runs, so a web request's
script is stopped as surely as the scheduler's), and `*`, `**`, `<<` and `+` refuse to build a
value larger than DHR_SCRIPT_BYTES, before the memory is taken.
"""

from __future__ import annotations

import ast
import builtins
import operator
import sys
import threading
import time as _time
from collections.abc import Callable
from datetime import date, datetime, time
from functools import lru_cache
from types import FrameType
from typing import Any

from RestrictedPython import compile_restricted_eval, compile_restricted_exec, limited_builtins, safe_builtins
from RestrictedPython.Eval import default_guarded_getitem, default_guarded_getiter
from RestrictedPython.Guards import (
    full_write_guard,
    guarded_iter_unpack_sequence,
    guarded_unpack_sequence,
    safer_getattr,
)
from RestrictedPython.transformer import RestrictingNodeTransformer
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine, TaskDataEnvironment
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.exclusive_gateway import ExclusiveGateway
from SpiffWorkflow.bpmn.specs.mixins.inclusive_gateway import InclusiveGateway

from ..platform.calendar import LONDON, add_months, add_working_days, is_anniversary, london_day, next_quarter_day
from ..platform.clock import SystemClock, _current, as_utc, parse_duration
from ..platform.errors import BudgetExceeded
from ..platform.settings import script_bytes, script_seconds


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
    # The bank-holiday calendar is trusted library code that loads slowly the first time: it runs untraced
    # (outside the budget), so the number of days is bounded instead.
    if abs(int(days)) > 3660:
        raise ValueError("add_working_days takes at most 3660 days")
    trace = sys.gettrace()
    sys.settrace(None)
    try:
        return add_working_days(_date(value), int(days)).isoformat()
    finally:
        sys.settrace(trace)


def _same_day_of_year(a: str, b: str) -> bool:
    first, second = _date(a), _date(b)
    return (first.month, first.day) == (second.month, second.day)


def _days_between(start: str, end: str) -> int:
    return (_date(end) - _date(start)).days


def _is_anniversary(day: str, event: str) -> bool:
    return is_anniversary(_date(day), _date(event))


def _next_quarter_day(after: str, months: Any, day_of_month: int = 1) -> str:
    return next_quarter_day(_date(after), tuple(int(m) for m in months), int(day_of_month)).isoformat()


HELPERS: dict[str, Any] = {
    "now": _now,
    "today": _today,
    "add_months": _add_months,
    "add_days": _add_days,
    "add_working_days": _add_working_days,
    "add_period": _add_period,
    "london_time": _london_time,
    "same_day_of_year": _same_day_of_year,
    "is_anniversary": _is_anniversary,
    "days_between": _days_between,
    "next_quarter_day": _next_quarter_day,
}

# What the studio lists beside a script: each helper's call and what it gives (dates are ISO text).
HELPER_HELP: tuple[tuple[str, str, str], ...] = (
    ("today", "today()", "today's date in London"),
    ("now", "now()", "the current date and time (UTC)"),
    ("add_months", "add_months(day, months)", "calendar months later (31 Aug + 6 = 28 Feb); negative for earlier"),
    ("add_days", "add_days(day, days)", "days later; negative for earlier"),
    ("add_working_days", "add_working_days(day, days)", "working days later (no weekends or bank holidays)"),
    ("add_period", "add_period(moment, duration)", "an ISO period later (\"P14D\", \"PT2H\")"),
    ("london_time", "london_time(day, \"09:00\")", "that time of day in London, for a timer"),
    ("days_between", "days_between(start, end)", "the number of days from start to end"),
    ("same_day_of_year", "same_day_of_year(a, b)", "whether two dates share day and month"),
    ("is_anniversary", "is_anniversary(day, event)", "whether day is the event's anniversary (29 Feb: 28 Feb)"),
    ("next_quarter_day", "next_quarter_day(after, months, day_of_month=1)",
     "the next of those months' day after a date, e.g. months (1, 4, 7, 10)"),
)

# ---------------------------------------------------------------------------------------------
# The budget


class _Stop(BaseException):
    """Stops diagram code from inside it.

    Not an `Exception`, so the code's own `except Exception:` cannot catch it; the sandbox refuses
    the other ways to swallow it (a bare `except:`, `BaseException`, a `finally` that jumps).
    """

    def __init__(self, overrun: str) -> None:
        super().__init__(overrun)
        self.overrun = overrun


_running = threading.local()
_clock = _time.monotonic  # the budget's own clock: real elapsed time, not the case's (injected) clock


def _size(limit: int) -> str:
    return f"{limit // (1024 * 1024)} MB" if limit % (1024 * 1024) == 0 else f"{limit:,} characters"


class Budget:
    """Diagram code's budget: stop the code in the `with` block once it has run DHR_SCRIPT_SECONDS.

    A trace function is installed for this thread only, and only while the block runs; it checks the
    clock at every line and call of Python code and, past the deadline, raises inside the code. (C
    code, such as one huge multiplication, cannot be interrupted: the operator guards refuse those.)
    Inside another budget (an expression evaluated inside a script) the outer one governs.

    Raises:
        BudgetExceeded: the code ran too long, or built too large a value, and was stopped.
    """

    def __init__(self, element: str | None, what: str) -> None:
        self.element, self.what = element or "unknown", what
        self.nested = False
        self.tripped: str | None = None
        self.previous: Any = None

    def __enter__(self) -> Budget:
        if getattr(_running, "budget", None) is not None:
            self.nested = True
            return self
        seconds = script_seconds()
        clock = _clock
        deadline = clock() + seconds
        events = 0

        def trace(frame: FrameType, event: str, arg: Any) -> Any:
            nonlocal events
            if frame.f_code is _EXIT:
                return None  # our own way out: never stopped, never traced
            events += 1
            if events % 256 == 0:
                # Hand the interpreter to other threads (other people's requests) now and then:
                # otherwise each of their reads waits a whole switch interval (5 ms) for it.
                _time.sleep(0)
            if clock() > deadline:
                # Raising here also switches tracing off for the thread; `tripped` catches code
                # that swallowed the stop anyway.
                self.tripped = f"ran longer than {seconds:g} s"
                raise _Stop(self.tripped)
            return trace

        self.previous = sys.gettrace()
        _running.budget = self
        sys.settrace(trace)
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, _tb: Any) -> None:
        if self.nested:
            return
        sys.settrace(self.previous)
        _running.budget = None
        if self.tripped is not None:  # even if the code raised something else on its way out
            raise BudgetExceeded(self.element, self.what, self.tripped) from None
        if isinstance(error, _Stop):
            raise BudgetExceeded(self.element, self.what, error.overrun) from None


_EXIT = Budget.__exit__.__code__


def budget(element: str | None, what: str) -> Budget:
    """Run a `with` block's diagram code on the budget (see `Budget`); `element` names it in the error."""
    return Budget(element, what)


def _stop(overrun: str) -> None:
    """Stop the running diagram code, and remember it, so that nothing the code does can hide it."""
    running = getattr(_running, "budget", None)
    if running is not None and running.tripped is None:
        running.tripped = overrun
    raise _Stop(overrun)


def _too_big(size: int) -> None:
    limit = script_bytes()
    if size > limit:
        _stop(f"would build a value larger than {_size(limit)}")


def _int_bits(size: int) -> None:
    limit = script_bytes()
    if size > 8 * limit:
        _stop(f"would build a number larger than {_size(limit)}")


def _guarded_mul(a: Any, b: Any) -> Any:
    """`a * b`, refused before it builds a huge string, list or number."""
    sequence = (str, bytes, list, tuple)
    if isinstance(a, sequence) and isinstance(b, int):
        _too_big(len(a) * b)
    elif isinstance(b, sequence) and isinstance(a, int):
        _too_big(len(b) * a)
    elif isinstance(a, int) and isinstance(b, int):
        _int_bits(a.bit_length() + b.bit_length())
    return a * b


def _guarded_pow(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, int) and b > 0 and abs(a) > 1:
        _int_bits(a.bit_length() * b)
    return a**b


def _guarded_lshift(a: Any, b: Any) -> Any:
    if isinstance(a, int) and isinstance(b, int) and a:
        _int_bits(a.bit_length() + b)
    return a << b


def _guarded_add(a: Any, b: Any) -> Any:
    if isinstance(a, str | bytes | list | tuple) and isinstance(b, str | bytes | list | tuple):
        _too_big(len(a) + len(b))
    return a + b


GUARDED_BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "*": _guarded_mul, "**": _guarded_pow, "<<": _guarded_lshift, "+": _guarded_add,
}
"""The operators that refuse to build a huge value, by symbol, for other sandboxes (the instructions' Jinja)."""


def stop_output(limit: int) -> None:
    """Stop the running diagram code: it has produced more than `limit` bytes of text."""
    _stop(f"produced more than {_size(limit)} of text")


_GUARDED_OPS: dict[type[ast.operator], str] = {
    ast.Mult: "_mul_", ast.Pow: "_pow_", ast.LShift: "_lshift_", ast.Add: "_add_",
}


class _Policy(RestrictingNodeTransformer):
    """RestrictedPython's policy, plus: size-guarded operators and no way to swallow the budget's stop."""

    def visit_BinOp(self, node: ast.BinOp) -> Any:
        node = self.node_contents_visit(node)
        guard = _GUARDED_OPS.get(type(node.op))
        if guard is None:
            return node
        call = ast.Call(func=ast.Name(id=guard, ctx=ast.Load()), args=[node.left, node.right], keywords=[])
        return ast.fix_missing_locations(ast.copy_location(call, node))

    def visit_Try(self, node: ast.Try) -> Any:
        for handler in node.handlers:
            if handler.type is None:
                self.error(handler, "a bare 'except:' is not allowed; name the errors to catch, "
                                    "e.g. 'except ValueError:'")
        for statement in node.finalbody:
            for inner in ast.walk(statement):
                if isinstance(inner, ast.Return | ast.Break | ast.Continue):
                    self.error(inner, f"'{type(inner).__name__.lower()}' inside 'finally' is not allowed")
        return self.node_contents_visit(node)


_BUILTINS = dict(safe_builtins)
_BUILTINS.update(limited_builtins)
_BUILTINS.update(
    {name: getattr(builtins, name)
     for name in ("all", "any", "dict", "enumerate", "list", "max", "min", "sum", "map", "filter", "reversed")}
)
_BUILTINS.pop("BaseException", None)  # the budget's stop is one: diagram code must not catch it

_GUARDS: dict[str, Any] = {
    "__builtins__": _BUILTINS,
    "_getattr_": safer_getattr,
    "_getitem_": default_guarded_getitem,
    "_getiter_": default_guarded_getiter,
    "_write_": full_write_guard,
    "_iter_unpack_sequence_": guarded_iter_unpack_sequence,
    "_unpack_sequence_": guarded_unpack_sequence,
    "_inplacevar_": lambda op, x, y: _INPLACE[op](x, y),
    "_mul_": _guarded_mul,
    "_pow_": _guarded_pow,
    "_lshift_": _guarded_lshift,
    "_add_": _guarded_add,
}

_INPLACE: dict[str, Any] = {
    "+=": _guarded_add,
    "-=": operator.sub,
    "*=": _guarded_mul,
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
    result = compile_restricted_eval(source.strip(), "<expression>", policy=_Policy)
    if result.errors:
        raise RestrictedCodeError("; ".join(result.errors))
    return result.code


@lru_cache(maxsize=2048)
def compile_script(source: str) -> Any:
    """Compile a script task's script in the sandbox.

    Raises:
        RestrictedCodeError: the code has a syntax error or uses something the sandbox forbids.
    """
    result = compile_restricted_exec(source, "<string>", policy=_Policy)
    if result.errors:
        raise RestrictedCodeError("; ".join(result.errors))
    return result.code


class RestrictedEnvironment(TaskDataEnvironment):
    """Task data as the namespace, restricted code on a budget as the only thing that runs in it.

    SpiffWorkflow calls the environment directly for a few expressions (a process's data objects,
    message correlations); those run on a budget too, without knowing their element.
    """

    def __init__(self) -> None:
        super().__init__({**_GUARDS, **HELPERS})

    def evaluate(self, expression: str, context: dict[str, Any], external_context: Any = None) -> Any:
        namespace = dict(self.globals)
        namespace.update(external_context or {})
        namespace.update(context)
        code = compile_expression(expression)
        with budget(None, "expression"):
            return eval(code, namespace)

    def execute(self, script: str, context: dict[str, Any], external_context: Any = None) -> bool:
        code = compile_script(script)
        self.check_for_overwrite(context, external_context or {})
        context.update(self.globals)
        context.update(external_context or {})
        try:
            with budget(None, "script"):
                exec(code, context)
        finally:
            self._remove_globals_and_functions_from_context(context, external_context)
        return True

    def _remove_globals_and_functions_from_context(self, context: dict[str, Any], external_context: Any = None) -> None:
        for key in list(context):
            internal = key.startswith("_") or key in self.globals or callable(context[key])
            if internal or (external_context and key in external_context):
                context.pop(key)


def element_name(task: Any) -> str:
    """The name a process owner gave the task's element, else its id."""
    spec = task.task_spec
    return str(getattr(spec, "bpmn_name", None) or getattr(spec, "bpmn_id", None) or spec.name)


def _expression_kind(task: Any) -> str:
    spec = task.task_spec
    if isinstance(spec, ExclusiveGateway | InclusiveGateway):
        return "condition"
    if isinstance(getattr(spec, "event_definition", None), TimerEventDefinition):
        return "timer expression"
    return "expression"


class BudgetedScriptEngine(PythonScriptEngine):
    """SpiffWorkflow's script engine, each evaluation on a budget that names its element.

    A stopped script raises `BudgetExceeded` (a `ScriptError`) straight through SpiffWorkflow,
    which marks the task in error and re-raises anything that is not its own exception, so the
    unit of work is rolled back with the element's name in a plain message.
    """

    def evaluate(self, task: Any, expression: str, external_context: Any = None) -> Any:
        with budget(element_name(task), _expression_kind(task)):
            return super().evaluate(task, expression, external_context)

    def execute(self, task: Any, script: str, external_context: Any = None) -> Any:
        with budget(element_name(task), "script"):
            return super().execute(task, script, external_context)


def script_engine() -> PythonScriptEngine:
    return BudgetedScriptEngine(environment=RestrictedEnvironment())
