"""One exception family for everything the engine tells a person.

Each class says how each door shows it: `http_status` for the web pages (one error handler,
webforms/errors.py) and `exit_code` for the `dhr` command (its group, engine/cli/app.py), as click's
own exceptions carry theirs. A door never decides that itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import ClassVar

# Exit codes of the `dhr` command (1 for anything a person can put right; two from sysexits.h
# where a script can act on the difference).
EXIT_ERROR = 1
EXIT_TRY_AGAIN = 75  # EX_TEMPFAIL: someone else changed the case first; nothing was applied
EXIT_SETTINGS = 78  # EX_CONFIG


class DhrError(Exception):
    """An error meant for a person: its message is plain English and safe to show."""

    http_status: ClassVar[int] = 400
    exit_code: ClassVar[int] = EXIT_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class SettingsError(DhrError):
    """A setting is missing or has a value the product cannot use."""

    http_status = 500
    exit_code = EXIT_SETTINGS


class NotFound(DhrError):
    """The thing asked for does not exist (or the asker may not know it exists)."""

    http_status = 404


class NotAllowed(DhrError):
    """The acting user may not do this."""

    http_status = 403


@dataclass(frozen=True)
class DiagramProblem:
    """One problem in a diagram or form file, located as precisely as the file allows."""

    file: str
    message: str
    element_id: str | None = None
    line: int | None = None

    def __str__(self) -> str:
        where = self.file
        if self.line:
            where += f":{self.line}"
        if self.element_id:
            where += f" ({self.element_id})"
        return f"{where}: {self.message}"


class DiagramInvalid(DhrError):
    """One or more diagram or form files do not validate."""

    def __init__(self, problems: list[DiagramProblem]) -> None:
        self.problems = problems
        lines = "\n".join(str(p) for p in problems)
        super().__init__(f"{len(problems)} problem(s) in the process files:\n{lines}")


class FormDataInvalid(DhrError):
    """Submitted data breaks a rule: a task's form schema, or a rule of the engine (a date in the
    future, a role that does not exist...). `errors` maps each field to its problem; the field ""
    is the form as a whole. The web shows each next to its field, the command line one a line."""

    def __init__(self, errors: dict[str, str]) -> None:
        self.errors = errors
        summary = "; ".join(f"{field or 'form'}: {msg}" for field, msg in errors.items())
        super().__init__(f"The form has errors: {summary}")


class Conflict(DhrError):
    """Someone else changed the case first; nothing of this change was applied."""

    http_status = 409
    exit_code = EXIT_TRY_AGAIN


class TaskAlreadyCompleted(Conflict):
    """The task was completed by someone else."""

    def __init__(self, task_title: str, by: str, at: datetime) -> None:
        self.task_title = task_title
        self.by = by
        self.at = at
        super().__init__(
            f"The task '{task_title}' was already completed by {by} at "
            f"{at.strftime('%Y-%m-%d %H:%M:%S')} UTC; your change was not applied."
        )


class NothingWaiting(DhrError):
    """A message was sent to a case that is not waiting for it."""

    http_status = 409


class ScriptError(DhrError):
    """A script, condition or timer expression in a diagram failed (a process owner must fix it)."""

    http_status = 500

    def __init__(self, task: str, detail: str) -> None:
        self.task = task
        self.detail = detail
        super().__init__(f"The script in task '{task}' failed: {detail}")


class BudgetExceeded(ScriptError):
    """Diagram code ran longer, or built more, than the budget for process owners' code; it was stopped."""

    def __init__(self, task: str, what: str, overrun: str) -> None:
        super().__init__(task, overrun)
        self.what = what
        # No full stop at the end: the pages append their own sentence, as for any ScriptError.
        self.message = (f"The {what} of '{task}' {overrun} and was stopped; nothing was changed. "
                        "A process owner must fix the diagram")
        self.args = (self.message,)
