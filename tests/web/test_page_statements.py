"""The long pages stay flat: the SQL statements one request makes do not grow with the number of
cases (bench/pages.py gives the timings at 10,000 cases), and each list comes a page at a time."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import event, select

from engine.bpmn import runtime
from engine.platform.db import unit_of_work
from engine.platform.models import Case, OpenTask
from engine.platform.paging import PAGE_SIZE
from engine.platform.users import find_user
from engine.review.register import AWAITING, Recommendation
from tests.web.conftest import Web


@contextmanager
def _statements(web: Web) -> Iterator[list[str]]:
    """The SQL statements sent to the database while the block runs."""
    sent: list[str] = []

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        sent.append(statement)

    event.listen(web.db.engine, "before_cursor_execute", count)
    try:
        yield sent
    finally:
        event.remove(web.db.engine, "before_cursor_execute", count)


def _complete(web: Web, case_id: int, bpmn_id: str, data: dict[str, Any], username: str) -> None:
    with unit_of_work(web.db.sessions) as s:
        task = s.scalars(select(OpenTask).where(OpenTask.case_id == case_id, OpenTask.bpmn_id == bpmn_id)).one()
        runtime.complete_task(s, task.id, data, user=find_user(s, username), clock=web.clock)


def _grow(web: Web, upto: int) -> list[int]:
    """Cases up to `upto` in all, through the engine: a third only notified, a third waiting for the
    chair's decision (its due date and reminder timers), a third in the panel's stage with a
    recommendation due; the panel member sits on every fifth, from the third."""
    with web.db.sessions() as s:
        have = len(list(s.scalars(select(Case.id))))
    ids = []
    for n in range(have, upto):
        case_id = web.start(f"Case{n:03d}")
        ids.append(case_id)
        if n % 3:
            _complete(web, case_id, "record_notification", {"notified_on": "2026-08-20"}, "cst")
        if n % 3 == 2:
            _complete(web, case_id, "decide", {"outcome": "DHR"}, "chair")
            with unit_of_work(web.db.sessions) as s:
                at = web.clock.now()
                s.add(Recommendation(
                    case_id=case_id, number=1, text="Train staff", theme="Risk Assessment", lead_agency="Kent Police",
                    scope="Local", national_body=None, smart_action="Train every officer", action_holder=None,
                    target_date=date(2026, 9, 10), status=AWAITING, awaiting_since=None, created_at=at, updated_at=at))
        if n % 5 == 2:
            web.add_member(case_id, "panel")
    return ids


def _pages(case_id: int) -> dict[str, list[str]]:
    """URL -> who opens it."""
    return {
        "/dashboard": ["cst"],
        "/inbox": ["cst", "chair", "panel"],
        "/inbox?due=week": ["chair"],
        "/cases": ["cst", "panel"],
        "/cases?status=all&overdue=1": ["cst"],
        f"/cases/{case_id}": ["cst"],
        f"/cases/{case_id}/history": ["cst"],
        "/register": ["cst", "panel"],
        "/register?overdue=1": ["cst"],
    }


def _counts(web: Web, clients: dict[str, Web], case_id: int) -> dict[tuple[str, str], int]:
    counts = {}
    for url, users in _pages(case_id).items():
        for username in users:
            assert clients[username].get(url).status_code == 200, url  # warm: diagrams parsed, templates compiled
            with _statements(web) as sent:
                assert clients[username].get(url).status_code == 200, url
            counts[(username, url)] = len(sent)
    return counts


def test_the_statements_of_a_page_do_not_grow_with_the_cases(web: Web) -> None:
    web.deploy()
    web.clock.set(datetime(2026, 8, 20, 8, 0, tzinfo=UTC))
    first = _grow(web, 5)[0]
    web.clock.set(datetime(2026, 9, 15, 8, 0, tzinfo=UTC))  # the decisions and recommendations are overdue now
    clients = {name: web.as_user(name) for name in ("cst", "chair", "panel")}
    few = _counts(web, clients, first)
    _grow(web, 50)
    many = _counts(web, clients, first)
    grown = {page: (few[page], many[page]) for page in few if many[page] > few[page]}
    assert not grown, f"statements per request grew from 5 to 50 cases (user, url): (5, 50): {grown}"
    assert max(many.values()) <= 30, many


def _rows(page: str, testid: str) -> list[str]:
    return re.findall(rf'data-testid="{testid}"', page)


def test_long_lists_come_a_page_at_a_time_with_their_filters_kept(web: Web) -> None:
    web.deploy()
    web.clock.set(datetime(2026, 8, 20, 8, 0, tzinfo=UTC))
    _grow(web, PAGE_SIZE + 4)
    cst = web.as_user("cst")
    first = cst.get("/cases?status=all").get_data(as_text=True)
    assert len(_rows(first, "case-row")) == PAGE_SIZE and 'data-testid="pagination-page"' in first
    assert 'href="/cases?status=all&amp;page=2"' in first  # the filter travels with the page
    second = cst.get("/cases?status=all&page=2").get_data(as_text=True)
    assert len(_rows(second, "case-row")) == 4
    assert 'aria-current="page">2<' in second and 'href="/cases?status=all"' in second  # back to page 1
    assert len(_rows(cst.get("/cases?status=all&page=999").get_data(as_text=True), "case-row")) == 4  # the last
    assert len(_rows(cst.get("/cases?status=all&page=x").get_data(as_text=True), "case-row")) == PAGE_SIZE
    inbox = cst.get("/inbox").get_data(as_text=True)  # every case has a team task or none: 18 notified
    assert len(_rows(inbox, "inbox-row")) == 18 and "pagination-page" not in inbox
    dashboard = cst.get("/dashboard").get_data(as_text=True)
    assert len(_rows(dashboard, "deadline-row")) == PAGE_SIZE and 'data-testid="pagination-deadlines_page"' in dashboard
    later = cst.get("/dashboard?deadlines_page=2").get_data(as_text=True)
    assert len(_rows(later, "deadline-row")) == 4
