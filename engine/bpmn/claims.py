"""Who is doing a task: claiming and releasing role tasks, and drafts of task forms.

A task is for a lane (a role); one person of that role may claim it so that the others see it is
being dealt with, and only they may then complete it until they release it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..platform import documents
from ..platform.audit import AuditType, record
from ..platform.clock import Clock
from ..platform.documents import Document, UploadRefused
from ..platform.errors import Conflict, DhrError, NotAllowed, NotFound
from ..platform.models import OpenTask, TaskDraft, User
from ..platform.roles import Power, may
from .runtime import work_refusal


def _open_task(session: Session, task_id: str) -> OpenTask:
    task = session.scalars(select(OpenTask).where(OpenTask.id == task_id).with_for_update()
                           .execution_options(populate_existing=True)).one_or_none()
    if task is None:
        raise NotFound("this task is not open any more")
    return task


def claim(session: Session, task_id: str, *, user: User, clock: Clock) -> OpenTask:
    """Make `user` the one doing the task.

    Raises:
        NotFound: the task is closed; NotAllowed: it is not for their role; Conflict: someone else has it.
    """
    task = _open_task(session, task_id)
    refusal = work_refusal(session, user, task, claiming=True)
    if refusal is not None:
        raise NotAllowed(refusal)
    if task.claimed_by == user.username:
        return task
    if task.claimed_by is not None:
        raise Conflict(f"'{task.title}' was claimed by {task.claimed_by} at "
                       f"{task.claimed_at:%Y-%m-%d %H:%M} UTC")
    task.claimed_by, task.claimed_at = user.username, clock.now()
    record(session, AuditType.TASK_CLAIMED, actor=user.username, at=task.claimed_at, case_id=task.case_id,
           task_id=task.id, task_name=task.title, details={"bpmn_id": task.bpmn_id, "lane": task.lane})
    return task


def may_release(user: User, task: OpenTask) -> bool:
    """Whether `user` may give the task back: the one who claimed it, or an administrator."""
    return task.claimed_by is not None and (task.claimed_by == user.username or may(user, Power.RELEASE_ANY_CLAIM))


def release(session: Session, task_id: str, *, user: User, clock: Clock) -> OpenTask:
    """Give a claimed task back to everyone in its lane (the claimer, or an administrator).

    Raises:
        NotFound: the task is closed; NotAllowed: someone else claimed it.
    """
    task = _open_task(session, task_id)
    if task.claimed_by is None:
        return task
    if not may_release(user, task):
        raise NotAllowed(f"only {task.claimed_by} can release '{task.title}'")
    previous = task.claimed_by
    task.claimed_by, task.claimed_at = None, None
    record(session, AuditType.TASK_RELEASED, actor=user.username, at=clock.now(), case_id=task.case_id,
           task_id=task.id, task_name=task.title, details={"bpmn_id": task.bpmn_id, "claimed_by": previous})
    return task


def save_draft(session: Session, task_id: str, values: dict[str, Any], *, user: User, clock: Clock) -> TaskDraft:
    """Keep what `user` typed into the task's form, unchecked, until they come back to it.

    Files are not kept in a draft: `hold_uploads` stores them first, and the draft names them by id.

    Raises:
        NotFound: the task is closed; NotAllowed: they may not do it; DhrError: `values` holds a file.
    """
    task = _workable(session, task_id, user)
    if _holds_file(values):
        raise DhrError("a draft holds uploaded files by document id only; hold the upload first (hold_uploads)")
    draft = session.get(TaskDraft, (task_id, user.username))
    if draft is None:
        draft = TaskDraft(task_id=task_id, username=user.username, case_id=task.case_id, values=values,
                          saved_at=clock.now())
        session.add(draft)
    else:
        draft.values, draft.saved_at = values, clock.now()
    session.flush()
    return draft


def draft_for(session: Session, task_id: str, user: User) -> TaskDraft | None:
    return session.get(TaskDraft, (task_id, user.username))


def _workable(session: Session, task_id: str, user: User) -> OpenTask:
    task = session.get(OpenTask, task_id)
    if task is None:
        raise NotFound("this task is not open any more")
    refusal = work_refusal(session, user, task)
    if refusal is not None:
        raise NotAllowed(refusal)
    return task


def _holds_file(value: Any) -> bool:
    """Whether a draft's values carry a file's bytes: a file field's state (`data_url`, `kept`) holding
    a data URL. Text that merely looks like one is what someone typed, and is kept as typed."""
    if isinstance(value, dict):
        if any(documents.is_data_url(value.get(key)) for key in ("data_url", "kept")):
            return True
        return any(_holds_file(v) for v in value.values() if isinstance(v, dict | list))
    if isinstance(value, list):
        return any(_holds_file(v) for v in value)
    return False


def hold_uploads(session: Session, task_id: str, values: dict[str, str], *, user: User,
                 clock: Clock) -> tuple[dict[str, Document], dict[str, str]]:
    """Store the files a task's form has not submitted yet (a draft, or a form shown again with its
    errors), so that the form names them by document id only; check the ids it already names.

    `values` maps a field's path to what the form gives for it: a data URL (a new file) or
    `document:<id>`. Returns the document of each field that names one, and a message for each
    field whose file is refused or names no document of the task's case. Held documents are not
    listed on the case until a completed task names them.

    Raises:
        NotFound: the task is closed; NotAllowed: the user may not work on it.
    """
    task = _workable(session, task_id, user)
    found: dict[str, Document] = {}
    errors: dict[str, str] = {}
    for path, value in values.items():
        try:
            named = documents.resolve(session, task.case_id, value)
        except UploadRefused as exc:
            errors[path] = exc.message
            continue
        if isinstance(named, documents.Upload):
            named = documents.store(session, task.case_id, named, uploaded_by=user.username, at=clock.now(),
                                    task_id=task_id, field=path)
        found[path] = named
    return found, errors
