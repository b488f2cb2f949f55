"""The register, a recommendation, an agency's page, the Steering Group report and its downloads."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader
from sqlalchemy import select

from engine.models import AuditEvent
from engine.register import Recommendation
from engine.users import find_user
from tests import seed_001
from tests.conftest import World
from tests.web.conftest import ROLE_USERS, Web

PERIOD = "start=2024-04-01&end=2026-03-31"
REPORT_ROLES = {"cst", "chair", "steering", "auditor"}


@pytest.fixture
def seeded_web(web: Web) -> Web:
    world = World(web.db, web.clock)
    with web.db.sessions() as s:
        world.users = {name: find_user(s, name) for name in ("cst", "holder")}
    seed_001.build(world, cst="cst", holder="holder")
    return web


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split()


def _page_rows(page: str) -> list[list[str]]:
    """The report page's figures as (section, item, figure, share), read from its tables and lists."""
    rows = []
    reviews = re.search(r'data-testid="reviews">(.*?)</dl>', page, re.S)
    assert reviews
    for key, value in re.findall(r'<dt class="govuk-summary-list__key">(.*?)</dt>\s*<dd[^>]*>(.*?)</dd>',
                                 reviews.group(1), re.S):
        rows.append(["Reviews", html.unescape(key.strip()), value.strip(), ""])
    for key, section in (("status", "Status"), ("theme", "Theme"), ("agency", "Lead agency"),
                         ("awaiting", "Awaiting feedback by agency")):
        table = re.search(rf'data-testid="table-{key}">(.*?)</table>', page, re.S)
        assert table, key
        for label, count, share in re.findall(
                r'<th scope="row" class="govuk-table__header">(.*?)</th>\s*<td[^>]*>(.*?)</td>\s*<td[^>]*>(.*?)</td>',
                table.group(1), re.S):
            rows.append([section, html.unescape(label), count, share])
    return rows


def test_the_report_page_shows_the_figures_the_downloads_carry(seeded_web: Web) -> None:
    cst = seeded_web.as_user("cst")
    page = cst.get(f"/reports/steering-group?{PERIOD}").get_data(as_text=True)
    assert "1 April 2024 to 31 March 2026" in page
    for key in ("status", "theme", "agency"):
        assert f'data-chart="{key}"' in page
    assert re.search(r'data-label="Completed" data-count="47"', page)
    shown = _page_rows(page)
    assert ["Status", "Awaiting feedback", "24", "29%"] in shown
    assert ["Reviews", "Completed within 6 months of the decision", "2", ""] in shown

    response = cst.get(f"/reports/steering-group.csv?{PERIOD}")
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True))))[1:]
    comparable = [r for r in rows if r[0] in {"Reviews", "Status", "Theme", "Lead agency",
                                              "Awaiting feedback by agency"}]
    assert comparable == shown

    book = load_workbook(io.BytesIO(cst.get(f"/reports/steering-group.xlsx?{PERIOD}").data))
    cells = [[("" if c is None else str(c)) for c in row] for row in book["Figures"].iter_rows(min_row=3,
                                                                                              values_only=True)]
    assert cells == rows

    pdf = cst.get(f"/reports/steering-group.pdf?{PERIOD}")
    assert pdf.mimetype == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages)
    assert "47 (56%)" in text and "Kent Police" in text


def test_the_report_period_is_checked_next_to_its_fields(seeded_web: Web) -> None:
    cst = seeded_web.as_user("cst")
    page = cst.get("/reports/steering-group?start.day=31&start.month=2&start.year=2026"
                   "&end.day=1&end.month=3&end.year=2026").get_data(as_text=True)
    assert 'data-testid="error-summary"' in page
    assert re.search(r'data-testid="error-start"[^>]*>.*From must be a real date', page)
    backwards = cst.get("/reports/steering-group?start.day=1&start.month=3&start.year=2026"
                        "&end.day=1&end.month=2&end.year=2026").get_data(as_text=True)
    assert "The period must end on or after the day it starts" in backwards
    assert cst.get("/reports/steering-group.csv?start=2026-03-01&end=2026-02-01").status_code == 400
    assert cst.get("/reports/steering-group.exe").status_code == 404
    seeded_web.clock.set(datetime(2027, 3, 31, 22, 30, tzinfo=UTC))  # 31 March in London (BST)
    default = cst.get("/reports/steering-group").get_data(as_text=True)  # this financial year to today
    assert "1 April 2026 to 31 March 2027" in default
    seeded_web.clock.set(datetime(2027, 3, 31, 22, 30, tzinfo=UTC) + timedelta(hours=1))
    assert "1 April 2027 to 1 April 2027" in cst.get("/reports/steering-group").get_data(as_text=True)


def test_who_sees_the_report_and_the_register(seeded_web: Web) -> None:
    for username in ROLE_USERS:
        client = seeded_web.as_user(username)
        report = client.get(f"/reports/steering-group?{PERIOD}").status_code
        assert report == (200 if username in REPORT_ROLES else 403), username
        if username == "admin":
            continue
        page = client.get("/register").get_data(as_text=True)
        count = re.search(r'data-testid="register-count">(\d+) recommendation', page)
        assert count, username
        # panel members and action holders see the recommendations of their own cases only
        expected = "0" if username in ("panel", "holder") else "84"
        assert count.group(1) == expected, username


def test_register_filters_a_recommendation_and_an_agency(seeded_web: Web) -> None:
    steering = seeded_web.as_user("steering")
    page = steering.get("/register?agency=Kent+Police&status=awaiting_feedback").get_data(as_text=True)
    assert 'data-testid="register-count">8 recommendations' in page
    national = steering.get("/register?national=1").get_data(as_text=True)
    assert 'data-testid="register-count">12 recommendations' in national
    theme = steering.get("/register?theme=Risk+Assessment&case=").get_data(as_text=True)
    assert 'data-testid="register-count">8 recommendations' in theme
    rows = list(csv.reader(io.StringIO(steering.get("/register.csv?agency=Kent+Police").get_data(as_text=True))))
    assert len(rows) == 1 + 20 and {r[4] for r in rows[1:]} == {"Kent Police"}

    with seeded_web.db.sessions() as s:
        answered = s.scalars(select(Recommendation).where(Recommendation.status == "completed")).first()
        assert answered is not None
        rec_id = answered.id
    shown = steering.get(f"/register/{rec_id}").get_data(as_text=True)
    assert "Update given" in shown and "Update requested" in shown and "Agreed in the action plan" in shown
    assert "Done so far" in shown and ">holder<" in shown
    police = steering.get("/register/agency?name=Kent+Police").get_data(as_text=True)
    assert "20 recommendations open (8 awaiting feedback); 0 completed." in police
    assert steering.get("/register/999999").status_code == 404
    assert seeded_web.as_user("holder").get(f"/register/{rec_id}").status_code == 404  # not a member


def test_the_steering_group_asks_every_action_holder_at_once(seeded_web: Web) -> None:
    assert seeded_web.as_user("holder").post("/register/request-updates").status_code == 403
    steering = seeded_web.as_user("steering")
    response = steering.post("/register/request-updates", follow_redirects=True)
    page = response.get_data(as_text=True)
    # the fixture's reviews have their update requests open already
    assert "Update requests sent for 0 cases" in page and "already being asked" in page
    with seeded_web.db.sessions() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.event_type == "UPDATES_REQUESTED")).one()
        assert event.actor == "steering" and len(event.details["already_asked"]) > 0
