"""`dhr register`."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import click

from ..platform.calendar import london_day
from ..platform.checks import refuse
from ..platform.deadlines import Due
from ..platform.errors import DhrError
from ..review import chasing, pages, register, reporting
from .app import CLI_ACTOR, App, _json_out, _table, cli, pass_app


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
    now = app.clock.now()
    with app.sessions() as session:
        rows: list[dict[str, Any]] = [
            {"case": r.case.reference, "number": r.number, "theme": r.theme, "lead_agency": r.lead_agency,
             "scope": r.scope, "target_date": r.target_date.isoformat() if r.target_date else None,
             "status": r.status, "awaiting_since": r.awaiting_since, "overdue": _overdue(r.due(now))}
            for r in pages.register_entries(session, None, filters, now)]
    if as_json:
        _json_out(rows)
    else:
        _table(rows, ["case", "number", "lead_agency", "theme", "target_date", "status", "awaiting_since"])


def _overdue(due: Due | None) -> bool:
    return due is not None and due.overdue


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


def _day_options(**values: str) -> dict[str, date]:
    """The days typed for these options, by option.

    Raises:
        FormDataInvalid: on each that is not a date.
    """
    days: dict[str, date] = {}
    problems: dict[str, str] = {}
    for name, text in values.items():
        try:
            days[name] = date.fromisoformat(text)
        except ValueError:
            problems[name] = f"must be a date like 2026-04-01, not '{text}'"
    refuse(problems)
    return days


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
    days = _day_options(start=start, end=end)
    with app.sessions() as session:
        report = reporting.steering_report(session, days["start"], days["end"], today=london_day(app.clock.now()))
    if fmt in ("xlsx", "pdf") and output is None:
        raise DhrError(f"--format {fmt} needs --output FILE")
    from ..review import report_files  # only this command needs the PDF and Excel writers

    content: str | bytes
    if fmt == "text":
        content = report_files.as_text(report)
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
