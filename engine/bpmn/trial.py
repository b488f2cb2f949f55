"""Try a draft before it is live: run one case of it on a simulated clock, in a database of its own.

The trial uses the real runtime (deploy, start, complete, fire timers) and the features that listen
to it (letters, e-mail, the register), but against a fresh in-memory SQLite database: nothing it
does can reach a real case, report or e-mail, and e-mails only ever sit in that database's outbox.
Open tasks are answered with example answers from their forms (or the caller's, by task id or form
file), timers fire through the scheduler's own `run_due` as the trial clock reaches them, until the
period asked for has passed. The timeline is read back from that database's audit trail, outbox,
letters and stages. The same draft, data, start and period always give the same timeline, so a page
can replay a trial at every request and nothing of it needs keeping.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from typing import Any

from dateutil.relativedelta import relativedelta
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from ..platform import access, events, users
from ..platform.audit import AuditType
from ..platform.calendar import LONDON, london_day, parse_day
from ..platform.clock import SettableClock, parse_duration
from ..platform.db import make_engine, session_factory, unit_of_work
from ..platform.errors import DhrError, FormDataInvalid, NotAllowed
from ..platform.models import AuditEvent, AuditHead, Base, Case, CaseStage, OpenTask, ProcessVersion
from ..platform.notifications import OutboxMessage
from ..platform.roles import Role
from ..platform.settings import caches_kept
from . import runtime
from .forms import example_answers as plain_answers
from .library import FORM_PROPERTY, Bundle
from .timers import next_wake, run_due

ACTOR = "trial"
MAX_STEPS = 3000  # answers and firings in one trial: an endless loop of quick steps stops here
MAX_ROUNDS = 20  # answers to one task of the diagram: more, and the example answers send the case round a loop
ANSWER_AFTER = "P7D"  # by default a task is answered a week after it opens, or when it is due if that is sooner
# Version ids of the scratch database start here, so a cached parse of a trial's draft can never be
# mistaken for a real version's (the runtime caches by version id, checked by content hash anyway).
FIRST_VERSION_ID = 2**62
AFTER, SKIP = "@after", "@skip"  # in an entry of the example data: answer that long after it opens / never
START = "@start"  # in the example data: the variables the case starts with

# Features add what they write (letters...) to the timeline: each source gives the entries of a case.
Source = Callable[[Session, int, dict[str, str]], Iterable["TrialEvent"]]
_sources: list[Source] = []


def add_timeline_source(source: Source) -> None:
    """Add to every trial's timeline what `source(session, case_id, task_elements)` reads from the
    scratch database (`task_elements`: task id -> its element id)."""
    if source not in _sources:
        _sources.append(source)


@dataclass(frozen=True)
class TrialEvent:
    """One line of the timeline: what happens (or would fire) when, on which element, for whom."""

    at: datetime  # UTC; for a deadline, 09:00 London on its day
    kind: str  # started, stage, task, timer, deadline, email, letter, message, stalled, error, end
    what: str
    element: str | None = None
    lane: str | None = None
    note: str = ""  # how it stands: "answered at once", "cancelled on ...", "after the trial"
    happened: bool = True  # False: due after the end of the trial, or cancelled before it fell due
    done_at: datetime | None = None  # a task: when the trial answered it

    @property
    def day(self) -> str:
        """The London day it happens, YYYY-MM-DD."""
        return london_day(self.at).isoformat()

    def as_json(self) -> dict[str, Any]:
        return {"at": self.at.isoformat(), "day": self.day, "kind": self.kind,
                "what": self.what, "element": self.element, "lane": self.lane, "note": self.note,
                "happened": self.happened, "done_at": self.done_at.isoformat() if self.done_at else None}


@dataclass
class Trial:
    process_id: str
    started_at: datetime
    ends_at: datetime
    events: list[TrialEvent] = field(default_factory=list)
    deadline: date | None = None  # the case's deadline when the trial ends
    error: str | None = None  # why the trial stopped early (a script failed, an answer was refused)
    steps: int = 0
    seconds: float = 0.0

    @property
    def passed(self) -> list[str]:
        """The elements the trial went through (in the order it first reached them)."""
        seen: dict[str, None] = {}
        for event in self.events:
            if event.element and event.happened:
                seen.setdefault(event.element)
        return list(seen)

    def as_json(self) -> dict[str, Any]:
        return {"process": self.process_id, "started_at": self.started_at.isoformat(),
                "ends_at": self.ends_at.isoformat(), "deadline": self.deadline.isoformat() if self.deadline else None,
                "error": self.error, "steps": self.steps, "seconds": round(self.seconds, 3),
                "passed": self.passed, "events": [e.as_json() for e in self.events]}


_PERIOD = re.compile(r"^\s*(\d{1,4})\s*(day|week|month|year)s?\s*$", re.IGNORECASE)


def parse_period(text: str) -> relativedelta:
    """'18 months', '400 days', '2 years', '6 weeks' or an ISO 8601 duration (P18M) as calendar arithmetic.

    Raises:
        DhrError: none of these.
    """
    match = _PERIOD.match(text or "")
    if match:
        number, unit = int(match.group(1)), match.group(2).lower()
        period = relativedelta(**{unit + "s": number})  # type: ignore[arg-type]
    else:
        try:
            period = parse_duration(text or "")
        except DhrError:
            raise DhrError(f"'{text}' is not a period such as '18 months', '400 days' or P18M") from None
    if period == relativedelta():
        raise DhrError("the trial must run for some time, such as '18 months'")
    if london_day(datetime(2026, 1, 1, tzinfo=LONDON) + period).year > 2036:
        raise DhrError("a trial runs for at most ten years")
    return period


@dataclass(frozen=True)
class _Element:
    name: str
    lane: str | None
    form: str | None
    deadline: bool  # a timer marked `caseDeadlineDate`: it stands for the case's deadline


def _elements(bundle: Bundle, process_id: str) -> dict[str, _Element]:
    """Every element of the process and of the processes it calls: its name, lane and form."""
    spec, subprocesses = bundle.specs(process_id)
    found: dict[str, _Element] = {}
    for each in (spec, *subprocesses.values()):
        for task_spec in each.task_specs.values():
            bpmn_id = getattr(task_spec, "bpmn_id", None)
            if bpmn_id and bpmn_id not in found:
                props = (getattr(task_spec, "extensions", None) or {}).get("properties", {})
                deadline = (runtime.DEADLINE_PROPERTY in props
                            and getattr(task_spec, "event_definition", None) is not None)
                found[bpmn_id] = _Element(task_spec.bpmn_name or bpmn_id, getattr(task_spec, "lane", None),
                                          props.get(FORM_PROPERTY), deadline)
    return found


def _top_processes(bundle: Bundle) -> list[str]:
    called = {c for p in bundle.process_ids for c in bundle.stage_ids(p)}
    return [p for p in bundle.process_ids if p not in called]


def choose_process(bundle: Bundle, process_id: str | None = None, edited_file: str | None = None) -> str:
    """The process a trial starts: the one asked for, else the only process no other calls, else the one
    of those defined in (or calling what is defined in) `edited_file`.

    Raises:
        DhrError: no such process, or several could be meant.
    """
    tops = _top_processes(bundle)
    if process_id:
        if process_id not in bundle.process_ids:
            raise DhrError(f"there is no process '{process_id}' in these files "
                           f"(there are: {', '.join(bundle.process_ids)})")
        return process_id
    if len(tops) == 1:
        return tops[0]
    if edited_file:
        mine = {p for p, f in bundle.process_files.items() if f == edited_file}
        for top in tops:
            reach, todo = set(), [top]
            while todo:
                current = todo.pop()
                if current not in reach:
                    reach.add(current)
                    todo.extend(bundle.stage_ids(current))
            if reach & mine:
                return top
    raise DhrError(f"say which process to try: {', '.join(tops) or ', '.join(bundle.process_ids)}")


def _entry(data: dict[str, Any], task: OpenTask) -> dict[str, Any]:
    """The example data given for a task: by its element id, else by its form file (with or without
    the folder and `.schema.json`)."""
    if task.bpmn_id in data:
        return dict(data[task.bpmn_id])
    if task.form:
        base = task.form.rsplit("/", 1)[-1]
        for key in (task.form, base, base.removesuffix(".json"), base.removesuffix(".schema.json")):
            if key in data:
                return dict(data[key])
    return {}


def _check_data(data: Any, bundle: Bundle, elements: dict[str, _Element]) -> dict[str, Any]:
    """Refuse example data that could not be meant for these files (a misspelt task id, say).

    Raises:
        DhrError: the data is not an object of objects, or names no task or form of the files.
    """
    if data is None:
        return {}
    if not isinstance(data, dict) or not all(isinstance(v, dict) for v in data.values()):
        raise DhrError('the example data must be a JSON object of task ids (or form files) to answers, '
                       'such as {"decide_on_review": {"review_type": "DHR"}}')
    forms = set()
    for path in bundle.forms:
        base = path.rsplit("/", 1)[-1]
        forms |= {path, base, base.removesuffix(".json"), base.removesuffix(".schema.json")}
    unknown = [key for key in data if key != START and key not in forms
               and (key not in elements or elements[key].lane is None and elements[key].form is None)]
    if unknown:
        raise DhrError(f"the example data names no task or form of these files: {', '.join(sorted(unknown))}")
    for key, entry in data.items():
        if AFTER in entry:
            try:
                parse_duration(str(entry[AFTER]))
            except DhrError as exc:
                raise DhrError(f"{key}: {AFTER}: {exc}") from None
    return data


def _scratch() -> sessionmaker[Session]:
    """A fresh in-memory database with the whole schema (the features' tables too)."""
    events.projected()  # load the features first: their tables join the metadata, their listeners the bus
    engine = make_engine("sqlite://", poolclass=StaticPool)
    Base.metadata.create_all(engine)
    sessions = session_factory(engine)
    with unit_of_work(sessions) as session:
        session.add(AuditHead(id=1, last_id=0, last_hash="0" * 64))
        # a placeholder version, so the draft's version id is one no real database has
        session.add(ProcessVersion(id=FIRST_VERSION_ID - 1, content_hash="trial placeholder", process_ids=[],
                                   deployed_at=datetime(2000, 1, 1, tzinfo=LONDON), deployed_by=ACTOR))
    return sessions


def _people(session: Session, clock: SettableClock, lanes: set[str]) -> dict[str, users.User]:
    """One trial user for each role that has a lane in the diagrams, with an address in the scratch outbox."""
    people = {}
    for lane in sorted(lanes):
        role = Role.named(lane)
        if role is None or role.is_office:
            continue
        slug = re.sub(r"[^a-z0-9]+", ".", role.value.lower()).strip(".")
        people[role.value] = users.add_user(session, f"trial.{slug}", role=role.value, agency="Trial",
                                            password=None, actor=ACTOR, clock=clock, email=f"{slug}@trial.invalid")
    return people


def run_trial(files: dict[str, str], *, until: str | relativedelta, start: datetime,
              data: Any = None, process_id: str | None = None,
              edited_file: str | None = None, answer_after: str = ANSWER_AFTER) -> Trial:
    """Run one case of the draft `files` from `start` for the period `until` and return its timeline.

    Each open task is answered `answer_after` (an ISO 8601 duration) after it opens, or when it is due if
    that is sooner, with example answers from its form and those `data` gives for it (by task id or form
    file); an entry's `@after` answers that task that long after it opens instead, `@skip` never, so its
    reminders and escalations show. `data["@start"]` holds the variables the case starts with.

    Raises:
        DiagramInvalid: a file does not validate; DhrError: the period, the process or the example data
        cannot be used. A case that fails on the way (a script, an answer its form refuses) is not an
        error: the trial stops there and says why in `error` and its last event.
    """
    # a trial never outlives this call and no later process resumes it: it keeps the caches a server
    # keeps (its case and diagrams stay loaded from step to step) whatever DHR_RESTART_EACH_STEP says
    with caches_kept():
        began = time.perf_counter()
        period = parse_period(until) if isinstance(until, str) else until
        try:
            default_after = parse_duration(answer_after)
        except DhrError as exc:
            raise DhrError(f"answer after: {exc.message}") from None
        clock = SettableClock(start)
        sessions = _scratch()
        with unit_of_work(sessions) as session:
            version, _ = runtime.deploy(session, files, actor=ACTOR, clock=clock)  # validates: DiagramInvalid
            bundle = runtime.bundle_for(session, version.id)
            process_id = choose_process(bundle, process_id, edited_file)
            elements = _elements(bundle, process_id)
            data = _check_data(data, bundle, elements)
            people = _people(session, clock, {e.lane for e in elements.values() if e.lane})
            case = runtime.start_case(session, process_id=process_id, pseudonym="Trial", year=london_day(start).year,
                                      data=dict(data.get(START, {})), actor=ACTOR, clock=clock)
            for user in people.values():
                if not access.is_case_wide(user):
                    access.add_member(session, case, user, actor=ACTOR, at=clock.now())
            case_id = case.id
        trial = Trial(process_id=process_id, started_at=clock.now(), ends_at=clock.now() + period)
        deadlines: list[tuple[datetime, date | None]] = []
        try:
            _run(trial, sessions, clock, case_id, data, people, deadlines, default_after)
        finally:
            runtime.WORKFLOWS.take(case_id, "")  # drop the trial's workflow from the runtime's cache
        with sessions() as session:
            trial.events = _timeline(session, trial, case_id, elements, deadlines)
            trial.deadline = session.get(Case, case_id).deadline_on  # type: ignore[union-attr]
        sessions.kw["bind"].dispose()
        trial.seconds = time.perf_counter() - began
        return trial


def _run(trial: Trial, sessions: sessionmaker[Session], clock: SettableClock, case_id: int,
         data: dict[str, Any], people: dict[str, users.User], deadlines: list[tuple[datetime, date | None]],
         default_after: relativedelta) -> None:
    """Answer tasks and fire timers in time order until the trial's end, or until the case ends or fails."""
    cannot: dict[str, str] = {}  # task id -> why the trial leaves it open
    rounds: dict[str, int] = {}  # element id -> answers given
    for _ in range(MAX_STEPS):
        with sessions() as session:
            case = session.get(Case, case_id)
            assert case is not None
            if not deadlines or deadlines[-1][1] != case.deadline_on:
                deadlines.append((clock.now(), case.deadline_on))
            if case.status != "open":
                return
            tasks = list(session.scalars(select(OpenTask).where(OpenTask.case_id == case_id)
                                         .order_by(OpenTask.created_at, OpenTask.bpmn_id)))
            answers = []
            for task in tasks:
                entry = _entry(data, task)
                if task.id in cannot or entry.get(SKIP):
                    continue
                if AFTER in entry:
                    when = task.created_at + parse_duration(str(entry[AFTER]))
                else:
                    when = task.created_at + default_after
                    if task.due_at is not None:
                        when = max(min(when, task.due_at), task.created_at)
                answers.append((when, task.id, task.bpmn_id, task.title))
            next_answer = min(answers, default=None)
            next_timer = next_wake(session)
        moments = [m for m in (next_answer[0] if next_answer else None, next_timer) if m is not None]
        if not moments or min(moments) > trial.ends_at:
            return
        if min(moments) > clock.now():
            clock.set(min(moments))
        trial.steps += 1
        if next_answer is not None and next_answer[0] <= clock.now():
            rounds[next_answer[2]] = rounds.get(next_answer[2], 0) + 1
            if rounds[next_answer[2]] > MAX_ROUNDS:
                trial.error = (f"'{next_answer[3]}' ({next_answer[2]}) came round {MAX_ROUNDS} times: the example "
                               "answers send the case round a loop; give other answers for it in the example data")
                return
            problem = _answer(sessions, clock, next_answer[1], data, people, cannot)
        else:
            fired = run_due(sessions, clock, actor=ACTOR)
            failed = next((f for f in fired if f.error), None)
            problem = f"the timer '{failed.title}' failed: {failed.error}" if failed else None
        if problem:
            trial.error = problem
            return
    trial.error = f"the trial stopped after {MAX_STEPS} steps: does the diagram loop without waiting?"


def _answer(sessions: sessionmaker[Session], clock: SettableClock, task_id: str, data: dict[str, Any],
            people: dict[str, users.User], cannot: dict[str, str]) -> str | None:
    """Complete a task with its example answers; why the trial must stop, if it must."""
    with sessions() as session:
        task = session.get(OpenTask, task_id)
        assert task is not None
        bundle = runtime.bundle_for(session, session.scalars(select(Case.version_id)
                                                             .where(Case.id == task.case_id)).one())
        schema = bundle.forms.get(task.form) if task.form else None
        entry = {k: v for k, v in _entry(data, task).items() if not k.startswith("@")}
        title, bpmn_id, lane = task.title, task.bpmn_id, task.lane
    try:
        answers = {**example_answers(schema, london_day(clock.now())), **entry} if schema else entry
    except (ValueError, KeyError, DhrError) as exc:
        return f"no example answer can be made for '{title}' ({bpmn_id}): {exc}; give one in the example data"
    user = people.get(Role.named(lane).value if Role.named(lane) else "")  # type: ignore[union-attr]
    if user is None:
        cannot[task_id] = f"no role works in the lane '{lane}'"
        return None
    try:
        with unit_of_work(sessions) as session:
            runtime.complete_task(session, task_id, answers, user=session.merge(user), clock=clock)
    except FormDataInvalid as exc:
        problems = "; ".join(f"{k or 'form'}: {v}" for k, v in exc.errors.items())
        return (f"the example answers to '{title}' ({bpmn_id}) were refused ({problems}); give answers for it in "
                f'the example data, e.g. {{"{bpmn_id}": {{...}}}}')
    except NotAllowed as exc:
        cannot[task_id] = exc.message
        return None
    except DhrError as exc:
        return f"'{title}' ({bpmn_id}) could not be completed: {exc.message}"
    return None


def example_answers(schema: dict[str, Any], today: date) -> dict[str, Any]:
    """The answers a trial gives to a form's required questions: the field's `x-example` (for a date, a
    date or an ISO 8601 duration from today, such as P1M), else its first `examples` value, else the
    plainest valid answer: the first choice, yes to a yes/no question, today for a date.

    Raises:
        DhrError: an `x-example` duration that is not one.
    """
    return {name: _example(schema["properties"][name], today) for name in schema.get("required", [])}


def _example(node: dict[str, Any], today: date) -> Any:
    if "x-example" in node:
        value = node["x-example"]
        if node.get("format") == "date" and isinstance(value, str) and value.upper().startswith(("P", "-P")):
            sign = -1 if value.startswith("-") else 1
            return (today + sign * parse_duration(value.lstrip("-"))).isoformat()
        return value
    if node.get("examples"):
        return node["examples"][0]
    if node.get("type") == "array" and "enum" not in node.get("items", {}):
        return [_example(node["items"], today) for _ in range(max(node.get("minItems", 1), 1))]
    if node.get("type") == "object":
        return example_answers(node, today)
    return plain_answers({"properties": {"x": node}, "required": ["x"]}, today.isoformat())["x"]


def _timeline(session: Session, trial: Trial, case_id: int, elements: dict[str, _Element],
              deadlines: list[tuple[datetime, date | None]]) -> list[TrialEvent]:
    """Read what happened in the scratch database back as one list in time order."""
    end = trial.ends_at
    audit = list(session.scalars(select(AuditEvent).where(AuditEvent.case_id == case_id).order_by(AuditEvent.id)))
    out: list[TrialEvent] = []
    tasks: dict[str, dict[str, Any]] = {}
    timers: dict[str, dict[str, Any]] = {}
    task_elements: dict[str, str] = {}

    def element(bpmn_id: str | None) -> tuple[str | None, str | None]:
        found = elements.get(bpmn_id or "")
        return bpmn_id, found.lane if found else None

    for event in audit:
        details = event.details or {}
        kind = event.event_type
        if kind == AuditType.CASE_STARTED:
            out.append(TrialEvent(event.at, "started", f"Case started on '{trial.process_id}'"))
        elif kind == AuditType.TASK_CREATED and event.task_id:
            task_elements[event.task_id] = details.get("bpmn_id") or ""
            tasks[event.task_id] = {"at": event.at, "title": event.task_name, "bpmn_id": details.get("bpmn_id"),
                                    "lane": details.get("lane"), "due": details.get("due_at"), "end": None}
        elif kind in (AuditType.TASK_COMPLETED, AuditType.TASK_CANCELLED) and event.task_id in tasks:
            tasks[event.task_id]["end"] = (kind, event.at)
        elif kind == AuditType.TIMER_SET and event.task_id:
            timers[event.task_id] = {"title": event.task_name, "bpmn_id": details.get("bpmn_id"),
                                     "due": datetime.fromisoformat(details["due_at"]), "end": None, "set": event.at}
        elif kind == AuditType.TIMER_RESCHEDULED and event.task_id in timers:
            timers[event.task_id]["due"] = datetime.fromisoformat(details["due_at"][1])
        elif kind in (AuditType.TIMER_FIRED, AuditType.TIMER_CANCELLED) and event.task_id in timers:
            timers[event.task_id]["end"] = (kind, event.at)
        elif kind == AuditType.MESSAGE_RECEIVED:
            out.append(TrialEvent(event.at, "message", f"Message '{details.get('message')}' received"))
        elif kind == AuditType.CASE_STALLED:
            out.append(TrialEvent(event.at, "stalled", "The case stalled: " + str(details.get("reason", ""))))
        elif kind == AuditType.CASE_COMPLETED:
            out.append(TrialEvent(event.at, "end", "The case is closed"))

    mailed: dict[str, list[str]] = {}  # task id -> who was e-mailed that it opened
    for message in _outbox(session, case_id):
        task_id = message["task_id"]
        if task_id in tasks:
            mailed.setdefault(task_id, []).append(message["recipient"])
        else:
            out.append(TrialEvent(message["at"], "email", message["subject"], None, message["lane"],
                                  f"to {message['recipient']} (kept in the trial, never sent)"))
    for task_id, info in tasks.items():
        bpmn_id, lane = element(info["bpmn_id"])
        due = parse_day(info["due"][:10]) if info["due"] else None
        note = f"due {_day(datetime.fromisoformat(info['due']))}" if info["due"] and due else ""
        ending = info["end"]
        if ending is None:
            status = "still open when the trial ends"
        elif ending[0] == AuditType.TASK_CANCELLED:
            status = f"cancelled {_day(ending[1])}"
        else:
            status = "answered at once" if ending[1] == info["at"] else f"answered {_day(ending[1])}"
        if task_id in mailed:
            status += f"; e-mailed to {', '.join(mailed[task_id])} (kept in the trial, never sent)"
        done = ending[1] if ending is not None and ending[0] == AuditType.TASK_COMPLETED else None
        out.append(TrialEvent(info["at"], "task", str(info["title"]), bpmn_id, lane or info["lane"],
                              "; ".join(p for p in (note, status) if p), done_at=done))
    for info in timers.values():
        bpmn_id, lane = element(info["bpmn_id"])
        ending = info["end"]
        if ending is not None and ending[0] == AuditType.TIMER_FIRED:
            note, happened = f"set {_day(info['set'])}", True
        elif ending is not None:
            note, happened = f"cancelled {_day(ending[1])} before it fired", False
        else:
            note, happened = ("after the end of the trial" if info["due"] > end else "waiting"), False
        out.append(TrialEvent(info["due"], "timer", str(info["title"]), bpmn_id, lane, note, happened))
    for stage in session.scalars(select(CaseStage).where(CaseStage.case_id == case_id)):
        call = next((k for k, e in elements.items() if e.name == stage.stage), None)
        out.append(TrialEvent(stage.entered_at, "stage", f"Stage: {stage.stage}", call, elements[call].lane
                              if call else None, f"until {_day(stage.left_at)}" if stage.left_at else ""))
    deadline_elements = [k for k, e in elements.items() if e.deadline]
    for i, (changed_at, deadline) in enumerate(deadlines):
        if deadline is None:
            continue
        replaced = next(((at, d) for at, d in deadlines[i + 1:]), None)
        note = f"set {_day(changed_at)}"
        if replaced is not None:
            note += f"; {'changed' if replaced[1] else 'stopped'} {_day(replaced[0])}"
        moment = datetime.combine(deadline, datetime.min.time().replace(hour=9), LONDON).astimezone(LONDON)
        bpmn_id, lane = element(deadline_elements[0] if deadline_elements else None)
        out.append(TrialEvent(moment, "deadline", "Completion deadline", bpmn_id, lane, note, moment <= end))
    for source in _sources:
        out.extend(replace(e, lane=e.lane or element(e.element)[1]) for e in source(session, case_id, task_elements))
    if trial.error:
        out.append(TrialEvent(max((e.at for e in out if e.happened), default=trial.started_at), "error",
                              "The trial stopped: " + trial.error))
    out.append(TrialEvent(end, "end", "End of the trial", None, None, "", False))
    order = {"started": 0, "stage": 1, "timer": 2, "deadline": 3, "task": 4, "letter": 5, "email": 6}
    return sorted(out, key=lambda e: (e.at, order.get(e.kind, 9)))


def _outbox(session: Session, case_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(select(OutboxMessage).where(OutboxMessage.case_id == case_id).order_by(OutboxMessage.id))
    found = []
    for row in rows:
        lane = next((r.value for r in Role if f"for the {r.value}:" in row.subject), None)
        task_id = row.dedupe_key.split(":")[1] if row.dedupe_key.startswith("task:") else None
        found.append({"at": row.created_at, "subject": row.subject, "recipient": row.recipient, "lane": lane,
                      "task_id": task_id})
    return found


def _day(moment: datetime) -> str:
    local = moment.astimezone(LONDON)
    return f"{local.day} {local:%B %Y}"


def start_of(now: datetime) -> datetime:
    """When a trial begun at `now` starts: 09:00 London on that day, so every trial of a day is the same."""
    return datetime.combine(london_day(now), datetime.min.time().replace(hour=9), LONDON).astimezone(LONDON)


def read_data(text: str | None) -> Any:
    """Example data from JSON text (None for none).

    Raises:
        DhrError: the text is not JSON.
    """
    if not text or not text.strip():
        return None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise DhrError(f"the example data is not JSON: {exc}") from None
