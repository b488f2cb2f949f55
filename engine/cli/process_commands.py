"""`dhr processes`."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..bpmn import deployments, runtime, trial
from ..bpmn.diffing import diff_versions
from ..bpmn.library import load_bundle, read_folder
from ..platform.calendar import london_day, long_date, parse_day, start_of_day
from ..platform.db import unit_of_work
from ..platform.errors import DhrError
from .app import CLI_ACTOR, App, _json_out, _table, cli, pass_app
from .task_commands import _read_data


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
        rows = [
            {"version": v.id, "hash": v.content_hash[:12], "processes": ", ".join(v.process_ids),
             "deployed_at": v.deployed_at, "deployed_by": v.deployed_by, "cases": v.cases}
            for v in deployments.versions(session)
        ]
    if as_json:
        _json_out(rows)
    else:
        _table(rows, ["version", "hash", "processes", "deployed_at", "deployed_by", "cases"])


@processes.command("diff")
@click.argument("older", type=int)
@click.argument("newer", type=int)
@pass_app
def processes_diff(app: App, older: int, newer: int) -> None:
    """Say what changed between two deployed versions, element by element (scripts line by line)."""
    with app.sessions() as session:
        files = [deployments.version_files(session, older), deployments.version_files(session, newer)]
    changes = diff_versions(*files)
    if not changes:
        click.echo("the two versions have the same files")
    for change in changes:
        click.echo(f"{change.path}: {change.change}{' (only the layout)' if change.layout_only else ''}")
        for element in change.elements:
            click.echo(f"  {element.element_id} ({element.kind}{', ' + element.name if element.name else ''}): "
                       f"{element.change}")
            for value in element.values:
                click.echo(f"    {value.what}: {value.old if value.old is not None else '(none)'} -> "
                           f"{value.new if value.new is not None else '(none)'}")
            for script in element.scripts:
                click.echo(f"    {script.what}:")
                for line in script.lines:
                    sign = {"added": "+", "removed": "-", "context": " "}.get(line.kind, "")
                    click.echo(f"      {sign}{line.text}")
            if element.other:
                click.echo("    other details changed (its flows or attributes)")
        for form_field in change.fields:
            details = "; ".join(f"{v.what}: {v.old or '(none)'} -> {v.new or '(none)'}" for v in form_field.values)
            click.echo(f"  field {form_field.name}: {form_field.change}{' (' + details + ')' if details else ''}")


@processes.command("try")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option("--until", "until", default="18 months", show_default=True,
              help="How long the trial runs: '18 months', '400 days', P18M.")
@click.option("--data", help="Example answers as JSON, by task id or form file; @FILE reads a file.")
@click.option("--process", "process_id", help="The process to start (default: the one no other calls).")
@click.option("--start", help="The trial's first day, YYYY-MM-DD (default: today).")
@click.option("--answer-after", default=trial.ANSWER_AFTER, show_default=True,
              help="How long after it opens a task is answered (or when it is due, if sooner).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def processes_try(app: App, folder: Path, until: str, data: str | None, process_id: str | None,
                  start: str | None, answer_after: str, as_json: bool) -> None:
    """Run one case of the diagrams in FOLDER on a simulated clock of its own and print its timeline.

    Nothing is written to the database: the trial runs in a scratch database and its e-mails are never sent."""
    if not folder.is_dir():
        raise DhrError(f"{folder} is not a folder")
    began = trial.start_of(app.clock.now())
    if start:
        day = parse_day(start)
        if day is None:
            raise DhrError(f"--start: '{start}' is not a date such as 2026-06-01")
        began = trial.start_of(start_of_day(day))
    result = trial.run_trial(read_folder(folder), until=until, start=began, data=trial.read_data(_read_data(data)),
                             process_id=process_id, answer_after=answer_after)
    if as_json:
        _json_out(result.as_json())
    else:
        _table([{"date": long_date(london_day(e.at)), "what": e.what, "kind": e.kind, "element": e.element or "",
                 "lane": e.lane or "", "note": e.note + ("" if e.happened else " (did not happen)")}
                for e in result.events], ["date", "kind", "what", "element", "lane", "note"])
        click.echo(f"{result.steps} steps in {result.seconds:.1f} s; nothing was written to the database")
    if result.error:
        raise DhrError(f"the trial stopped: {result.error}")
