"""POST /processes/<id>/trial: a process owner tries the studio's draft; the timeline comes back as HTML or JSON."""

from __future__ import annotations

import json
import re

import pytest
from sqlalchemy import func, select

from engine.platform.models import AuditEvent, Case, ProcessVersion
from engine.platform.notifications import OutboxMessage
from tests.conftest import SQLITE_ONLY
from tests.web.conftest import PROCESSES, Web

# A trial runs on a scratch in-memory SQLite database whatever the configured one is: backend-blind
# (tests/test_trial.py runs it on both).
pytestmark = SQLITE_ONLY

SIX = "completion_due_date = add_months(clock_start_date, 6)"
AT_ONCE = json.dumps({"record_notification": {"@after": "P0D"}, "screen_case": {"@after": "P0D"},
                      "decide_on_review": {"@after": "P0D"}})


@pytest.fixture
def owner(web: Web) -> tuple[Web, int]:
    version_id = web.deploy(PROCESSES)
    web.start(process="dhr_review")
    return web.as_user("owner"), version_id


def _counts(web: Web) -> tuple[int, ...]:
    with web.db.sessions() as s:
        return tuple(s.scalar(select(func.count()).select_from(m)) or 0
                     for m in (Case, AuditEvent, ProcessVersion, OutboxMessage))


def _deadline_days(page: str) -> list[str]:
    return re.findall(r'data-kind="deadline" data-element="deadline_passed" data-day="([0-9-]+)"', page)


def test_the_trial_of_a_draft_shows_the_deadline_move_when_the_script_says_twelve_months(
        owner: tuple[Web, int]) -> None:
    web, version_id = owner
    xml = (PROCESSES / "dhr_review.bpmn").read_text()
    before = _counts(web)
    six = web.post(f"/processes/{version_id}/trial", {"path": "dhr_review.bpmn", "xml": xml, "until": "7 months",
                                                      "trial_data": AT_ONCE})
    assert six.status_code == 200
    page = six.get_data(as_text=True)
    # the app's clock says 31 August 2026: six calendar months from a decision that day is 28 February
    assert _deadline_days(page) == ["2027-02-28"]
    assert 'data-testid="trial-timeline"' in page and "28 February 2027" in page
    assert re.search(r'data-kind="timer" data-element="deadline_month_away" data-day="2027-01-28"', page)

    twelve = web.post(f"/processes/{version_id}/trial", {"path": "dhr_review.bpmn", "until": "7 months",
                                                         "xml": xml.replace(SIX, SIX.replace("6)", "12)")),
                                                         "trial_data": AT_ONCE},
                      headers={"Accept": "application/json"})
    assert twelve.status_code == 200
    timeline = twelve.get_json()
    assert [e["day"] for e in timeline["events"] if e["kind"] == "deadline"] == ["2027-08-31"]
    assert "decide_on_review" in timeline["passed"]
    assert _counts(web) == before  # nothing of either trial reached the real database


def test_a_draft_that_does_not_validate_or_bad_example_data_is_answered_with_the_problem(
        owner: tuple[Web, int]) -> None:
    web, version_id = owner
    xml = (PROCESSES / "dhr_review.bpmn").read_text()
    broken = web.post(f"/processes/{version_id}/trial", {"path": "dhr_review.bpmn", "until": "3 months",
                                                         "xml": xml.replace(SIX, "completion_due_date = (")})
    assert broken.status_code == 400
    page = broken.get_data(as_text=True)
    assert 'data-testid="problems"' in page and "start_six_month_clock" in page
    bad = web.post(f"/processes/{version_id}/trial", {"path": "dhr_review.bpmn", "xml": xml, "until": "3 months",
                                                      "trial_data": "{nope"})
    assert bad.status_code == 400 and 'data-testid="trial-error"' in bad.get_data(as_text=True)
    assert "the example data is not JSON" in bad.get_data(as_text=True)


def test_only_process_owners_may_try_a_draft(owner: tuple[Web, int]) -> None:
    web, version_id = owner
    cst = web.as_user("cst")
    xml = (PROCESSES / "dhr_review.bpmn").read_text()
    assert cst.post(f"/processes/{version_id}/trial", {"path": "dhr_review.bpmn", "xml": xml}).status_code == 403
    no_token = web.client.post(f"/processes/{version_id}/trial", data={"path": "dhr_review.bpmn", "xml": xml})
    assert no_token.status_code == 400
    page = web.get(f"/processes/{version_id}/edit?path=dhr_review.bpmn").get_data(as_text=True)
    assert 'data-testid="trial-panel"' in page and "studio_trial.js" in page
