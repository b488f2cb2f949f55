"""Text that process owners write in a diagram as Jinja (task instructions, task titles), rendered over
task data in a sandbox, on a budget.

The sandbox is Jinja's immutable one, with `*`, `**` and `+` refusing to build a huge value; the
rendering stops once it runs longer than DHR_SCRIPT_SECONDS or writes more than DHR_SCRIPT_BYTES.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from functools import lru_cache
from typing import Any

from jinja2 import Template
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from ..platform.calendar import long_date, long_moment
from ..platform.settings import script_bytes
from .scripting import GUARDED_BINOPS, budget, stop_output


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
    """A day printed by a diagram's text reads '28 June 2026', whether the data holds a date or the
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


# Autoescape off: the result is plain text, escaped as a whole where a page shows it, so neither
# the diagram's text nor the data can inject markup.
_env = _Environment(autoescape=False, finalize=_as_shown)


@lru_cache(maxsize=512)
def template(text: str) -> Template:
    """The compiled template (raises jinja2's TemplateSyntaxError)."""
    return _env.from_string(text)


def _generate(compiled: Template, data: dict[str, Any]) -> str:
    """Render chunk by chunk, stopping as soon as the text is longer than DHR_SCRIPT_BYTES."""
    limit, size, chunks = script_bytes(), 0, []
    for chunk in compiled.generate(**data):
        size += len(chunk) if chunk.isascii() else len(chunk.encode())
        if size > limit:
            stop_output(limit)
        chunks.append(chunk)
    return "".join(chunks)


def render(text: str, data: dict[str, Any], *, element: str, what: str) -> str:
    """Render `text` over `data` (its string keys) in the sandbox, on the budget.

    Raises:
        BudgetExceeded: it ran too long or wrote too much.
        jinja2.TemplateError, TypeError, ValueError, AttributeError, KeyError, IndexError: it does not render.
    """
    compiled = template(text)
    with budget(element, what):
        return _generate(compiled, {k: v for k, v in data.items() if isinstance(k, str)})
