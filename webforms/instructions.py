"""A task's instructions: the diagram's Jinja text rendered over the task data, in a sandbox, on a budget."""

from __future__ import annotations

import logging
import re
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from jinja2 import Template, TemplateError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from engine.bpmn.scripting import GUARDED_BINOPS, budget, stop_output
from engine.platform.calendar import long_date, long_moment
from engine.platform.errors import BudgetExceeded
from engine.platform.settings import script_bytes

log = logging.getLogger(__name__)


class _Environment(ImmutableSandboxedEnvironment):
    """The sandbox, with `*`, `**` and `+` refusing to build a huge value.

    Intercepted operators are also never folded when the template is compiled (outside the budget);
    `%` is intercepted for that alone.
    """

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        guard = GUARDED_BINOPS.get(operator)
        return guard(left, right) if guard is not None else super().call_binop(context, operator, left, right)


_ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
_ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})")


def _as_shown(value: Any) -> Any:
    """A day printed by the instructions reads '28 June 2026', whether the data holds a date or the
    ISO text a form stores ('2026-06-28'); a moment with its zone reads '28 June 2026, 09:00' (London)."""
    if isinstance(value, datetime):
        return long_moment(value) if value.tzinfo else value
    if isinstance(value, date):
        return long_date(value)
    if isinstance(value, str):
        try:
            if _ISO_DAY.fullmatch(value):
                return long_date(date.fromisoformat(value))
            if _ISO_MOMENT.fullmatch(value):
                return long_moment(datetime.fromisoformat(value))
        except ValueError:
            return value
    return value


# Autoescape off: the result is plain text, escaped as a whole when the page shows it, so neither
# the diagram's text nor the data can inject markup.
_env = _Environment(autoescape=False, finalize=_as_shown)


@lru_cache(maxsize=256)
def _template(text: str) -> Template:
    return _env.from_string(text)


def _render(template: Template, data: dict[str, Any]) -> str:
    """Render chunk by chunk, stopping as soon as the text is longer than DHR_SCRIPT_BYTES."""
    limit, size, chunks = script_bytes(), 0, []
    for chunk in template.generate(**data):
        size += len(chunk) if chunk.isascii() else len(chunk.encode())
        if size > limit:
            stop_output(limit)
        chunks.append(chunk)
    return "".join(chunks)


def render(text: str | None, data: dict[str, Any], task_name: str | None = None) -> str:
    """Render the instructions; if they do not render, show them as written; if they run too long or
    produce too much, say so plainly in their place."""
    if not text:
        return ""
    try:
        template = _template(text)
        with budget(task_name or "this task", "instructions"):
            return _render(template, {k: v for k, v in data.items() if isinstance(k, str)})
    except BudgetExceeded as exc:
        log.warning("the instructions of %r were stopped: they %s", task_name or "a task", exc.detail)
        whose = f"The instructions of '{task_name}'" if task_name else "These instructions"
        return f"{whose} could not be shown: they {exc.detail} and were stopped. A process owner must fix the diagram."
    except (TemplateError, TypeError, ValueError, AttributeError, KeyError, IndexError):
        log.warning("instructions did not render; shown as written")
        return text
