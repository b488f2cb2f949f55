"""The `dhr` command: operations on the database, diagrams, cases, tasks, timers and audit."""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from datetime import date, datetime
from functools import cached_property
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import click
from sqlalchemy import Engine, func, select
from sqlalchemy.exc import OperationalError, ProgrammingError
from sqlalchemy.orm import Session, sessionmaker

from ..bpmn import runtime, timers
from ..bpmn.library import load_bundle, read_folder
from ..platform import access, audit, users
from ..platform.calendar import london_day
from ..platform.clock import Clock, SettableClock, SimulatedClock, SystemClock, as_utc, parse_duration
from ..platform.db import make_engine, session_factory, unit_of_work, upgrade
from ..platform.errors import DhrError, FormDataInvalid
from ..platform.models import Case, OpenTask, ProcessVersion, SimulatedTime, Timer
from ..platform.settings import Settings
from ..review import chasing, register, reporting

CLI_ACTOR = "cli"


@dataclass
class App:
    """What every command needs, built lazily from the settings."""

    settings: Settings

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.settings.database_url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return session_factory(self.engine)

    @cached_property
    def clock(self) -> Clock:
        if self.settings.clock == "simulated":  # read once: simulated time stands still during a command
            return SettableClock(SimulatedClock(self.engine).now())
        return SystemClock()


def _json_out(rows: Any) -> None:
    click.echo(json.dumps(rows, indent=2, default=_json_default))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def _parse_json(text: str | None, what: str) -> Any:
    if text is None:
        return {}
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise DhrError(f"{what} is not valid JSON: {exc.msg} at column {exc.colno}") from exc


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M UTC") if value else "-"


def _table(rows: list[dict[str, Any]], columns: list[str]) -> None:
    if not rows:
        click.echo("(none)")
        return
    cells = [[_when(r[c]) if isinstance(r[c], datetime) else ("-" if r[c] is None else str(r[c])) for c in columns]
             for r in rows]
    widths = [max(len(c), *(len(row[i]) for row in cells)) for i, c in enumerate(columns)]
    click.echo("  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip())
    for row in cells:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


pass_app = click.make_pass_decorator(App)


class CliError(click.ClickException):
    """An error for the person at the terminal: one line per problem, exit status 1."""

    def show(self, file: Any = None) -> None:
        click.echo(f"error: {self.format_message()}", err=True)


class DhrGroup(click.Group):
    """Turns the engine's errors into plain lines on stderr, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except FormDataInvalid as exc:
            raise CliError("\n".join(f"{field or 'data'}: {msg}" for field, msg in exc.errors.items())) from exc
        except DhrError as exc:
            raise CliError(str(exc)) from exc
        except (OperationalError, ProgrammingError) as exc:
            if os.environ.get("DHR_DEBUG"):
                raise
            reason = str(exc.orig).splitlines()[0] if exc.orig else type(exc).__name__
            raise CliError(f"the database could not be used ({reason}); is DHR_DATABASE_URL right, "
                           "and has 'dhr db upgrade' been run?") from exc


@click.group(cls=DhrGroup)
@click.pass_context
def cli(ctx: click.Context) -> None:
    """Domestic Homicide Review case management."""
    try:
        ctx.obj = App(Settings())
    except DhrError as exc:
        raise CliError(str(exc)) from exc


# ---------------------------------------------------------------------------------------------- db


@cli.group()
def db() -> None:
    """The database."""


@db.command("upgrade")
@pass_app
def db_upgrade(app: App) -> None:
    """Create or migrate the database schema, then bring open cases stored in an older format up to date."""
    upgrade(app.engine)
    for reference in runtime.upgrade_cases(app.sessions, app.clock):
        click.echo(f"upgraded the stored state of {reference}")
    click.echo("database is up to date")


# ------------------------------------------------------------------------------------- processes


@cli.group()
def processes() -> None:
    """BPMN diagrams and their forms."""


def _bundle_files(paths: tuple[Path, ...]) -> list[tuple[str, dict[str, str]]]:
    bundles = []
    for path in paths:
        if path.is_dir():
            bundles.append((str(path), read_folder(path)))
        elif path.is_file():
            files = {p: t for p, t in read_folder(path.parent).items() if not p.endswith(".bpmn")}
            files[path.name] = path.read_text(encoding="utf-8")
            bundles.append((str(path), files))
        else:
            raise DhrError(f"{path} does not exist")
    return bundles


@processes.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@pass_app
def processes_validate(app: App, paths: tuple[Path, ...]) -> None:
    """Check diagrams and forms (a folder, or .bpmn files with the forms beside them)."""
    failed = False
    for name, files in _bundle_files(paths or (app.settings.processes_dir,)):
        try:
            bundle = load_bundle(files)
        except DhrError as exc:
            failed = True
            click.echo(f"{name}: {exc}", err=True)
            continue
        click.echo(f"{name}: valid ({len(bundle.process_ids)} processes: {', '.join(bundle.process_ids)})")
    if failed:
        sys.exit(1)


@processes.command("deploy")
@click.argument("path", required=False, type=click.Path(path_type=Path))
@pass_app
def processes_deploy(app: App, path: Path | None) -> None:
    """Validate a folder of diagrams and store it as a new process version."""
    files = read_folder(path or app.settings.processes_dir)
    with unit_of_work(app.sessions) as session:
        version, created = runtime.deploy(session, files, actor=CLI_ACTOR, clock=app.clock)
        if created:
            click.echo(f"deployed version {version.id} ({version.content_hash[:12]}): {', '.join(version.process_ids)}")
        else:
            click.echo(f"unchanged: the files are version {version.id} ({version.content_hash[:12]})")


@processes.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def processes_list(app: App, as_json: bool) -> None:
    """List deployed process versions, newest first."""
    with app.sessions() as session:
        counts = dict(session.execute(select(Case.version_id, func.count()).group_by(Case.version_id)).all())
        rows = [
            {"version": v.id, "hash": v.content_hash[:12], "processes": ", ".join(v.process_ids),
             "deployed_at": v.deployed_at, "deployed_by": v.deployed_by, "cases": counts.get(v.id, 0)}
            for v in session.scalars(select(ProcessVersion).order_by(ProcessVersion.id.desc()))
        ]
    if as_json:
        _json_out(rows)
    else:
        _table(rows, ["version", "hash", "processes", "deployed_at", "deployed_by", "cases"])


# ------------------------------------------------------------------------------------------ users


@cli.group("users")
def users_group() -> None:
    """People and their roles."""


@users_group.command("add")
@click.argument("name")
@click.option("--role", required=True, help="A lane of the diagrams (e.g. 'CSP Chair') or an office.")
@click.option("--agency", help="The agency the user works for.")
@click.option("--email", help="Where the user's notifications go.")
@click.option("--password-stdin", is_flag=True, help="Read the user's password from standard input.")
@pass_app
def users_add(app: App, name: str, role: str, agency: str | None, email: str | None, password_stdin: bool) -> None:
    """Add a user."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    with unit_of_work(app.sessions) as session:
        user = users.add_user(session, name, role=role, agency=agency, password=password, actor=CLI_ACTOR,
                              clock=app.clock, email=email)
        click.echo(f"added {user.username} ({user.role})")


@users_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def users_list(app: App, as_json: bool) -> None:
    """List users."""
    from ..platform.models import User

    with app.sessions() as session:
        rows = [{"name": u.username, "role": u.role, "agency": u.agency, "email": u.email, "active": u.active}
                for u in session.scalars(select(User).order_by(User.username))]
    if as_json:
        _json_out(rows)
    else:
        _table(rows, ["name", "role", "agency", "email", "active"])


# ------------------------------------------------------------------------------------------ cases


@cli.group()
def cases() -> None:
    """Reviews."""


@cases.command("start")
@click.option("--process", "process_id", required=True, help="Id of the top-level BPMN process.")
@click.option("--pseudonym", required=True, help="The pseudonym agreed with the family.")
@click.option("--year", required=True, type=int)
@click.option("--data", help="Initial case data as a JSON object.")
@pass_app
def cases_start(app: App, process_id: str, pseudonym: str, year: int, data: str | None) -> None:
    """Start a case on the newest version of a process."""
    initial = _parse_json(data, "--data")
    if not isinstance(initial, dict):
        raise DhrError("--data must be a JSON object")
    with unit_of_work(app.sessions) as session:
        case = runtime.start_case(session, process_id=process_id, pseudonym=pseudonym, year=year, data=initial,
                                  actor=CLI_ACTOR, clock=app.clock)
        click.echo(f"started {case.reference} on version {case.version_id}")


@cases.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def cases_list(app: App, as_json: bool) -> None:
    """List cases with their stage, open tasks and next timer."""
    with app.sessions() as session:
        open_counts = dict(session.execute(
            select(OpenTask.case_id, func.count()).group_by(OpenTask.case_id)).all())
        next_due = dict(session.execute(
            select(Timer.case_id, func.min(Timer.due_at)).group_by(Timer.case_id)).all())
        stuck = dict(session.execute(
            select(Timer.case_id, func.count()).where(Timer.status == "stuck").group_by(Timer.case_id)).all())
        rows = [
            {"reference": c.reference, "status": "STALLED" if c.stalled_at and c.status == "open" else c.status,
             "stage": c.stage, "version": c.version_id,
             "open_tasks": open_counts.get(c.id, 0), "next_timer": _aware(next_due.get(c.id)),
             "stuck_timers": stuck.get(c.id, 0), "started_at": c.started_at,
             "stalled_since": _aware(c.stalled_at)}
            for c in session.scalars(select(Case).order_by(Case.started_at, Case.id))
        ]
    if as_json:
        _json_out(rows)
    else:
        _table(rows, ["reference", "status", "stage", "version", "open_tasks", "next_timer", "stuck_timers",
                      "started_at"])


@cases.command("add-member")
@click.argument("reference")
@click.argument("username")
@pass_app
def cases_add_member(app: App, reference: str, username: str) -> None:
    """Let a user who sees only their own cases (panel, family liaison, action holder...) work on this one."""
    with unit_of_work(app.sessions) as session:
        case = runtime.get_case(session, reference)
        user = users.find_user(session, username)
        access.add_member(session, case, user, actor=CLI_ACTOR, at=app.clock.now())
        click.echo(f"{user.username} ({user.role}) is now a member of {case.reference}")


@cases.command("check")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def cases_check(app: App, as_json: bool) -> None:
    """List stalled cases (open, with nothing a person, a timer or a message can do); exit 1 if any."""
    with app.sessions() as session:
        rows = [{"reference": c.reference, "stage": c.stage, "version": c.version_id,
                 "stalled_since": _aware(c.stalled_at), "reason": c.stalled_reason}
                for c in runtime.stalled_cases(session)]
    if as_json:
        _json_out(rows)
    elif not rows:
        click.echo("no case is stalled")
    for case in [] if as_json else rows:
        since = case["stalled_since"]
        click.echo(f"STALLED {case['reference']} (stage {case['stage'] or '-'}, version {case['version']}, "
                   f"since {_when(since if isinstance(since, datetime) else None)}): {case['reason']}")
    if rows:
        raise SystemExit(1)


@cases.command("retry")
@click.argument("reference")
@click.option("--as", "username", required=True, help="A process owner.")
@click.option("--newest", is_flag=True, help="Move the case onto the newest deployed version of its process first.")
@pass_app
def cases_retry(app: App, reference: str, username: str, newest: bool) -> None:
    """Run a case's engine steps again (after fixing and deploying its diagram, with --newest)."""
    with unit_of_work(app.sessions) as session:
        case = runtime.retry_case(session, reference, user=users.find_user(session, username), clock=app.clock,
                                  newest=newest)
        verdict = f"still stalled: {case.stalled_reason}" if case.stalled_at else "it can move on"
        click.echo(f"retried {case.reference} on version {case.version_id}; {verdict}")


def _aware(value: datetime | None) -> datetime | None:
    return as_utc(value) if value is not None else None


# ------------------------------------------------------------------------------------------ tasks


@cli.group()
def tasks() -> None:
    """Open user tasks."""


@tasks.command("list")
@click.option("--case", "reference", help="Only this case (Pseudonym/Year).")
@click.option("--role", help="Only tasks in this lane.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def tasks_list(app: App, reference: str | None, role: str | None, as_json: bool) -> None:
    """List open tasks, the soonest due first."""
    with app.sessions() as session:
        query = select(OpenTask, Case.reference).join(Case, Case.id == OpenTask.case_id)
        if reference:
            query = query.where(OpenTask.case_id == runtime.get_case(session, reference).id)
        if role:
            query = query.where(func.lower(OpenTask.lane) == role.lower())
        rows = [
            {"id": t.id, "case": ref, "task": t.title, "lane": t.lane, "stage": t.process_name,
             "due_at": t.due_at, "form": t.form, "created_at": t.created_at}
            for t, ref in session.execute(query)
        ]
    rows.sort(key=lambda r: (r["due_at"] is None, r["due_at"] or r["created_at"], r["case"]))
    if as_json:
        _json_out(rows)
    else:
        _table(rows, ["id", "case", "task", "lane", "due_at"])


@tasks.command("complete")
@click.argument("task_id")
@click.option("--as", "username", required=True, help="The user completing the task.")
@click.option("--data", help="The form's answers as a JSON object.")
@pass_app
def tasks_complete(app: App, task_id: str, username: str, data: str | None) -> None:
    """Complete a task with the form's answers."""
    answers = _parse_json(data, "--data")
    with unit_of_work(app.sessions) as session:
        user = users.find_user(session, username)
        case = runtime.complete_task(session, task_id, answers, user=user, clock=app.clock)
        click.echo(f"completed; {case.reference} is {case.status}" + (f" ({case.stage})" if case.stage else ""))
        if case.stalled_at is not None:
            click.echo(f"warning: {case.reference} has STALLED: {case.stalled_reason}", err=True)


# --------------------------------------------------------------------------------------- messages


@cli.group()
def messages() -> None:
    """Messages from outside (an agency's answer, a report arriving)."""


@messages.command("send")
@click.argument("reference")
@click.argument("name")
@click.option("--data", help="The message's payload as JSON.")
@pass_app
def messages_send(app: App, reference: str, name: str, data: str | None) -> None:
    """Deliver a message to a case."""
    payload = _parse_json(data, "--data")
    with unit_of_work(app.sessions) as session:
        case = runtime.send_message(session, reference, name, payload, actor=CLI_ACTOR, clock=app.clock)
        click.echo(f"delivered '{name}' to {case.reference}")


# ----------------------------------------------------------------------------------------- timers


@cli.group("timers")
def timers_group() -> None:
    """Timers the cases are waiting on."""


@timers_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def timers_list(app: App, as_json: bool) -> None:
    """List waiting timers, the soonest first."""
    with app.sessions() as session:
        rows = [
            {"id": t.id, "case": ref, "timer": t.title, "due_at": t.due_at, "status": t.status,
             "attempts": t.attempts, "next_attempt_at": t.next_attempt_at, "last_error": t.last_error}
            for t, ref in session.execute(
                select(Timer, Case.reference).join(Case, Case.id == Timer.case_id).order_by(Timer.due_at, Timer.id))
        ]
    if as_json:
        _json_out(rows)
    else:
        _table(rows, ["id", "case", "timer", "due_at", "status"])


@timers_group.command("run-due")
@pass_app
def timers_run_due(app: App) -> None:
    """Fire every timer that is due now, oldest first."""
    fired = timers.run_due(app.sessions, app.clock)
    with app.sessions() as session:
        names = dict(session.execute(select(Case.id, Case.reference)).all())
    for item in fired:
        outcome = f"failed: {item.error}" if item.error else "fired"
        click.echo(f"{names.get(item.case_id, item.case_id)}: {item.title} (due {_when(item.due_at)}) {outcome}")
    click.echo(f"{sum(1 for f in fired if not f.error)} timer(s) fired")
    if any(f.error for f in fired):
        sys.exit(1)


@timers_group.command("retry")
@click.argument("timer_id")
@pass_app
def timers_retry(app: App, timer_id: str) -> None:
    """Let a stuck timer fire again at the scheduler's next run."""
    with unit_of_work(app.sessions) as session:
        timer = timers.retry(session, timer_id, actor=CLI_ACTOR, clock=app.clock)
        click.echo(f"timer '{timer.title}' will be tried again")


@cli.command("scheduler")
@click.option("--watch", "watch_seconds", default=1.0, show_default=True,
              help="Seconds between looks at the next due time.")
@click.option("--sweep", "sweep_seconds", default=60.0, show_default=True,
              help="Seconds between safety sweeps.")
@pass_app
def scheduler_command(app: App, watch_seconds: float, sweep_seconds: float) -> None:
    """Run the timer scheduler until stopped (SIGTERM or Ctrl-C)."""
    import signal
    import threading

    from ..bpmn.scheduler import TimerScheduler

    live: Clock = SimulatedClock(app.engine) if app.settings.clock == "simulated" else SystemClock()
    stop = threading.Event()

    def report(item: timers.FiredTimer) -> None:
        outcome = f"failed: {item.error}" if item.error else "fired"
        click.echo(f"{outcome} timer {item.timer_id} of case {item.case_id} (due {item.due_at.isoformat()})")
        sys.stdout.flush()

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    scheduler = TimerScheduler(app.sessions, live, watch_seconds=watch_seconds, sweep_seconds=sweep_seconds,
                               on_fired=report, settings=app.settings)
    scheduler.start()
    click.echo(f"scheduler running ({app.settings.clock} clock)")
    sys.stdout.flush()
    stop.wait()
    scheduler.shutdown()
    click.echo("scheduler stopped")


# ------------------------------------------------------------------------------------------ clock


@cli.group()
def clock() -> None:
    """The simulated clock (DHR_CLOCK=simulated), for demos and training."""


def _simulated(app: App) -> Clock:
    if app.settings.clock != "simulated":
        raise DhrError("the clock can only be shown or moved when DHR_CLOCK=simulated")
    return app.clock


def _set_clock(app: App, when: datetime) -> None:
    current = _simulated(app).now()
    with unit_of_work(app.sessions) as session:
        row = session.get(SimulatedTime, 1)
        if row is not None and when < row.now:
            raise DhrError(f"the simulated clock cannot go back (it is {current.isoformat()})")
        if row is None:
            session.add(SimulatedTime(id=1, now=when))
        else:
            row.now = when
        audit.record(session, audit.AuditType.CLOCK_CHANGED, actor=CLI_ACTOR, at=when,
                     details={"from": current.isoformat(), "to": when.isoformat()})
    click.echo(f"the simulated clock is now {when.isoformat()}")


@clock.command("show")
@pass_app
def clock_show(app: App) -> None:
    """Print the simulated time."""
    click.echo(_simulated(app).now().isoformat())


@clock.command("set")
@click.argument("when")
@pass_app
def clock_set(app: App, when: str) -> None:
    """Set the simulated time (ISO 8601, e.g. 2026-09-01T09:00:00+01:00; no offset means UTC)."""
    try:
        moment = as_utc(datetime.fromisoformat(when))
    except ValueError as exc:
        raise DhrError(f"'{when}' is not an ISO 8601 date and time") from exc
    _set_clock(app, moment)


@clock.command("advance")
@click.argument("duration")
@pass_app
def clock_advance(app: App, duration: str) -> None:
    """Move the simulated time on by an ISO 8601 duration (P14D, P1M, PT2H)."""
    _set_clock(app, as_utc(_simulated(app).now() + parse_duration(duration)))


# ------------------------------------------------------------------------------------------ audit


@cli.group("audit")
def audit_group() -> None:
    """The audit trail."""


@audit_group.command("show")
@click.argument("reference")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def audit_show(app: App, reference: str, as_json: bool) -> None:
    """Print every event of a case in order."""
    with app.sessions() as session:
        case = runtime.get_case(session, reference)
        rows: list[dict[str, Any]] = [
            {"id": e.id, "at": e.at, "actor": e.actor, "event": e.event_type, "task": e.task_name,
             "details": e.details}
            for e in audit.events_for_case(session, case.id)
        ]
    if as_json:
        _json_out(rows)
        return
    for row in rows:
        details = json.dumps(row["details"], default=str, ensure_ascii=False) if row["details"] else ""
        task = f" '{row['task']}'" if row["task"] else ""
        click.echo(f"{row['id']:>6}  {_when(row['at'])}  {row['actor']:<14} {row['event']}{task} {details}".rstrip())


@audit_group.command("verify")
@pass_app
def audit_verify(app: App) -> None:
    """Check that no audit event was changed or deleted."""
    with app.sessions() as session:
        count, problems = audit.verify(session)
    for problem in problems:
        click.echo(f"audit: {problem}", err=True)
    if problems:
        raise DhrError(f"the audit trail has been tampered with: {len(problems)} problem(s) in {count} events")
    click.echo(f"audit trail intact: {count} events")


# ------------------------------------------------------------------------------ register and report


@cli.group("register")
def register_group() -> None:
    """The recommendation register."""


@register_group.command("list")
@click.option("--case", "case_reference", default="", help="Only this case (Pseudonym/Year).")
@click.option("--agency", default="", help="Only this lead agency.")
@click.option("--status", type=click.Choice(list(register.LABELS)), help="Only this status.")
@click.option("--overdue", is_flag=True, help="Only those past their target date and not completed.")
@click.option("--national", is_flag=True, help="Only national recommendations.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def register_list(app: App, case_reference: str, agency: str, status: str | None, overdue: bool, national: bool,
                  as_json: bool) -> None:
    """List recommendations with their status."""
    filters = register.Filters(case=case_reference, agency=agency, status=status or "", overdue=overdue,
                               national=national)
    today = london_day(app.clock.now())
    with app.sessions() as session:
        rows: list[dict[str, Any]] = [
            {"case": r.case.reference, "number": r.number, "theme": r.theme, "lead_agency": r.lead_agency,
             "scope": r.scope, "target_date": r.target_date.isoformat() if r.target_date else None,
             "status": r.status, "awaiting_since": r.awaiting_since, "overdue": r.overdue(today)}
            for r in register.find(session, filters, today=today)]
    if as_json:
        _json_out(rows)
    else:
        _table(rows, ["case", "number", "lead_agency", "theme", "target_date", "status", "awaiting_since"])


@register_group.command("request-updates")
@pass_app
def register_request_updates(app: App) -> None:
    """Ask every action holder of every monitored action plan for an update now (then chased)."""
    outcome = chasing.request_updates(app.sessions, app.clock, actor=CLI_ACTOR)
    click.echo(f"asked: {', '.join(outcome.asked) or 'none'}")
    if outcome.already_asked:
        click.echo(f"already being asked: {', '.join(outcome.already_asked)}")
    if outcome.not_waiting:
        click.echo(f"not waiting for a request now (not published yet, or the last round is being reviewed): "
                   f"{', '.join(outcome.not_waiting)}")
    for reference, why in outcome.failed.items():
        click.echo(f"could not ask {reference}: {why}", err=True)
    if outcome.failed:
        raise DhrError(f"{len(outcome.failed)} case(s) could not be asked")


def _day_option(value: str, what: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise DhrError(f"{what} must be a date like 2026-04-01, not '{value}'") from None


@cli.group("report")
def report_group() -> None:
    """Reports."""


@report_group.command("steering-group")
@click.option("--from", "start", required=True, help="First day of the period (YYYY-MM-DD).")
@click.option("--to", "end", required=True, help="Last day of the period (YYYY-MM-DD).")
@click.option("--format", "fmt", type=click.Choice(["text", "csv", "xlsx", "pdf"]), default="text")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file.")
@pass_app
def report_steering_group(app: App, start: str, end: str, fmt: str, output: Path | None) -> None:
    """The DHR Steering Group's report for a period: reviews, recommendations, costs."""
    first, last = _day_option(start, "--from"), _day_option(end, "--to")
    if last < first:
        raise DhrError("--to must be on or after --from")
    with app.sessions() as session:
        report = reporting.steering_report(session, first, last)
    if fmt in ("xlsx", "pdf") and output is None:
        raise DhrError(f"--format {fmt} needs --output FILE")
    from ..review import report_files  # only this command needs the PDF and Excel writers

    content: str | bytes
    if fmt == "text":
        content = "".join(f"{section:<28} {item:<50} {figure!s:>10} {share:>5}".rstrip() + "\n"
                          for section, item, figure, share in report.rows())
    elif fmt == "csv":
        content = report_files.csv_bytes(report)  # with a byte order mark, so Excel reads "£" right
    else:
        content = report_files.as_xlsx(report) if fmt == "xlsx" else report_files.as_pdf(report)
    if output is None:
        click.echo(content, nl=False)
    elif isinstance(content, bytes):
        output.write_bytes(content)
        click.echo(f"wrote {output}")
    else:
        output.write_text(content)
        click.echo(f"wrote {output}")


# -------------------------------------------------------------------------------------------- demo


@cli.command("demo")
@click.option("--force", is_flag=True, help="Add demo data even if the database already has cases.")
@pass_app
def demo_command(app: App, force: bool) -> None:
    """Set up the database with demo users, diagrams and cases at several stages."""
    from ..review.demo import seed

    upgrade(app.engine)
    for line in seed(app.sessions, app.settings, force=force):
        click.echo(line)


def _add_plugin_commands() -> None:
    """Add the commands other packages register (entry point group `dhr.commands`), e.g. the web app's.

    This keeps the engine free of the web layer while `dhr` stays one command.
    """
    for entry in entry_points(group="dhr.commands"):
        cli.add_command(entry.load(), entry.name)


def main() -> None:
    """Run the CLI; a bug is reported in one line too, with details only on request."""
    try:
        _add_plugin_commands()
        cli.main(prog_name="dhr")
    except Exception as exc:
        if os.environ.get("DHR_DEBUG"):
            raise
        click.echo(f"error: unexpected {type(exc).__name__}; run again with DHR_DEBUG=1 for details", err=True)
        sys.exit(70)
