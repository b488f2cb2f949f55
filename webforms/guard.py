"""Look things up for the signed-in user, or abort: 404 for what they may not know exists."""

from __future__ import annotations

from flask import abort, request

from engine.bpmn import runtime
from engine.platform import access
from engine.platform.models import Case, OpenTask

from . import request_log, uow
from .auth import me


def case_or_404(case_id: int) -> Case:
    """The case, if it exists and the signed-in user may see it (else 404, so ids reveal nothing)."""
    case = uow.db().get(Case, case_id)
    if case is None or not access.may_see_case(uow.db(), me(), case.id):
        abort(404)
    request_log.note_case(case.reference)
    if request.method == "GET":  # every read of a case by a non-member is audited
        access.record_view(uow.db(), case, me(), request.endpoint or request.path, at=uow.clock().now())
    return case


def task_or_404(task_id: str) -> OpenTask | None:
    """The open task, if the user may see its case; None if it is gone (completed or withdrawn).

    A POST, which changes the task, first locks its case (`runtime.lock_task`), so the request and
    its unit of work read the task and the case once, as they stand under the lock.
    """
    if request.method == "POST":
        locked = runtime.lock_task(uow.db(), task_id)
        task = locked[1] if locked is not None else None
    else:
        task = uow.db().get(OpenTask, task_id)
    if task is not None and not access.may_see_case(uow.db(), me(), task.case_id):
        abort(404)
    return task

