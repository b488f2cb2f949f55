"""Process owners: deployed versions, diagrams, the modeler (save = validate + deploy), diffs."""

from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, Response, abort, flash, jsonify, redirect, render_template, request, url_for

from engine.bpmn import deployments, migration, runtime, trial
from engine.bpmn.diffing import diff_versions
from engine.bpmn.scripting import HELPER_HELP
from engine.bpmn.timer_example import timer_example
from engine.platform.db import as_id
from engine.platform.errors import DhrError, DiagramInvalid
from engine.platform.models import ProcessVersion
from engine.platform.roles import Power

from .. import paging, uow
from ..auth import me, requires

bp = Blueprint("processes", __name__)
owner_only = requires(Power.DEPLOY_DIAGRAMS)


def _version(version_id: int) -> ProcessVersion:
    version = uow.db().get(ProcessVersion, version_id)
    if version is None:
        abort(404)
    return version


def _files(version: ProcessVersion) -> dict[str, str]:
    return {f.path: f.content for f in version.files}


def draft_files(version: ProcessVersion) -> tuple[str, dict[str, str]]:
    """The studio's draft from a POST: the version's files, with the diagram being edited (`path`, `xml`)
    and any other edited files (`draft_files`, a JSON object of path to text) put in their place.
    Every studio action (validate, try, deploy) posts the same fields; 404 for a path not in the version."""
    files = _files(version)
    path = request.values.get("path", "")
    if not path.endswith(".bpmn") or path not in files:
        abort(404)
    try:
        edited = json.loads(request.form.get("draft_files") or "{}")
    except ValueError:
        abort(400)
    if not isinstance(edited, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in edited.items()):
        abort(400)
    for name, text in edited.items():
        if name not in files or not name.endswith((".bpmn", ".json")):
            abort(400)
        files[name] = text
    files[path] = request.form.get("xml", files[path])
    return path, files


@bp.route("/processes")
@owner_only
def index() -> str:
    return render_template("pages/processes.html", title="Processes", versions=deployments.versions(uow.db()))


@bp.route("/processes/<int:version_id>")
@owner_only
def version_page(version_id: int) -> str:
    version = _version(version_id)
    previous = deployments.previous_version_id(uow.db(), version.id)
    return render_template("pages/process_version.html", title=f"Process version {version.id}", version=version,
                           previous=previous)


@bp.route("/processes/<int:version_id>/file")
@owner_only
def file(version_id: int) -> Response:
    text = _files(_version(version_id)).get(request.args.get("path", ""))
    if text is None:
        abort(404)
    return Response(text, mimetype="text/plain")


@bp.route("/processes/<int:version_id>/diagram")
@owner_only
def diagram(version_id: int) -> str:
    version = _version(version_id)
    path = request.args.get("path", "")
    if not path.endswith(".bpmn") or path not in _files(version):
        abort(404)
    return render_template("pages/process_diagram.html", title=path, version=version, path=path,
                           xml_url=url_for("processes.file", version_id=version.id, path=path))


def _studio(version: ProcessVersion, path: str, files: dict[str, str], draft: dict[str, str],
            problems: list[Any]) -> str:
    """The studio page: the modeler, its properties panel (fed the version's form files and the sandbox's
    helpers) and the read-only XML."""
    return render_template("pages/process_edit.html", title=f"Edit {path}", version=version, path=path,
                           xml=files[path], draft=draft, problems=problems, errors_list=problems or None,
                           form_files=sorted(name for name in files if name.endswith(".json")),
                           helpers=[{"name": n, "signature": sig, "help": text} for n, sig, text in HELPER_HELP])


@bp.route("/processes/<int:version_id>/edit", methods=["GET", "POST"])
@owner_only
def edit(version_id: int) -> Any:
    version = _version(version_id)
    if request.method == "GET":
        files = _files(version)
        path = request.values.get("path", "")
        if not path.endswith(".bpmn") or path not in files:
            abort(404)
        return _studio(version, path, files, {}, [])
    path, files = draft_files(version)
    outcome = _deploy(files)
    if isinstance(outcome, list):
        edited = {name: text for name, text in files.items() if name != path and text != _files(version)[name]}
        return _studio(version, path, files, edited, outcome), 400
    return outcome


@bp.route("/processes/<int:version_id>/timer-example", methods=["POST"])
@owner_only
def timer_example_view(version_id: int) -> Response:
    """The date the draft's timer `element` would give for an example case (the studio's Timer panel)."""
    path, files = draft_files(_version(version_id))
    example = timer_example(files, path, request.form.get("element", ""), uow.clock())
    return jsonify(ok=example.ok, text=example.text,
                   fires_at=example.fires_at.isoformat() if example.fires_at else None)


@bp.route("/processes/<int:version_id>/trial", methods=["POST"])
@owner_only
def try_draft(version_id: int) -> Any:
    """Run a trial case of the studio's draft on a simulated clock of its own; the timeline (HTML or JSON)."""
    path, files = draft_files(_version(version_id))
    uow.end_transaction()  # the trial never touches this database: hold no lock on it while it runs
    try:
        result = trial.run_trial(files, until=request.form.get("until", "18 months"), start=trial.start_of(
            uow.clock().now()), data=trial.read_data(request.form.get("trial_data")),
            process_id=request.form.get("process") or None, edited_file=path)
    except DiagramInvalid as exc:
        problems = [{"file": p.file, "element": p.element_id, "line": p.line, "message": p.message}
                    for p in exc.problems]
        return render_template("pages/_trial_timeline.html", result=None, problems=problems, error=None), 400
    except DhrError as exc:
        return render_template("pages/_trial_timeline.html", result=None, problems=[], error=exc.message), 400
    if request.accept_mimetypes.best == "application/json":
        return result.as_json()
    return render_template("pages/_trial_timeline.html", result=result, problems=[], error=None)


@bp.route("/processes/<int:version_id>/upload", methods=["POST"])
@owner_only
def upload(version_id: int) -> Any:
    version = _version(version_id)
    files = _files(version)
    uploads = [f for f in request.files.getlist("files") if f.filename]
    problems: list[Any] = []
    for item in uploads:
        name = (item.filename or "").replace("\\", "/").rsplit("/", 1)[-1]
        if not name.endswith((".bpmn", ".json")):
            problems.append({"file": name, "message": "only .bpmn and .json files can be uploaded"})
            continue
        same = [path for path in files if path.rsplit("/", 1)[-1] == name]
        try:  # a file with the name of one of the version's replaces it, wherever it sits
            files[same[0] if len(same) == 1 else name] = item.read().decode("utf-8")
        except UnicodeDecodeError:
            problems.append({"file": name, "message": "the file is not UTF-8 text"})
    if not uploads:
        problems.append({"file": "", "message": "Choose one or more .bpmn or .json files"})
    outcome = problems or _deploy(files)
    if isinstance(outcome, list):
        return render_template("pages/process_version.html", title=f"Process version {version.id}",
                               version=version, previous=None, problems=outcome, errors_list=outcome), 400
    return outcome


def _deploy(files: dict[str, str]) -> Any:
    """Validate and deploy; return a redirect, or the problems (file, element, line)."""
    try:
        new, created = runtime.deploy(uow.db(), files, actor=me().username, clock=uow.clock())
    except DiagramInvalid as exc:
        uow.rollback()
        return [{"file": p.file, "element": p.element_id, "line": p.line, "message": p.message} for p in exc.problems]
    if created:
        flash(f"Deployed as version {new.id}. New cases start on it; running cases stay on their version.",
              "success")
    else:
        flash(f"Nothing changed: the files are the same as version {new.id}.", "info")
    return redirect(url_for("processes.version_page", version_id=new.id))


@bp.route("/processes/diff")
@owner_only
def diff() -> str:
    older = _version(as_id(request.args.get("from")) or 0)
    newer = _version(as_id(request.args.get("to")) or 0)
    return render_template("pages/process_diff.html", title=f"Changes from version {older.id} to {newer.id}",
                           older=older, newer=newer, changes=diff_versions(_files(older), _files(newer)))


@bp.route("/processes/<int:version_id>/migrate", methods=["GET", "POST"])
@requires(Power.MIGRATE_CASES)
def migrate(version_id: int) -> Any:
    """The open cases on older versions, each with what moving it onto this version would change."""
    version = _version(version_id)
    if request.method == "POST":
        reference = request.form.get("reference", "")
        try:
            migration.migrate(uow.db(), reference, version.id, actor=me(), clock=uow.clock())
        except migration.MigrationRefused as exc:
            uow.rollback()
            flash(exc.message, "error")
        else:
            flash(f"{reference} now runs on version {version.id}; its waiting timers kept their due times.", "success")
        return redirect(url_for("processes.migrate", version_id=version.id, page=request.args.get("page")))
    rows = migration.candidates(uow.db(), version.id, paging.asked(), clock=uow.clock())
    return render_template("pages/process_migrate.html", title=f"Move cases to version {version.id}",
                           version=version, rows=rows)
