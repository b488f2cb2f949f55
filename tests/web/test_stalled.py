"""A stalled case on the pages: the case page says why, the list and the dashboard show it, and a
process owner retries it on the fixed diagram."""

from __future__ import annotations

from pathlib import Path

from engine.bpmn import runtime
from engine.platform.db import unit_of_work
from engine.platform.users import find_user
from tests.conftest import POSTGRES_IN_SECOND_STEP
from tests.web.conftest import Web

# a stalled case shown; finding stalled cases on PostgreSQL is in test_stalls
pytestmark = POSTGRES_IN_SECOND_STEP

STALLS = Path(__file__).resolve().parents[1] / "stalls"


def stall(web: Web) -> int:
    web.deploy(STALLS / "broken")
    case_id = web.start("Hazel", process="mismatch")
    with unit_of_work(web.db.sessions) as s:
        runtime.complete_task(s, web.task(case_id, "choose").id, {"route_a": True}, user=find_user(s, "cst"),
                              clock=web.clock)
    return case_id


def test_a_stalled_case_is_shown_everywhere_and_a_process_owner_retries_it(web: Web) -> None:
    case_id = stall(web)
    cst = web.as_user("cst")
    page = cst.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'data-testid="stalled"' in page and "This case has stalled" in page
    assert "&#39;Both routes done&#39; (join, waiting)" in page
    assert 'data-testid="retry-case"' not in page  # only a process owner retries
    assert 'data-testid="stalled-tag"' in cst.get("/cases").get_data(as_text=True)
    board = cst.get("/dashboard").get_data(as_text=True)
    assert 'data-testid="stalled-cases"' in board and "1 case stalled" in board
    assert cst.post(f"/cases/{case_id}/retry", {"on": "own"}).status_code == 403

    owner = web.as_user("owner")
    page = owner.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'data-testid="retry-case"' in page and "On the newest version" not in page
    still = owner.post(f"/cases/{case_id}/retry", {"on": "own"}, follow_redirects=True).get_data(as_text=True)
    assert "Hazel/2026 is still stalled on version 1" in still

    web.deploy(STALLS / "fixed")
    assert "On the newest version (2) of the diagram" in owner.get(f"/cases/{case_id}").get_data(as_text=True)
    moved = owner.post(f"/cases/{case_id}/retry", {"on": "newest"}, follow_redirects=True).get_data(as_text=True)
    assert "Hazel/2026 has moved on (version 2)" in moved and 'data-testid="stalled"' not in moved
    assert [t.bpmn_id for t in web.tasks(case_id)] == ["after"]
    assert 'data-testid="stalled-cases"' not in cst.get("/dashboard").get_data(as_text=True)
