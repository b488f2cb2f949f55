"""Moving a running case onto another deployed version of its process.

A case is pinned to the version it started on. A process owner may move it: `plan` says what the
move would change (tasks that open or go, timers kept with their due times, steps the new version
no longer has) or why it is refused; `migrate` makes the move in one unit of work.

SpiffWorkflow aligns the old diagrams with the new (`SpecDiff`, one per process the case runs, its
called processes each on their own) and its `migrate_workflow` resets every ready and waiting task.
A reset waiting timer computes its due time again from now: a six-month deadline would start again.
So the move here is `migrate_workflow`'s, with one difference: a waiting timer whose kind (date,
duration, cycle) is unchanged is left as it is, with its due time in its internal data, and only
reaches the new diagram's steps when it fires. The timer rows keep their due times with it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.bpmn.util.diff import SpecDiff, WorkflowDiff, diff_workflow
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select
from sqlalchemy.orm import Session

from ..platform.audit import AuditType, record
from ..platform.clock import Clock, use_clock
from ..platform.errors import DhrError, NotAllowed, NotFound
from ..platform.models import Case, OpenTask, ProcessVersion, Timer, User
from ..platform.paging import Page, Paging, fetch
from ..platform.roles import Power, having, may
from . import serialization, task_context
from .library import Bundle
from .runtime import (
    _locked_case,
    _plain_cause,
    _run_engine,
    _save,
    _snapshot,
    _task_row,
    bundle_for,
    load_workflow,
)

LIVE = TaskState.READY | TaskState.WAITING | TaskState.STARTED
PREDICTED = TaskState.FUTURE | TaskState.LIKELY | TaskState.MAYBE


class MigrationRefused(DhrError):
    """The case cannot be moved onto that version (nothing was changed)."""


@dataclass(frozen=True)
class TimerLine:
    title: str
    due_at: datetime
    was_due_at: datetime | None = None  # a timer whose due time changes (a restarted timer)


@dataclass
class Plan:
    """What moving one case onto another version would change, or why it cannot move."""

    reference: str
    from_version: int
    to_version: int
    tasks_opened: list[str] = field(default_factory=list)
    tasks_withdrawn: list[str] = field(default_factory=list)
    timers_kept: list[TimerLine] = field(default_factory=list)
    timers_set: list[TimerLine] = field(default_factory=list)
    timers_moved: list[TimerLine] = field(default_factory=list)
    timers_cancelled: list[TimerLine] = field(default_factory=list)
    removed_steps: list[str] = field(default_factory=list)  # steps of the old version the new one lacks
    added_steps: list[str] = field(default_factory=list)
    changed_steps: list[str] = field(default_factory=list)  # in both, changed (what changed said): done or ahead
    deadline: tuple[date | None, date | None] = (None, None)
    refusal: str | None = None

    @property
    def allowed(self) -> bool:
        return self.refusal is None

    def summary(self) -> dict[str, Any]:
        """The plan as the audit trail keeps it."""
        def timers(lines: list[TimerLine]) -> list[str]:
            return [f"{t.title} ({t.due_at.isoformat()})" for t in lines]
        found: dict[str, Any] = {
            "from_version": self.from_version, "to_version": self.to_version,
            "tasks_opened": self.tasks_opened, "tasks_withdrawn": self.tasks_withdrawn,
            "timers_kept": timers(self.timers_kept), "timers_set": timers(self.timers_set),
            "timers_moved": timers(self.timers_moved), "timers_cancelled": timers(self.timers_cancelled),
            "removed_steps": self.removed_steps, "added_steps": self.added_steps, "changed_steps": self.changed_steps,
        }
        if self.deadline[0] != self.deadline[1]:
            found["deadline"] = [d.isoformat() if d else None for d in self.deadline]
        return {key: value for key, value in found.items() if value not in ([], None)}


def may_migrate(user: User) -> bool:
    return may(user, Power.MIGRATE_CASES)


def _actor(actor: str | User) -> str:
    """The acting name; a person must hold the power (a string is a trusted door: the operator's CLI).

    Raises:
        NotAllowed.
    """
    if isinstance(actor, User):
        if not may_migrate(actor):
            raise NotAllowed(f"{actor.username} ({actor.role}) may not move cases to another version: only the "
                             f"{' or '.join(having(Power.MIGRATE_CASES))} may")
        return actor.username
    return actor


def _timer_kind(spec: Any) -> tuple[str, ...] | None:
    """What kind of timer a step waits on (None: no timer), to tell whether a due time still applies."""
    event = getattr(spec, "event_definition", None)
    if isinstance(event, MultipleEventDefinition):
        kinds = tuple(type(e).__name__ for e in event.event_definitions)
        return kinds if any(isinstance(e, TimerEventDefinition) for e in event.event_definitions) else None
    return (type(event).__name__,) if isinstance(event, TimerEventDefinition) else None


_ATTRIBUTES = {"script": "script", "prescript": "script before", "postscript": "script after", "bpmn_name": "name",
               "lane": "lane", "extensions": "form or properties", "event_definition": "timer or event",
               "cond_task_specs": "conditions", "outputs": "what follows", "inputs": "what leads to it",
               "typename": "kind of step"}


def _label(spec: Any) -> str:
    return str(spec.bpmn_name or spec.bpmn_id or spec.name)


def _move(diff: WorkflowDiff, workflow: Any, spec: Any) -> None:
    """Put `workflow` (the case or one of its called processes) on `spec`.

    As `migrate_workflow`, but a waiting timer of an unchanged kind keeps its state and due time.
    """
    kinds = {task.id: _timer_kind(task.task_spec) for task in workflow.get_tasks(state=TaskState.WAITING,
                                                                                  skip_subprocesses=True)}
    workflow.spec = spec
    for task in workflow.tasks.values():
        aligned = diff.alignment.get(task)
        if aligned is not None:
            task.task_spec = aligned
    for task in list(workflow.get_tasks(state=TaskState.READY | TaskState.WAITING, skip_subprocesses=True)):
        if task.id not in workflow.tasks:  # gone with a branch reset before it
            continue
        kind = kinds.get(task.id)
        if kind is not None and kind == _timer_kind(task.task_spec) and task.internal_data.get("event_value"):
            _repredict(workflow, task)  # its due time stands; what follows it is the new diagram's
            continue
        task.reset_branch(None)  # a timer of another kind starts afresh (the preview shows it moved)
    for task in list(workflow.get_tasks(state=TaskState.STARTED, skip_subprocesses=True)):
        if isinstance(task.task_spec, SubWorkflowTask):  # a running stage: the steps after it are the new diagram's
            _repredict(workflow, task)
    for task in list(workflow.tasks.values()):  # predictions of steps the new version lacks
        if (task.id in workflow.tasks and task.has_state(PREDICTED)
                and workflow.spec.task_specs.get(task.task_spec.name) is not task.task_spec):
            workflow._remove_task(task.id)
    if workflow.last_task is not None and workflow.last_task.id not in workflow.tasks:
        workflow.last_task = None


def _repredict(workflow: Any, task: Any) -> None:
    """Predict what follows a task that is not reset (a waiting timer, a running stage) from its new spec.

    SpiffWorkflow runs the children a task predicted when it completes, without asking its spec again:
    a step the new version adds after it would be skipped. A task with live children (a multi-instance
    step's instances) is left as it is.
    """
    if any(not child.has_state(PREDICTED) for child in task.children):
        return
    for child in list(task.children):
        if child.id in workflow.tasks:
            workflow._remove_task(child.id)
    task.task_spec._predict_hook(task)
    for child in task.children:
        child.task_spec._predict(child, mask=TaskState.PREDICTED_MASK | TaskState.FUTURE)


@dataclass
class _Moved:
    workflow: BpmnWorkflow
    bundle: Bundle
    plan: Plan


def _moved(session: Session, case: Case, to_version: int, clock: Clock) -> _Moved:
    """Move the case's workflow in memory (nothing is written) and say what changed."""
    plan = Plan(case.reference, case.version_id, to_version)
    new_bundle = bundle_for(session, to_version)
    workflow = load_workflow(case, session)
    if case.status != "open":
        plan.refusal = f"case '{case.reference}' is {case.status}; only an open case can be moved"
    elif to_version == case.version_id:
        plan.refusal = f"case '{case.reference}' is on version {to_version} already"
    elif case.process_id not in new_bundle.process_ids:
        plan.refusal = f"version {to_version} has no process '{case.process_id}'"
    if plan.refusal:
        return _Moved(workflow, new_bundle, plan)
    spec, dependencies = serialization.new_specs(new_bundle.pristine(case.process_id))
    top, subs = diff_workflow(serialization.STOCK.registry, workflow, spec, dependencies)

    at: list[str] = []  # live steps the new version lacks
    for diff_of, each in [(top, workflow), *((subs[key], sub) for key, sub in workflow.subprocesses.items())]:
        if diff_of is None:
            if not each.is_completed():
                at.append(each.spec.description or each.spec.name)
            continue
        at.extend(_label(t.task_spec) for t in diff_of.removed if t.has_state(LIVE) and t.task_spec.bpmn_id)
    old_specs = {workflow.spec.name: workflow.spec, **workflow.subprocess_specs}
    for name, old in old_specs.items():
        new = dependencies.get(name) if name != workflow.spec.name else spec
        if new is not None:
            changed = SpecDiff(serialization.STOCK.registry, old, new).changed
            plan.changed_steps.extend(f"{_label(s)} ({s.bpmn_id}): {', '.join(_ATTRIBUTES.get(k, k) for k in keys)}"
                                      for s, keys in changed.items() if s.bpmn_id)
        old_ids = {s.bpmn_id: _label(s) for s in old.task_specs.values() if s.bpmn_id}
        new_ids = {s.bpmn_id: _label(s) for s in new.task_specs.values() if s.bpmn_id} if new is not None else {}
        plan.removed_steps.extend(f"{label} ({bpmn_id})" for bpmn_id, label in old_ids.items()
                                  if bpmn_id not in new_ids)
        plan.added_steps.extend(f"{label} ({bpmn_id})" for bpmn_id, label in new_ids.items() if bpmn_id not in old_ids)
    for name, new in dependencies.items():
        if name not in old_specs:
            plan.added_steps.extend(f"{_label(s)} ({s.bpmn_id})" for s in new.task_specs.values() if s.bpmn_id)
    if at:
        plan.refusal = ("the case is at " + ", ".join(f"'{name}'" for name in sorted(set(at)))
                        + f", which version {to_version} no longer has; keep that step (its element id) in the "
                        "diagram, or let the case move past it first")
        return _Moved(workflow, new_bundle, plan)

    try:
        with use_clock(clock):  # a reset timer counts from the case's clock
            _move(top, workflow, spec)
            for key, sub in list(workflow.subprocesses.items()):
                sub_diff = subs.get(key)
                if sub_diff is not None:
                    _move(sub_diff, sub, dependencies[sub.spec.name])
    except Exception as exc:  # a step the new diagram cannot prepare (an expression it evaluates, say)
        plan.refusal = f"on version {to_version} the case's open steps cannot be prepared: {_plain_cause(exc)}"
        return _Moved(workflow, new_bundle, plan)
    workflow.subprocess_specs = dependencies
    passed = sorted({_label(t.task_spec) for each in (workflow, *workflow.subprocesses.values())
                     for t in each.tasks.values() if each.spec.task_specs.get(t.task_spec.name) is not t.task_spec})
    if passed:
        plan.refusal = ("the case has been through " + ", ".join(f"'{name}'" for name in passed)
                        + f", which version {to_version} no longer has, and its state still holds that step")
        return _Moved(workflow, new_bundle, plan)
    serialization.repair_format_1(workflow)  # event subprocesses the case triggered: wired on the new specs
    try:
        _run_engine(workflow, clock)
    except DhrError as exc:
        plan.refusal = f"on version {to_version} the case would fail at once: {exc}"
        return _Moved(workflow, new_bundle, plan)
    _describe(session, case, workflow, new_bundle, plan)
    return _Moved(workflow, new_bundle, plan)


def _describe(session: Session, case: Case, workflow: BpmnWorkflow, bundle: Bundle, plan: Plan) -> None:
    """Fill in the plan: the moved workflow's tasks and timers against the case's projections."""
    found = _snapshot(workflow, bundle)
    open_tasks = {t.id: t for t in session.scalars(select(OpenTask).where(OpenTask.case_id == case.id))}
    timers = {t.id: t for t in session.scalars(select(Timer).where(Timer.case_id == case.id))}
    plan.tasks_opened = [row.title for task_id, row in found.tasks.items() if task_id not in open_tasks]
    plan.tasks_withdrawn = [row.title for task_id, row in open_tasks.items() if task_id not in found.tasks]
    for timer_id, row in found.timers.items():
        old = timers.get(timer_id)
        if old is None:
            plan.timers_set.append(TimerLine(row.title, row.due_at))
        elif old.due_at == row.due_at:
            plan.timers_kept.append(TimerLine(row.title, row.due_at))
        else:
            plan.timers_moved.append(TimerLine(row.title, row.due_at, old.due_at))
    plan.timers_cancelled = [TimerLine(t.title, t.due_at) for timer_id, t in timers.items()
                             if timer_id not in found.timers]
    plan.deadline = (case.deadline_on, min(found.deadlines, default=None))


def plan(session: Session, case: Case, to_version: int, *, clock: Clock) -> Plan:
    """Say what moving `case` onto `to_version` would change, or why it cannot move; change nothing.

    Raises:
        NotFound: no such version.
    """
    return _moved(session, case, to_version, clock).plan


def migrate(session: Session, reference: str, to_version: int, *, actor: str | User, clock: Clock,
            dry_run: bool = False) -> Plan:
    """Move a running case onto another deployed version of its process, in one unit of work: its open
    tasks and timers as the plan says (waiting timers keep their due times), the case pinned to the new
    version, an audit event with both versions and the plan. With `dry_run`, only say what would change.

    Raises:
        NotAllowed; NotFound: no such case or version; MigrationRefused: the plan's refusal.
    """
    username = _actor(actor)
    found = session.scalars(select(Case.id).where(Case.reference == reference)).first()
    if found is None:
        raise NotFound(f"there is no case '{reference}'")
    case = _locked_case(session, found)
    moved = _moved(session, case, to_version, clock)
    if dry_run:
        return moved.plan
    if moved.plan.refusal:
        raise MigrationRefused(f"case '{reference}' cannot move to version {to_version}: {moved.plan.refusal}")
    now = clock.now()
    case.version_id = to_version
    record(session, AuditType.CASE_MIGRATED, actor=username, at=now, case_id=case.id,
           details=moved.plan.summary())
    _save(session, case, moved.workflow, moved.bundle, actor=username, now=now)
    _refresh_open_tasks(session, case, moved.workflow, moved.bundle, now)
    return moved.plan


def _refresh_open_tasks(session: Session, case: Case, workflow: BpmnWorkflow, bundle: Bundle, now: datetime) -> None:
    """Tasks that stay open take the new version's lane, form, instructions and title."""
    confidential = task_context.bundle_confidential(bundle)
    for row in session.scalars(select(OpenTask).where(OpenTask.case_id == case.id)):
        task = workflow.get_task_from_id(UUID(row.id))
        if task is None:
            continue
        fresh = _task_row(task, bundle)
        fresh.title = task_context.title_of(task, confidential, now)
        for name, value in vars(fresh).items():
            if getattr(row, name) != value:
                setattr(row, name, value)
    session.flush()


PREVIEWS_PER_PAGE = 10  # each preview runs the case's move in memory


@dataclass(frozen=True)
class Candidate:
    """An open case on an older version, with what moving it would change."""

    case_id: int
    reference: str
    stage: str | None
    plan: Plan


def candidates(session: Session, to_version: int, paging: Paging, *, clock: Clock) -> Page[Candidate]:
    """One page of the open cases on versions older than `to_version` whose process it defines, oldest
    version first, each with its plan.

    Raises:
        NotFound: no such version.
    """
    version = session.get(ProcessVersion, to_version)
    if version is None:
        raise NotFound(f"process version {to_version} does not exist")
    query = (select(Case.id).where(Case.status == "open", Case.version_id < to_version,
                                   Case.process_id.in_(list(version.process_ids)))
             .order_by(Case.version_id, Case.id))
    rows = fetch(session, query, Paging(paging.number, PREVIEWS_PER_PAGE))
    items = []
    for row in rows:
        case = session.get(Case, row.id)
        assert case is not None
        items.append(Candidate(case.id, case.reference, case.stage, plan(session, case, to_version, clock=clock)))
    return Page(items, rows.number, rows.size, rows.total)
