"""Running cases: deploy diagrams, start cases, complete tasks, deliver messages, fire timers.

Every public function here is one unit of work: it changes the case, rewrites its projections
(`open_task`, `timer`) and appends audit events in the caller's session, and flushes. The caller
commits (the CLI command, the request, the timer job); if anything raises, nothing is applied.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn.specs.event_definitions.item_aware_event import SignalEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.message import MessageEventDefinition as AnyMessage
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import CycleTimerEventDefinition, TimerEventDefinition
from SpiffWorkflow.bpmn.specs.mixins.subworkflow_task import SubWorkflowTask
from SpiffWorkflow.bpmn.util import BpmnEvent
from SpiffWorkflow.bpmn.workflow import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException, WorkflowException
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import delete, exists, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from ..platform import documents, events
from ..platform.access import not_member_reason
from ..platform.audit import AuditType, record, take_new
from ..platform.calendar import london_day, parse_day, parse_moment
from ..platform.checks import refuse
from ..platform.clock import Clock, SettableClock, use_clock
from ..platform.db import unit_of_work
from ..platform.errors import (
    BudgetExceeded,
    Conflict,
    DhrError,
    FormDataInvalid,
    NotAllowed,
    NotFound,
    NothingWaiting,
    ScriptError,
    TaskAlreadyCompleted,
)
from ..platform.models import (
    AuditEvent,
    Case,
    CaseStage,
    OpenTask,
    ProcessFile,
    ProcessVersion,
    ProcessVersionSpec,
    TaskDraft,
    Timer,
    User,
    stay_us,
)
from ..platform.roles import Power, having, in_lane, may
from ..platform.settings import restart_each_step
from . import confidential, serialization, task_context
from .compaction import compact
from .deployments import content_hashes, forget_content_hashes
from .forms import validate_submission
from .library import FORM_PROPERTY, SPEC_FORMAT, Bundle, form_path, load_bundle

SYSTEM_ACTOR = "scheduler"
# The most steps in a row a unit of work may run without waiting for anything: SpiffWorkflow stops
# looking for work 1,000 tasks deep, and would leave an endless loop of quick steps there, stalled.
ENGINE_STEPS = 900
DEADLINE_PROPERTY = "caseDeadlineDate"
DUE_PROPERTY = "taskDueDate"

# SpiffWorkflow adds every task's data to its log records while the `spiff.task` logger's own level is
# below INFO (it is unset by default): case data, confidential values included, must never reach a log.
for _name in ("spiff", "spiff.task", "spiff.data"):
    if logging.getLogger(_name).level < logging.INFO:
        logging.getLogger(_name).setLevel(logging.INFO)

# ---------------------------------------------------------------------------------------------
# Process versions


_bundles: dict[int, Bundle] = {}  # by version id; checked against the version's content hash
_bundles_lock = threading.Lock()


def bundle_for(session: Session, version_id: int) -> Bundle:
    """Return a deployed version's diagrams (loaded once per process): restored from the specs stored
    when it was deployed, or parsed if it has none.

    The cache is checked against the stored content hash (read once per transaction for every
    version), so a version id that a rolled-back deployment used and a later one reused (SQLite does
    that), or another database's, can never get the wrong diagrams.
    """
    content_hash = content_hashes(session, wanted=version_id).get(version_id)
    if content_hash is None:
        raise NotFound(f"process version {version_id} does not exist")
    with _bundles_lock:
        cached = None if restart_each_step() else _bundles.get(version_id)
    if cached is not None and cached.content_hash == content_hash:
        return cached
    rows = session.scalars(select(ProcessFile).where(ProcessFile.version_id == version_id))
    files = {f.path: f.content for f in rows}
    stored = {name: content for name, content in session.execute(
        select(ProcessVersionSpec.name, ProcessVersionSpec.content).where(
            ProcessVersionSpec.version_id == version_id, ProcessVersionSpec.format == SPEC_FORMAT))}
    # the specs stored when it was deployed; a version deployed before they were (or by another
    # release of SpiffWorkflow) has its diagrams parsed
    bundle = Bundle.from_stored(files, stored) if "" in stored else load_bundle(files, trusted=True)
    with _bundles_lock:
        _bundles[version_id] = bundle
    return bundle


def deploy(session: Session, files: dict[str, str], *, actor: str, clock: Clock) -> tuple[ProcessVersion, bool]:
    """Validate and store a bundle as a new process version; identical files deploy nothing.

    Raises:
        DiagramInvalid: a file does not validate (nothing is stored).
    """
    bundle = load_bundle(files)
    existing = session.scalars(
        select(ProcessVersion).where(ProcessVersion.content_hash == bundle.content_hash)
    ).one_or_none()
    if existing is not None:
        return existing, False
    version = ProcessVersion(
        content_hash=bundle.content_hash,
        process_ids=bundle.process_ids,
        deployed_at=clock.now(),
        deployed_by=actor,
        files=[
            ProcessFile(path=path, content=text, sha256=hashlib.sha256(text.encode()).hexdigest())
            for path, text in sorted(files.items())
        ],
    )
    session.add(version)
    session.flush()
    session.add_all(ProcessVersionSpec(version_id=version.id, name=name, format=SPEC_FORMAT, content=content)
                    for name, content in bundle.stored_specs().items())
    forget_content_hashes(session)
    previous = session.scalars(
        select(ProcessVersion).where(ProcessVersion.id < version.id).order_by(ProcessVersion.id.desc()).limit(1)
    ).first()
    changed = _changed_files(previous, files)
    record(
        session, AuditType.PROCESS_DEPLOYED, actor=actor, at=version.deployed_at,
        details={"version": version.id, "hash": version.content_hash, "processes": version.process_ids,
                 "changed_files": changed},
    )
    return version, True


def _changed_files(previous: ProcessVersion | None, files: dict[str, str]) -> list[str]:
    old = {f.path: f.sha256 for f in previous.files} if previous else {}
    new = {path: hashlib.sha256(text.encode()).hexdigest() for path, text in files.items()}
    return sorted(path for path in old.keys() | new.keys() if old.get(path) != new.get(path))


def newest_version(session: Session, process_id: str) -> ProcessVersion:
    """Return the newest deployed version that defines `process_id`.

    Raises:
        NotFound: no deployed version has that process.
    """
    for version in session.scalars(select(ProcessVersion).order_by(ProcessVersion.id.desc())):
        if process_id in version.process_ids:
            return version
    raise NotFound(f"no deployed process has the id '{process_id}' (deploy it with 'dhr processes deploy')")


def startable_processes(session: Session) -> list[tuple[str, str]]:
    """The processes a new case can start on, as (id, name): those of the newest deployed version
    that no other process of it calls."""
    newest = session.scalar(select(func.max(ProcessVersion.id)))
    if newest is None:
        return []
    bundle = bundle_for(session, newest)
    called = {called for process_id in bundle.process_ids for called in bundle.stage_ids(process_id)}
    return [(process_id, bundle.process_name(process_id)) for process_id in bundle.process_ids
            if process_id not in called]


# ---------------------------------------------------------------------------------------------
# Loading and saving instances


class _WorkflowCache:
    """Deserialized workflows by case, valid only while the stored state is exactly the same."""

    def __init__(self, size: int = 128) -> None:
        self._items: OrderedDict[int, tuple[str, BpmnWorkflow]] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def take(self, case_id: int, state: str) -> BpmnWorkflow | None:
        if restart_each_step():
            return None
        with self._lock:
            item = self._items.pop(case_id, None)
        if item is not None and item[0] == state:
            return item[1]
        return None

    def put(self, case_id: int, state: str, workflow: BpmnWorkflow) -> None:
        with self._lock:
            self._items[case_id] = (state, workflow)
            while len(self._items) > self._size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()


WORKFLOWS = _WorkflowCache()


def load_workflow(case: Case, session: Session | None = None) -> BpmnWorkflow:
    """Return the case's workflow, deserialized (or taken from the cache if unchanged).

    Units of work pass their session; without one (inspection, tests) the version's diagrams
    must have been loaded in this process already.
    """
    workflow = WORKFLOWS.take(case.id, case.state)
    if workflow is None:
        if session is not None:
            bundle = bundle_for(session, case.version_id)
        else:
            with _bundles_lock:
                found = _bundles.get(case.version_id)
            if found is None:
                raise NotFound(f"process version {case.version_id} is not loaded")
            bundle = found
        workflow = serialization.loads(case.state, bundle.pristine(case.process_id))
    return workflow


@dataclass
class _TaskRow:
    bpmn_id: str
    title: str
    lane: str | None
    form: str | None
    instructions: str | None
    process_name: str | None


@dataclass
class _TimerRow:
    bpmn_id: str
    title: str
    attached_to: str | None
    interrupting: bool
    due_at: datetime


def _timer_due(task: Any) -> datetime | None:
    value = task.internal_data.get("event_value")
    if isinstance(value, dict):
        value = value.get("next")
    if not value:
        return None
    return TimerEventDefinition.get_datetime(value)


@dataclass
class _Snapshot:
    tasks: dict[str, _TaskRow]
    timers: dict[str, _TimerRow]
    facts: dict[str, Any]
    named_due: dict[str, datetime]  # task id -> the due time its `taskDueDate` variable holds
    deadlines: list[date]  # what open tasks and waiting timers marked `caseDeadlineDate` hold
    awaited: list[str] = field(default_factory=list)  # the messages and signals a task waits for

    def task_due(self, task_id: str) -> datetime | None:
        """A task is due when its `taskDueDate` says; else when its first interrupting boundary timer
        falls, else its first non-interrupting one."""
        if task_id in self.named_due:
            return self.named_due[task_id]
        attached = [t for t in self.timers.values() if t.attached_to == task_id]
        interrupting = [t.due_at for t in attached if t.interrupting]
        if interrupting:
            return min(interrupting)
        return min((t.due_at for t in attached), default=None)


def _snapshot(workflow: BpmnWorkflow, bundle: Bundle) -> _Snapshot:
    """Read the open user tasks, waiting timers, due dates, deadlines and facts off the instance, in
    one walk of its tree."""
    found = _Snapshot({}, {}, {}, {}, [])
    tasks, timers, facts = found.tasks, found.timers, found.facts
    projected = events.projected()
    for task in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING):
        spec = task.task_spec
        _collect_facts(task, projected, facts)
        if task.state == TaskState.READY:
            if spec.manual:
                tasks[str(task.id)] = _task_row(task, bundle)
                variable = spec.extensions.get("properties", {}).get(DUE_PROPERTY)
                due = parse_moment(task.data.get(variable)) if variable else None
                if due is not None:
                    found.named_due[str(task.id)] = due
                deadline = _deadline_date(task)
                if deadline is not None:
                    found.deadlines.append(deadline)
            continue
        event = getattr(spec, "event_definition", None)
        named = spec
        if isinstance(event, MultipleEventDefinition):  # an event-based gateway: name it by its timer
            timers_of = [i for i, e in enumerate(event.event_definitions) if isinstance(e, TimerEventDefinition)]
            if timers_of and len(spec.outputs) == len(event.event_definitions):
                event, named = event.event_definitions[timers_of[0]], spec.outputs[timers_of[0]]
        found.awaited.extend(_awaited(event))
        due = _timer_due(task) if isinstance(event, TimerEventDefinition) else None
        if due is None:
            continue
        attached = None
        if type(task.parent.task_spec).__name__ == "BoundaryEventSplit":
            attached = next((str(c.id) for c in task.parent.children if c is not task
                             and not hasattr(c.task_spec, "cancel_activity")), None)
        deadline = _deadline_date(task)
        timers[str(task.id)] = _TimerRow(
            bpmn_id=named.bpmn_id,
            title=named.bpmn_name or named.bpmn_id,
            attached_to=attached,
            interrupting=bool(getattr(spec, "cancel_activity", True)),
            due_at=due,
        )
        if deadline is not None:
            found.deadlines.append(deadline)
    return found


def _awaited(event: Any) -> list[str]:
    """The messages and signals an event waits for (those of an event-based gateway included)."""
    if isinstance(event, MultipleEventDefinition):
        return [name for each in event.event_definitions for name in _awaited(each)]
    if isinstance(event, AnyMessage | SignalEventDefinition) and event.name:
        return [f"{'message' if isinstance(event, AnyMessage) else 'signal'} '{event.name}'"]
    return []


def _stall_reason(workflow: BpmnWorkflow) -> str:
    """Say in plain words what an open case that nothing can move is left waiting on."""
    unfinished = []
    for each in (workflow, *workflow.subprocesses.values()):
        for task in each.get_tasks(state=TaskState.READY | TaskState.WAITING | TaskState.STARTED):
            spec = task.task_spec
            if not spec.bpmn_id or isinstance(spec, SubWorkflowTask):
                continue
            what = f"'{spec.bpmn_name or spec.bpmn_id}' ({spec.bpmn_id}, {TaskState.get_name(task.state).lower()}"
            if task.state == TaskState.READY and spec.manual and not spec.lane:
                what += ", in no lane, so no role can do it"
            unfinished.append(what + ")")
    listing = "; ".join(sorted(set(unfinished))[:8]) if unfinished else "no step at all"
    return ("No task is open, no timer is waiting and no message or signal is awaited, so nothing can move the "
            f"case on. Still unfinished: {listing}. A process owner should fix the diagram, deploy it and retry "
            "the case.")


def _collect_facts(task: Any, names: tuple[str, ...], facts: dict[str, Any]) -> None:
    """Add the task's values of the projected variables (`names`) that `facts` does not have yet."""
    for name in names:
        value = task.data.get(name)
        if name not in facts and value is not None and isinstance(value, str | int | float | bool):
            facts[name] = value


def _running_stage(workflow: BpmnWorkflow, bundle: Bundle, process_id: str) -> str | None:
    """The name of the stage (a process the top level calls) running now, if one is."""
    stages = bundle.stage_ids(process_id)
    running = [t.task_spec.spec for t in workflow.tasks.values()
               if t.state == TaskState.STARTED and getattr(t.task_spec, "spec", None) in stages]
    if not running:
        return None
    return bundle.process_name(max(running, key=stages.index))


def _record_stage(session: Session, case: Case, now: datetime) -> events.StageMove | None:
    """Close the case's current stage row and open one for its new stage, if the stage changed;
    return the move (None: the stage stayed)."""
    current = session.scalars(
        select(CaseStage).where(CaseStage.case_id == case.id, CaseStage.left_at.is_(None))).first()
    if current is not None and current.stage == case.stage:
        return None
    if current is not None:
        current.left_at, current.stay_us = now, stay_us(current.entered_at, now)
    if case.stage is not None:
        session.add(CaseStage(case_id=case.id, stage=case.stage, entered_at=now, left_at=None))
    if current is None and case.stage is None:
        return None
    return events.StageMove(left=current.stage if current is not None else None, entered=case.stage)


def _deadline_date(task: Any) -> date | None:
    """The case deadline a timer stands for: the date in the variable its `caseDeadlineDate` names."""
    variable = task.task_spec.extensions.get("properties", {}).get(DEADLINE_PROPERTY)
    return parse_day(task.data.get(variable)) if variable else None


def _task_row(task: Any, bundle: Bundle) -> _TaskRow:
    spec = task.task_spec
    reference = spec.extensions.get("properties", {}).get(FORM_PROPERTY)
    process_file = bundle.spec_files.get(task.workflow.spec.name, "")
    return _TaskRow(
        bpmn_id=spec.bpmn_id,
        title=spec.bpmn_name or spec.bpmn_id,
        lane=spec.lane,
        form=form_path(process_file, reference) if reference else None,
        instructions=spec.extensions.get("instructionsForEndUser"),
        process_name=task.workflow.spec.description or task.workflow.spec.name,
    )


def _save(
    session: Session,
    case: Case,
    workflow: BpmnWorkflow,
    bundle: Bundle,
    *,
    actor: str,
    now: datetime,
    finished_task: str | None = None,
    fired_timer: str | None = None,
) -> None:
    """Write the instance, rewrite its projections and audit what appeared and went, in one flush
    at the end (nothing is flushed half-way: the audit head is locked and written once)."""
    with session.no_autoflush:
        created, moved = _write_case(session, case, workflow, bundle, actor=actor, now=now, finished_task=finished_task,
                              fired_timer=fired_timer)
    try:
        session.flush()
    except StaleDataError as exc:  # a writer that did not take the row lock got there first
        raise Conflict(f"case {case.reference} was changed by someone else meanwhile; nothing was applied") from exc
    events.publish(events.CaseSaved(session, case, workflow, actor, now, [row.id for row in created], moved))
    events.publish(events.EventsRecorded(session, case, take_new(session), now))
    WORKFLOWS.put(case.id, case.state, workflow)


def _write_case(
    session: Session,
    case: Case,
    workflow: BpmnWorkflow,
    bundle: Bundle,
    *,
    actor: str,
    now: datetime,
    finished_task: str | None,
    fired_timer: str | None,
) -> tuple[list[OpenTask], events.StageMove | None]:
    """Change the case row and its projections in the session; return the open tasks it added and
    the case's move between stages, if it moved."""
    compact(workflow)
    state = serialization.dumps(workflow, bundle.pristine(case.process_id))
    found = _snapshot(workflow, bundle)
    tasks, timers, facts = found.tasks, found.timers, found.facts

    case.state = state
    case.serializer_version = serialization.STATE_VERSION
    case.updated_at = now
    if workflow.is_completed():  # no live branch is left to read: the data the instance ended with
        projected = events.projected()
        for task in reversed(workflow.get_tasks(state=TaskState.COMPLETED)):
            _collect_facts(task, projected, facts)
    if facts and {**(case.facts or {}), **facts} != case.facts:
        case.facts = {**(case.facts or {}), **facts}
    if bundle.stage_ids(case.process_id):
        case.stage = _running_stage(workflow, bundle, case.process_id) or case.stage
    else:  # a process without stages: the process of its first open task
        first_task = next(iter(tasks.values()), None)
        case.stage = first_task.process_name if first_task else case.stage
    deadline_on = min(found.deadlines, default=None)
    if case.deadline_on != deadline_on:  # assign only a change: an assignment alone is an UPDATE
        case.deadline_on = deadline_on
    if workflow.is_completed() and case.status != "completed":
        case.status, case.completed_at, case.stage = "completed", now, None
        record(session, AuditType.CASE_COMPLETED, actor=actor, at=now, case_id=case.id)
    _check_stalled(session, case, workflow, found, actor=actor, now=now)
    moved = _record_stage(session, case, now)

    drafted = exists().where(TaskDraft.task_id == OpenTask.id)
    rows = session.execute(select(OpenTask, drafted).where(OpenTask.case_id == case.id)).all()
    existing_tasks = {row[0].id: row[0] for row in rows}
    closed_drafts = [row[0].id for row in rows if row[1] and row[0].id not in tasks]
    if closed_drafts:  # a closed task's drafts go with it
        session.execute(delete(TaskDraft).where(TaskDraft.task_id.in_(closed_drafts)))
    for task_id, row in existing_tasks.items():
        if task_id not in tasks:
            session.delete(row)
            if task_id != finished_task:
                record(session, AuditType.TASK_CANCELLED, actor=actor, at=now, case_id=case.id,
                       task_id=task_id, task_name=row.title, details={"bpmn_id": row.bpmn_id, "lane": row.lane})
    created: list[OpenTask] = []  # held, so that listeners find them in the session
    for task_id, task_info in tasks.items():
        current = existing_tasks.get(task_id)
        due = found.task_due(task_id)
        if due is None and current is not None:  # its reminder fired: it stays due when it was
            due = current.due_at
        if current is None:  # its title is rendered once, as it opens (the diagram's `taskTitle`)
            task_info.title = task_context.title_of(workflow.get_task_from_id(UUID(task_id)),
                                                    task_context.bundle_confidential(bundle), now)
            created.append(OpenTask(id=task_id, case_id=case.id, created_at=now, due_at=due, **vars(task_info)))
            session.add(created[-1])
            record(session, AuditType.TASK_CREATED, actor=actor, at=now, case_id=case.id, task_id=task_id,
                   task_name=task_info.title,
                   details={"bpmn_id": task_info.bpmn_id, "lane": task_info.lane,
                            "due_at": due.isoformat() if due else None})
        elif current.due_at != due:
            current.due_at = due

    existing_timers = {t.id: t for t in session.scalars(select(Timer).where(Timer.case_id == case.id))}
    for timer_id, timer_row in existing_timers.items():
        if timer_id not in timers:
            session.delete(timer_row)
            if timer_id != fired_timer:
                record(session, AuditType.TIMER_CANCELLED, actor=actor, at=now, case_id=case.id,
                       task_id=timer_id, task_name=timer_row.title,
                       details={"due_at": timer_row.due_at.isoformat()})
    for timer_id, info in timers.items():
        current_timer = existing_timers.get(timer_id)
        if current_timer is None:
            session.add(Timer(id=timer_id, case_id=case.id, bpmn_id=info.bpmn_id, title=info.title,
                              attached_to=info.attached_to, due_at=info.due_at, status="waiting", attempts=0))
            record(session, AuditType.TIMER_SET, actor=actor, at=now, case_id=case.id, task_id=timer_id,
                   task_name=info.title, details={"bpmn_id": info.bpmn_id, "due_at": info.due_at.isoformat()})
        elif current_timer.due_at != info.due_at:
            record(session, AuditType.TIMER_RESCHEDULED, actor=actor, at=now, case_id=case.id,
                   task_id=timer_id, task_name=info.title,
                   details={"due_at": [current_timer.due_at.isoformat(), info.due_at.isoformat()]})
            current_timer.due_at, current_timer.status = info.due_at, "waiting"
    return created, moved


def _check_stalled(session: Session, case: Case, workflow: BpmnWorkflow, found: _Snapshot, *, actor: str,
                   now: datetime) -> None:
    """Mark an open case that waits on nothing a person, a timer or a message can do, or unmark it."""
    movable = (workflow.is_completed() or found.timers or found.awaited
               or any(row.lane for row in found.tasks.values()))
    if movable:
        if case.stalled_at is not None:
            case.stalled_at, case.stalled_reason = None, None
            record(session, AuditType.CASE_RESUMED, actor=actor, at=now, case_id=case.id)
        return
    reason = _stall_reason(workflow)
    if case.stalled_at is None or case.stalled_reason != reason:
        case.stalled_at, case.stalled_reason = case.stalled_at or now, reason
        record(session, AuditType.CASE_STALLED, actor=actor, at=now, case_id=case.id, details={"reason": reason})


def _run_engine(workflow: BpmnWorkflow, clock: Clock, step: Any = None) -> None:
    """Run `step` (if any) and the engine's own steps; whatever goes wrong in them becomes a
    `ScriptError` that names the element and says what was missing, and the unit of work is undone.
    """
    current: list[Any] = []

    def track(task: Any) -> None:  # the element that runs now, to name it if it fails
        current[:] = [task]
        if task.depth > ENGINE_STEPS:  # a loop of quick steps (script, gateway, back) that never waits
            name = str(task.task_spec.bpmn_name or task.task_spec.bpmn_id)
            stop = BudgetExceeded(name, "loop", f"ran {ENGINE_STEPS} steps")
            stop.message = (
                f"The diagram ran {ENGINE_STEPS} steps in a row, round and round through '{name}', without waiting "
                "for a person, a timer or a message, and was stopped; nothing was changed. A process owner must "
                "fix the loop in the diagram")
            stop.args = (stop.message,)
            raise stop

    try:
        with use_clock(clock):
            if step is not None:
                step()
            workflow.do_engine_steps(will_complete_task=track)
    except DhrError:
        raise
    except Exception as exc:  # a diagram's code or data the engine could not run: never a bare trace
        task = getattr(exc, "task", None) or (current[0] if current else None)
        spec = getattr(exc, "task_spec", None) or (task.task_spec if task is not None else None)
        name = (getattr(spec, "bpmn_name", None) or getattr(spec, "bpmn_id", None) or "a step of the diagram")
        raise ScriptError(str(name), _plain_cause(exc)) from exc


def _plain_cause(exc: BaseException) -> str:
    """Say what went wrong in words a process owner can act on, without Python's object reprs."""
    cause: BaseException = exc
    while isinstance(cause, SpiffWorkflowException):
        inner = getattr(cause, "exception", None) or cause.__cause__ or cause.__context__
        if inner is None:
            break
        cause = inner
    line = getattr(exc, "line_number", None)
    where = f" (line {line} of the script: {str(getattr(exc, 'error_line', '')).strip()})" if line else ""
    if isinstance(cause, NameError):
        name = getattr(cause, "name", None) or str(cause)
        return f"the variable '{name}' is not set at this step (it is not in the case's data){where}"
    if isinstance(cause, KeyError):
        return f"the key {cause} is missing from the data{where}"
    if cause is not exc:
        return f"{type(cause).__name__}: {cause}{where}"
    text = re.sub(r"<[\w.]+ object at 0x[0-9a-f]+>\.?\s*", "", str(exc)).strip()
    return text or f"the engine stopped with {type(exc).__name__}"


def _lock_case(session: Session, case_id: int, skip_locked: bool = False) -> Case | None:
    """Lock the case's row for this transaction and read it fresh.

    On PostgreSQL a writer waits here for the one before it (or, with `skip_locked`, gets None and
    goes on to other work). SQLite has no row locks: its transactions hold the write lock already.
    """
    return session.scalars(
        select(Case).where(Case.id == case_id).with_for_update(skip_locked=skip_locked)
        .execution_options(populate_existing=True)
    ).one_or_none()


_LOCKED = "dhr.locked_tasks"  # in session.info: (transaction, {task id: its case, read under the case's lock})


def lock_task(session: Session, task_id: str) -> tuple[Case, OpenTask] | None:
    """Lock the case of an open task and read both fresh, once per transaction: (case, task), or None
    if the task is not open (completed, withdrawn, never was).

    A request that completes a task calls this first, so its checks and the unit of work read each
    row once; what waited for the lock reads the task as the writer before it left it.
    """
    transaction = session.get_transaction()
    cached = session.info.get(_LOCKED)
    if cached is None or cached[0] is not transaction:
        cached = session.info[_LOCKED] = (transaction, {})
    read_under_lock: dict[str, Case] = cached[1]  # held here, so the session keeps them
    case = read_under_lock.get(task_id)
    if case is not None:  # the session holds the task as this transaction left it (None once deleted)
        task = session.get(OpenTask, task_id)
        return (case, task) if task is not None else None
    case = session.scalars(
        select(Case).where(Case.id == select(OpenTask.case_id).where(OpenTask.id == task_id).scalar_subquery())
        .with_for_update().execution_options(populate_existing=True)
    ).one_or_none()
    if case is None:
        return None
    task = session.get(OpenTask, task_id, populate_existing=True)  # as the writer before us left it
    if task is None:
        return None
    read_under_lock[task_id] = case
    return case, task


def _locked_case(session: Session, case_id: int) -> Case:
    case = _lock_case(session, case_id)
    if case is None:
        raise NotFound(f"case {case_id} does not exist")
    return case


def get_case(session: Session, reference: str) -> Case:
    """Raises: NotFound."""
    case = session.scalars(select(Case).where(Case.reference == reference)).one_or_none()
    if case is None:
        raise NotFound(f"there is no case '{reference}'")
    return case


# ---------------------------------------------------------------------------------------------
# Units of work


def start_case(
    session: Session,
    *,
    process_id: str,
    pseudonym: str,
    year: int,
    data: dict[str, Any] | None,
    actor: str | User,
    clock: Clock,
) -> Case:
    """Start a case on the newest version of `process_id`, named `Pseudonym/Year`; its first tasks
    see `case_reference`, `case_pseudonym` and `case_year` (and `data`). `actor` is a person, who
    must hold the power to start cases (the web page, `dhr cases start --as`), or the name of a
    trusted door (the operator's command line, the demo).

    Raises:
        NotAllowed: the person may not start cases;
        FormDataInvalid: on `pseudonym` (not usable, or the name is taken) or `year` (before 1990 or
            after this year); NotFound: no such process.
    """
    if isinstance(actor, User):
        if not may(actor, Power.START_CASES):
            raise NotAllowed(f"{actor.username} ({actor.role}) may not start a case: "
                             f"only the {' or '.join(having(Power.START_CASES))} record new notifications")
        actor = actor.username
    pseudonym = pseudonym.strip()
    problems = {}
    if not pseudonym:
        problems["pseudonym"] = "Enter the pseudonym"
    elif "/" in pseudonym or len(pseudonym) > 100:
        problems["pseudonym"] = "The pseudonym must be 1 to 100 characters without '/'"
    this_year = london_day(clock.now()).year
    if year > this_year:  # the year of a death that is being reviewed: never one to come
        problems["year"] = f"The year must be {this_year} or earlier"
    elif year < 1990:
        problems["year"] = f"The year {year} is not a plausible year"
    refuse(problems)
    reference = f"{pseudonym}/{year}"
    if session.scalars(select(Case.id).where(Case.reference == reference)).first() is not None:
        raise FormDataInvalid({"pseudonym": f"A case called {reference} already exists"})
    version = newest_version(session, process_id)
    bundle = bundle_for(session, version.id)
    spec, subprocess_specs = serialization.new_specs(bundle.pristine(process_id))
    now = clock.now()

    workflow = BpmnWorkflow(spec, subprocess_specs, script_engine=serialization.SCRIPT_ENGINE)
    initial = {"case_reference": reference, "case_pseudonym": pseudonym, "case_year": year, **(data or {})}

    def seed() -> None:
        for task in workflow.get_tasks(state=TaskState.READY):
            task.data.update(initial)

    _run_engine(workflow, clock, seed)
    case = Case(
        reference=reference, pseudonym=pseudonym, year=year, process_id=process_id, version_id=version.id,
        status="open", stage=bundle.process_name(process_id),
        state=serialization.dumps(workflow, bundle.pristine(process_id)),
        serializer_version=serialization.STATE_VERSION,
        started_at=now, updated_at=now, completed_at=None, deadline_on=None, facts={},
    )
    session.add(case)
    try:
        session.flush()
    except IntegrityError as exc:
        raise FormDataInvalid({"pseudonym": f"A case called {reference} already exists"}) from exc
    record(session, AuditType.CASE_STARTED, actor=actor, at=now, case_id=case.id,
           details={"process": process_id, "version": version.id, "data": sorted(initial)})
    _save(session, case, workflow, bundle, actor=actor, now=now)
    return case


def _completed_by(session: Session, task_id: str) -> AuditEvent | None:
    return session.scalars(
        select(AuditEvent)
        .where(AuditEvent.task_id == task_id, AuditEvent.event_type.in_(
            [AuditType.TASK_COMPLETED.value, AuditType.TASK_CANCELLED.value]))
        .order_by(AuditEvent.id.desc())
    ).first()


def _gone(session: Session, task_id: str) -> DhrError:
    event = _completed_by(session, task_id)
    if event is None:
        return NotFound(f"there is no open task {task_id}")
    if event.event_type == AuditType.TASK_CANCELLED.value:
        return Conflict(f"The task '{event.task_name}' was withdrawn at {event.at:%Y-%m-%d %H:%M:%S} UTC "
                        "(the case moved on); your change was not applied.")
    return TaskAlreadyCompleted(event.task_name or task_id, event.actor, event.at)


def may_complete(user: User, task: OpenTask) -> bool:
    """Whether a user's role is the lane of the task (the role half of `work_refusal`)."""
    return in_lane(user, task.lane)


def work_refusal(session: Session, user: User, task: OpenTask, *, claiming: bool = False) -> str | None:
    """Why `user` may not work on `task` (complete it, claim it, keep a draft of it), or None if they
    may: their role must be its lane, they must be allowed to see its case, nobody else may hold it
    (unless `claiming`, where a claim by another is a conflict, said by the caller), and the rules
    features add (`events.add_work_rule`) must not refuse them.
    Every door (web, CLI, scheduler) is held to this one rule, because the engine applies it.
    """
    if not may_complete(user, task):
        whose = f"a task for the {task.lane}" if task.lane else "a task in no lane, which no role can do"
        if not user.active:
            return f"{user.username}'s account is disabled"
        return f"{user.username} ({user.role}) may not complete '{task.title}', {whose}"
    outsider = not_member_reason(session, user, task.case_id)
    if outsider is not None:
        return outsider
    if not claiming and task.claimed_by not in (None, user.username):
        return f"'{task.title}' is claimed by {task.claimed_by}"
    return events.work_refusal(session, user, task)


def complete_task(session: Session, task_id: str, data: dict[str, Any], *, user: User, clock: Clock) -> Case:
    """Validate `data` against the task's form and complete the task as `user`.

    Files (data URLs, or `document:<id>` of a document on the case) are stored in the document
    table in this unit of work; the task's data gets references to them.

    Raises:
        FormDataInvalid, NotAllowed, NotFound, TaskAlreadyCompleted, Conflict, ScriptError.
    """
    locked = lock_task(session, task_id)
    if locked is None:
        raise _gone(session, task_id)
    case, task_row = locked
    refusal = work_refusal(session, user, task_row)
    if refusal is not None:
        raise NotAllowed(refusal)
    bundle = bundle_for(session, case.version_id)
    schema = bundle.forms.get(task_row.form) if task_row.form else None
    clean = validate_submission(schema, data, london_day(clock.now()))

    workflow = load_workflow(case, session)
    task = workflow.get_task_from_id(UUID(task_id))
    if task is None or task.state != TaskState.READY:
        raise Conflict(f"the task '{task_row.title}' is not ready any more; reload the case")
    now = clock.now()
    # Uploaded files go to the document table; the task's data (and so the audit) hold references.
    clean = documents.take_uploads(session, case.id, schema, clean, uploaded_by=user.username, at=now,
                                   task_id=task_id)
    changed = {key: [task.data.get(key), value] for key, value in clean.items() if task.data.get(key) != value}

    def run() -> None:
        task.data.update(clean)
        task.run()

    _run_engine(workflow, clock, run)
    changed = confidential.deployed(session).seal_changes(changed, case.id)  # a name never enters the trail
    record(session, AuditType.TASK_COMPLETED, actor=user.username, at=now, case_id=case.id, task_id=task_id,
           task_name=task_row.title, details={"bpmn_id": task_row.bpmn_id, "lane": task_row.lane, "changed": changed})
    events.publish(events.TaskCompleted(session, case, task, user.username, now))
    _save(session, case, workflow, bundle, actor=user.username, now=now, finished_task=task_id)
    return case


def send_message(
    session: Session, reference: str, name: str, payload: Any, *, actor: str, clock: Clock
) -> Case:
    """Deliver message `name` with `payload` to a case.

    Raises:
        NotFound, NothingWaiting, ScriptError.
    """
    case = _locked_case(session, get_case(session, reference).id)
    bundle = bundle_for(session, case.version_id)
    workflow = load_workflow(case, session)
    now = clock.now()

    def deliver() -> None:
        correlations = _correlations(workflow, name, payload)
        try:
            workflow.send_event(BpmnEvent(MessageEventDefinition(name), payload, correlations))
        except WorkflowException as exc:
            waiting = sorted({e.name for e in workflow.waiting_events() if e.event_type == "MessageEventDefinition"})
            if name in waiting:
                values = "; ".join(f"{prop} = {value!r}" for key in correlations.values()
                                   for prop, value in key.items())
                raise NothingWaiting(f"case '{reference}' is waiting for '{name}', but not for one with "
                                     f"{values or 'no correlation values'}") from exc
            listing = ", ".join(waiting) if waiting else "no message at all"
            raise NothingWaiting(
                f"case '{reference}' is not waiting for '{name}' (it is waiting for {listing})") from exc

    try:
        _run_engine(workflow, clock, deliver)
    except NothingWaiting:
        WORKFLOWS.put(case.id, case.state, workflow)  # nothing was changed: keep it for the next writer
        raise
    if isinstance(payload, dict):  # a form's answers, sent on: their confidential values stay out too
        secret = confidential.deployed(session)
        payload = {key: secret.seal(key, value, case.id) for key, value in payload.items()}
    record(session, AuditType.MESSAGE_RECEIVED, actor=actor, at=now, case_id=case.id,
           details={"message": name, "payload": payload})
    _save(session, case, workflow, bundle, actor=actor, now=now)
    return case


def _correlations(workflow: BpmnWorkflow, name: str, payload: Any) -> dict[str, Any]:
    """The correlation keys a sender of `payload` would compute, by the properties of the events
    waiting for message `name` (SpiffWorkflow matches them against the case's keys).

    Raises:
        ScriptError: the payload lacks what a correlation property reads.
    """
    found: dict[str, Any] = {}
    for task in workflow.get_tasks(state=TaskState.WAITING):
        event = getattr(task.task_spec, "event_definition", None)
        for each in event.event_definitions if isinstance(event, MultipleEventDefinition) else [event]:
            if not isinstance(each, AnyMessage) or each.name != name or not each.correlation_properties:
                continue
            label = task.task_spec.bpmn_name or task.task_spec.bpmn_id
            if not isinstance(payload, dict):
                raise ScriptError(label, f"the message '{name}' must carry an object whose values its correlation "
                                         "reads")
            try:
                found.update(each.calculate_correlations(workflow.script_engine, each.correlation_properties,
                                                         payload))
            except DhrError:
                raise
            except Exception as exc:
                raise ScriptError(label, f"the correlation of message '{name}' cannot be read from its payload: "
                                         f"{_plain_cause(exc)}") from exc
    return found


def fire_timer(
    session: Session, timer_id: str, *, clock: Clock, actor: str = SYSTEM_ACTOR, skip_locked: bool = False
) -> bool:
    """Fire one due timer in this unit of work; False if it is gone, not due, or (with
    `skip_locked`) its case is being changed by someone else right now.

    The case's row lock is the claim: a second scheduler either skips the case or, once the first
    has committed, finds the timer gone. The diagram sees the time the timer was due, so a timer
    fired late (the scheduler was down) starts what follows it on the diagram's schedule, and no
    later timer fires in the same unit.
    """
    row = session.get(Timer, timer_id)
    if row is None:
        return False
    case = _lock_case(session, row.case_id, skip_locked=skip_locked)
    if case is None:
        return False
    row = session.get(Timer, timer_id, populate_existing=True)
    now = clock.now()
    if row is None or row.status != "waiting" or row.due_at > now or (
            row.next_attempt_at is not None and row.next_attempt_at > now):
        return False
    bundle = bundle_for(session, case.version_id)
    workflow = load_workflow(case, session)
    task = workflow.get_task_from_id(UUID(timer_id))
    if task is None or task.state != TaskState.WAITING:
        _save(session, case, workflow, bundle, actor=actor, now=now)  # the projection was stale
        return False
    due = row.due_at
    cycle = isinstance(task.task_spec.event_definition, CycleTimerEventDefinition)
    diagram_clock = SettableClock(due + timedelta(microseconds=1) if cycle else due)

    def fire() -> None:
        if not cycle:  # SpiffWorkflow fires only when strictly past due; "at or before" is ours
            task._set_internal_data(event_fired=True)
        workflow.refresh_timers()

    _run_engine(workflow, diagram_clock, fire)
    record(session, AuditType.TIMER_FIRED, actor=actor, at=now, case_id=case.id, task_id=timer_id,
           task_name=row.title, details={"bpmn_id": row.bpmn_id, "due_at": due.isoformat(),
                                         "late_by_seconds": (now - due).total_seconds()})
    _save(session, case, workflow, bundle, actor=actor, now=now, fired_timer=timer_id)
    return True


def upgrade_case(session: Session, case_id: int, *, clock: Clock, actor: str = SYSTEM_ACTOR) -> bool:
    """Bring a case stored in an older state format to the current one, repairing what that format
    lost, and let it run on; False if it is current already.

    A case that stalled because of what the old format lost moves on here.
    """
    case = _locked_case(session, case_id)
    if case.serializer_version == serialization.STATE_VERSION:
        return False
    bundle = bundle_for(session, case.version_id)
    workflow = load_workflow(case, session)  # repairs as it loads
    _run_engine(workflow, clock)
    record(session, AuditType.CASE_UPGRADED, actor=actor, at=clock.now(), case_id=case.id,
           details={"format": serialization.FORMAT})
    _save(session, case, workflow, bundle, actor=actor, now=clock.now())
    return True


def retry_case(session: Session, reference: str, *, user: User, clock: Clock, newest: bool = False) -> Case:
    """Run a case's engine steps again, on its own version or (`newest`) on the newest deployed
    version of its process: what a process owner does after fixing the diagram of a stalled case.

    Raises:
        NotAllowed: the user is not a process owner; NotFound; DhrError: the newest version lacks a
        step the case is at; ScriptError.
    """
    if not may(user, Power.RETRY_CASES):
        raise NotAllowed(f"only a process owner may retry a case; {user.username} is {user.role}")
    case = _locked_case(session, get_case(session, reference).id)
    if case.status != "open":
        raise DhrError(f"case '{reference}' is {case.status}; only an open case can be retried")
    old_version = case.version_id
    version_id = newest_version(session, case.process_id).id if newest else case.version_id
    bundle = bundle_for(session, version_id)
    if version_id == case.version_id:
        workflow = load_workflow(case, session)
    else:
        workflow = serialization.loads(case.state, bundle_for(session, case.version_id).pristine(case.process_id),
                                       repin=bundle.pristine(case.process_id))
        case.version_id = version_id
    now = clock.now()

    def nudge() -> None:  # let waiting steps (a join, say) look again; timers are left to fire when due
        for task in workflow.get_tasks(state=TaskState.WAITING):
            if getattr(task.task_spec, "event_definition", None) is None:
                task.task_spec._update(task)

    _run_engine(workflow, clock, nudge)
    record(session, AuditType.CASE_RETRIED, actor=user.username, at=now, case_id=case.id,
           details={"version": [old_version, version_id], "was_stalled": case.stalled_reason})
    _save(session, case, workflow, bundle, actor=user.username, now=now)
    return case


def upgrade_cases(sessions: sessionmaker[Session], clock: Clock) -> list[str]:
    """Upgrade every open case stored in an older state format, each in its own unit of work;
    return their references."""
    with sessions() as session:
        candidates = list(session.execute(select(Case.id, Case.reference).where(
            Case.status == "open", Case.serializer_version != serialization.STATE_VERSION)))
    done = []
    for case_id, reference in candidates:
        with unit_of_work(sessions) as session:
            if upgrade_case(session, case_id, clock=clock):
                done.append(reference)
    return done


def stalled_cases(session: Session) -> list[Case]:
    """Open cases that nothing can move on, longest stalled first."""
    return list(session.scalars(select(Case).where(Case.status == "open", Case.stalled_at.is_not(None))
                                .order_by(Case.stalled_at, Case.id)))
