"""Text that process owners write in a diagram as Jinja (task instructions, task titles), rendered over
task data in a sandbox, on a budget.

The sandbox is Jinja's immutable one, with `*`, `**` and `+` refusing to build a huge value; the
rendering stops once it runs longer than DHR_SCRIPT_SECONDS or writes more than DHR_SCRIPT_BYTES.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from jinja2 import Template
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

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


# Autoescape off: the result is plain text, escaped as a whole where a page shows it, so neither
# the diagram's text nor the data can inject markup.
_env = _Environment(autoescape=False)


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
