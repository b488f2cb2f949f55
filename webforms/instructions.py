"""A task's instructions: the diagram's Jinja text rendered over the task data, in a sandbox."""

from __future__ import annotations

import logging
from typing import Any

from jinja2 import TemplateError
from jinja2.sandbox import ImmutableSandboxedEnvironment

log = logging.getLogger(__name__)
# Autoescape off: the result is plain text, escaped as a whole when the page shows it, so neither
# the diagram's text nor the data can inject markup.
_env = ImmutableSandboxedEnvironment(autoescape=False)


def render(text: str | None, data: dict[str, Any]) -> str:
    """Render the instructions; if they do not render, show them as written."""
    if not text:
        return ""
    try:
        return _env.from_string(text).render(**{k: v for k, v in data.items() if isinstance(k, str)})
    except (TemplateError, TypeError, ValueError, AttributeError, KeyError, IndexError):
        log.warning("instructions did not render; shown as written")
        return text
