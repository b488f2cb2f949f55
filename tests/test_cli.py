"""The dhr command, driven as an operator would, on each database."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from engine.cli import cli

from .conftest import DIAGRAMS, SQLITE_ONLY, Db


@pytest.fixture
def dhr(db: Db, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DHR_DATABASE_URL", db.url)
    monkeypatch.setenv("DHR_CLOCK", "simulated")
    runner = CliRunner()

    def run(*args: str, input: str | None = None, ok: bool = True) -> Result:
        result = runner.invoke(cli, list(args), input=input)
        if ok:
            assert result.exit_code == 0, (result.output, result.exception)
        return result

    return run


def as_json(result: Result) -> list[dict]:
    return json.loads(result.output)


def test_an_operator_runs_a_case_from_the_command_line(dhr) -> None:
    dhr("db", "upgrade")
    assert "valid (2 processes: panel_work, review_demo)" in dhr("processes", "validate", str(DIAGRAMS)).output
    assert "deployed version 1" in dhr("processes", "deploy", str(DIAGRAMS)).output
    assert "unchanged: the files are version 1" in dhr("processes", "deploy", str(DIAGRAMS)).output
    assert as_json(dhr("processes", "list", "--json"))[0]["processes"] == "panel_work, review_demo"
    dhr("clock", "set", "2026-08-31T09:00:00+01:00")
    dhr("users", "add", "carol", "--role", "Community Safety Team", "--agency", "Council",
        "--password-stdin", input="correct horse battery\n")
    dhr("users", "add", "chair", "--role", "CSP Chair")
    assert "started Rosemary/2026" in dhr("cases", "start", "--process", "review_demo", "--pseudonym", "Rosemary",
                                          "--year", "2026").output
    [task] = as_json(dhr("tasks", "list", "--case", "Rosemary/2026", "--json"))
    assert task["task"] == "Record the notification" and task["lane"] == "Community Safety Team"

    bad = dhr("tasks", "complete", task["id"], "--as", "carol", "--data", '{"notified_on": "yesterday"}', ok=False)
    assert bad.exit_code == 1 and "must be a valid date" in bad.output and "Traceback" not in bad.output
    dhr("tasks", "complete", task["id"], "--as", "carol", "--data", '{"notified_on": "2026-08-31"}')
    again = dhr("tasks", "complete", task["id"], "--as", "carol", "--data", '{"notified_on": "2026-08-31"}', ok=False)
    assert "already completed by carol" in again.output

    assert [t["task"] for t in as_json(dhr("tasks", "list", "--role", "csp chair", "--json"))] == [
        "Decide whether to hold a review"]
    timers = as_json(dhr("timers", "list", "--json"))
    assert [(t["timer"], t["due_at"]) for t in timers] == [
        ("Decision reminder", "2026-09-23T08:00:00+00:00"), ("Decision overdue", "2026-09-30T08:00:00+00:00")]

    assert "0 timer(s) fired" in dhr("timers", "run-due").output
    dhr("clock", "advance", "P23D")
    assert "2026-09-23T08:00:00+00:00" in dhr("clock", "show").output
    assert "Rosemary/2026: Decision reminder (due 2026-09-23 08:00 UTC) fired" in dhr("timers", "run-due").output
    back = dhr("clock", "set", "2026-01-01T00:00:00Z", ok=False)
    assert "cannot go back" in back.output

    nothing = dhr("messages", "send", "Rosemary/2026", "report_received", "--data", "{}", ok=False)
    assert "not waiting for 'report_received'" in nothing.output
    [case] = as_json(dhr("cases", "list", "--json"))
    assert case["reference"] == "Rosemary/2026" and case["open_tasks"] == 2

    history = as_json(dhr("audit", "show", "Rosemary/2026", "--json"))
    assert [e["event"] for e in history][:3] == ["CASE_STARTED", "TASK_CREATED", "TASK_COMPLETED"]
    assert "TIMER_FIRED" in dhr("audit", "show", "Rosemary/2026").output
    assert "audit trail intact" in dhr("audit", "verify").output


def test_validate_reports_each_problem_and_fails(dhr, tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "p.bpmn").write_text((DIAGRAMS / "panel_work.bpmn").read_text().replace('"P14D"', "P14D"))
    result = dhr("processes", "validate", str(broken), ok=False)
    assert result.exit_code == 1
    assert "p.bpmn:" in result.output
    assert "(imr_late): timer 'IMR late': expression P14D must be quoted" in result.output
    assert "form file 'forms/imr.schema.json' does not exist" in result.output


def test_clock_commands_need_the_simulated_clock(dhr, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DHR_CLOCK", "system")
    result = dhr("clock", "advance", "P1D", ok=False)
    assert result.exit_code == 1 and "only be shown or moved when DHR_CLOCK=simulated" in result.output


def test_errors_from_the_installed_command_are_one_line(db: Db, tmp_path: Path) -> None:
    dhr = Path(sys.executable).parent / "dhr"
    env = {"DHR_DATABASE_URL": db.url, "PATH": str(Path(sys.executable).parent)}
    result = subprocess.run([str(dhr), "cases", "start", "--process", "nope", "--pseudonym", "X", "--year", "2026"],
                            capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == ("error: no deployed process has the id 'nope' "
                             "(deploy it with 'dhr processes deploy')\n")


@pytest.mark.parametrize(("args", "says"), [
    (["report", "steering-group", "--from", "2026-01-01", "--to", "2026-02-01", "--format", "nope"],
     "error: Invalid value for '--format'"),
    (["register", "list", "--status", "nope"], "error: Invalid value for '--status'"),
    (["no-such-command"], "error: No such command 'no-such-command'"),
    (["report", "steering-group", "--from", "2026-01-01", "--to", "2026-02-01", "--format", "xlsx",
      "--output", "/no/such/dir/x.xlsx"], "error: cannot use /no/such/dir/x.xlsx: No such file or directory"),
])
@SQLITE_ONLY  # click's usage and the file's errors: backend-blind
def test_usage_and_file_errors_exit_1_in_one_line(db: Db, tmp_path: Path, args: list[str], says: str) -> None:
    dhr = Path(sys.executable).parent / "dhr"
    env = {"DHR_DATABASE_URL": db.url, "PATH": str(Path(sys.executable).parent)}
    result = subprocess.run([str(dhr), *args], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert result.stderr.startswith(says) and "Traceback" not in result.stderr
    assert [line for line in result.stderr.splitlines() if line.startswith("error:")] == \
        [result.stderr.splitlines()[-1]]


def test_the_register_and_the_steering_group_report_from_the_command_line(dhr, seeded, tmp_path: Path) -> None:
    rows = as_json(dhr("register", "list", "--agency", "Kent Police", "--status", "awaiting_feedback", "--json"))
    assert len(rows) == 8 and {r["lead_agency"] for r in rows} == {"Kent Police"}
    assert len(as_json(dhr("register", "list", "--national", "--json"))) == 12
    text = dhr("report", "steering-group", "--from", "2024-04-01", "--to", "2026-03-31").output
    assert any(line.split() == ["Status", "Completed", "47", "56%"] for line in text.splitlines())
    csv_text = dhr("report", "steering-group", "--from", "2024-04-01", "--to", "2026-03-31", "--format", "csv").output
    assert "Awaiting feedback,24,29%" in csv_text
    target = tmp_path / "report.xlsx"
    dhr("report", "steering-group", "--from", "2024-04-01", "--to", "2026-03-31", "--format", "xlsx",
        "--output", str(target))
    assert target.read_bytes()[:2] == b"PK"
    wrong = dhr("report", "steering-group", "--from", "2026-04-01", "--to", "2026-13-01", ok=False)
    assert wrong.exit_code == 1 and "error: --to: must be a date like 2026-04-01, not '2026-13-01'" in wrong.output
    backwards = dhr("report", "steering-group", "--from", "2026-04-01", "--to", "2026-03-01", ok=False)
    assert "error: --to: The period must end on or after the day it starts" in backwards.output
    asked = dhr("register", "request-updates").output
    assert "asked: none" in asked and "already being asked: Case00/2024" in asked


def test_the_report_and_register_from_the_command_line_keep_what_was_typed_harmless(dhr, world,
                                                                                    tmp_path: Path) -> None:
    from openpyxl import load_workbook

    from . import hostile
    from .test_exports import CONTROL, csv_rows, no_formulas, pdf_text

    hostile.build(world, "carol")
    period = ("report", "steering-group", "--from", "2024-04-01", "--to", "2026-03-31")
    rows = csv_rows(dhr(*period, "--format", "csv").stdout_bytes)
    assert ["Lead agency", "'+1", "1", "33%"] in rows and ["Lead agency", "'@SUM(A1:A9)", "1", "33%"] in rows
    target = tmp_path / "report.xlsx"
    dhr(*period, "--format", "xlsx", "--output", str(target))
    values = no_formulas(target.read_bytes())
    assert "'+1" in values and f"'{hostile.HYPERLINK}" in values
    national = list(load_workbook(target)["National"].iter_rows(min_row=2, values_only=True))
    assert national[1][2] == "Swyddfa’r Cabinet – ŵ"
    pdf = tmp_path / "report.pdf"
    dhr(*period, "--format", "pdf", "--output", str(pdf))
    assert "Heddlu – Gwasanaeth ŵ’r Cymoedd" in pdf_text(pdf.read_bytes())
    text = dhr(*period).output
    assert "Heddlu – Gwasanaeth ŵ’r Cymoedd\ufffd" in text and not set(CONTROL) & set(text)
    listed = dhr("register", "list").output  # nothing typed can move the terminal's cursor
    assert "Heddlu – Gwasanaeth ŵ’r Cymoedd\ufffd" in listed and not set(CONTROL) & set(listed)


def test_a_case_started_as_a_person_is_held_to_the_web_pages_rule(dhr) -> None:
    dhr("db", "upgrade")
    dhr("processes", "deploy", str(DIAGRAMS))
    dhr("users", "add", "carol", "--role", "Community Safety Team")
    dhr("users", "add", "chair", "--role", "CSP Chair")
    start = ("cases", "start", "--process", "review_demo", "--pseudonym", "Hazel", "--year", "2026")
    refused = dhr(*start, "--as", "chair", ok=False)
    assert refused.exit_code == 1 and "chair (CSP Chair) may not start a case" in refused.output
    assert "Traceback" not in refused.output
    assert "started Hazel/2026" in dhr(*start, "--as", "carol").output
    taken = dhr(*start, "--as", "carol", ok=False)
    assert taken.exit_code == 1 and "--pseudonym: A case called Hazel/2026 already exists" in taken.output
