"""A task's instructions: the diagram's Jinja text rendered over the task data, in a sandbox, on a budget."""

from __future__ import annotations

import logging
from typing import Any

from jinja2 import TemplateError

from engine.bpmn import templating
from engine.platform.errors import BudgetExceeded

log = logging.getLogger(__name__)


def render(text: str | None, data: dict[str, Any], task_name: str | None = None) -> str:
    """Render the instructions; if they do not render, show them as written; if they run too long or
    produce too much, say so plainly in their place."""
    if not text:
        return ""
    try:
        return templating.render(text, data, element=task_name or "this task", what="instructions")
    except BudgetExceeded as exc:
        log.warning("the instructions of %r were stopped: they %s", task_name or "a task", exc.detail)
        whose = f"The instructions of '{task_name}'" if task_name else "These instructions"
        return f"{whose} could not be shown: they {exc.detail} and were stopped. A process owner must fix the diagram."
    except (TemplateError, TypeError, ValueError, AttributeError, KeyError, IndexError):
        log.warning("instructions did not render; shown as written")
        return text
