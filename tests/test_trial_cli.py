"""`dhr processes try`: the installed command prints a trial's timeline and writes nothing to the database."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

from sqlalchemy import func, select

from engine.platform.calendar import long_date
from engine.platform.models import AuditEvent, Case, ProcessVersion
from engine.platform.settings import PROJECT_ROOT
from tests.conftest import SQLITE_ONLY, Db

# A trial runs on a scratch in-memory SQLite database whatever the configured one is (engine/bpmn/trial.py):
# backend-blind. test_trial.py runs it on both.
pytestmark = SQLITE_ONLY

DHR = Path(sys.executable).parent / "dhr"
SIX = "completion_due_date = add_months(clock_start_date, 6)"


def _run(db: Db, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {"DHR_DATABASE_URL": db.url, "PATH": str(Path(sys.executable).parent)}
    return subprocess.run([str(DHR), "processes", "try", *args], capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=600)


def _counts(db: Db) -> tuple[int, ...]:
    with db.sessions() as s:
        return tuple(s.scalar(select(func.count()).select_from(m)) or 0 for m in (Case, AuditEvent, ProcessVersion))


def test_a_process_owner_tries_a_twelve_month_rule_from_the_command_line(db: Db, tmp_path: Path) -> None:
    folder = tmp_path / "draft"
    shutil.copytree(PROJECT_ROOT / "processes", folder)
    review = folder / "dhr_review.bpmn"
    review.write_text(review.read_text().replace(SIX, SIX.replace("6)", "12)")))
    before = _counts(db)
    data = json.dumps({"decide_on_review": {"decision_date": "2026-06-01", "@after": "P0D"},
                       "screen_case": {"@after": "P0D"}, "record_notification": {"@after": "P0D"}})
    result = _run(db, tmp_path, str(folder), "--until", "13 months", "--start", "2026-06-01", "--data", data)
    assert result.returncode == 0, result.stderr
    assert _counts(db) == before
    lines = result.stdout.splitlines()
    assert lines[0].split()[:5] == ["DATE", "KIND", "WHAT", "ELEMENT", "LANE"]
    rows = [re.split(r"\s{2,}", line) for line in lines[1:-1]]
    deadline = "  ".join(next(row for row in rows if row[1] == "deadline"))
    assert deadline.startswith(long_date(date(2027, 6, 1)))  # twelve months from the decision
    assert "deadline_passed" in deadline and "Community Safety Team" in deadline
    reminder = "  ".join(next(row for row in rows if row[1] == "timer" and row[3] == "deadline_month_away"))
    assert reminder.startswith("1 May 2027")
    assert "nothing was written to the database" in lines[-1]

    as_json = _run(db, tmp_path, str(folder), "--until", "1 month", "--start", "2026-06-01", "--json")
    assert as_json.returncode == 0, as_json.stderr
    timeline = json.loads(as_json.stdout)
    assert timeline["process"] == "dhr_review" and timeline["events"][0]["kind"] == "started"


def test_a_draft_that_does_not_validate_exits_1_with_its_problems(db: Db, tmp_path: Path) -> None:
    folder = tmp_path / "draft"
    shutil.copytree(PROJECT_ROOT / "processes", folder)
    review = folder / "dhr_review.bpmn"
    review.write_text(review.read_text().replace(SIX, "completion_due_date = ("))
    result = _run(db, tmp_path, str(folder), "--until", "3 months")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert any("dhr_review.bpmn" in line and "start_six_month_clock" in line for line in result.stderr.splitlines())
    bad = _run(db, tmp_path, str(folder), "--until", "soon")
    assert (bad.returncode, bad.stderr) == (1, "error: 'soon' is not a period such as '18 months', '400 days' or "
                                                "P18M\n")
