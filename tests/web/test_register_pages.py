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

from engine.platform.models import AuditEvent
from engine.platform.users import find_user
from engine.review.register import Recommendation
from tests import seed_001
from tests.web.conftest import ROLE_USERS, Web, seed_001_world

PERIOD = "start=2024-04-01&end=2026-03-31"
AFTER_PERIOD = datetime(2026, 4, 1, 9, 0, tzinfo=UTC)  # 1 April 2026, 10:00 in London: the period has ended
REPORT_ROLES = {"cst", "chair", "steering", "auditor"}


@pytest.fixture
def seeded_web(request: pytest.FixtureRequest, web: Web) -> Web:
    seed_001_world(request, web)
    web.clock.set(AFTER_PERIOD)  # the report's period has ended
    return web


def _csv(text: str) -> list[list[str]]:
    """A CSV download's rows (after its byte order mark)."""
    return list(csv.reader(io.StringIO(text.removeprefix("\ufeff"))))


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
    awaiting = re.search(r'<table class="govuk-table" data-testid="awaiting-list">(.*?)</table>', page, re.S)
    assert awaiting and "<details" not in page  # a table, so it prints: nothing to open first
    listed = re.findall(r'data-testid="awaiting-row">(.*?)</tr>', awaiting.group(1), re.S)
    assert len(listed) == 24
    cells = [[" ".join(_text(c)) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)] for row in listed]
    assert [c[0] for c in cells] == sorted(c[0] for c in cells)  # by lead agency
    assert cells[0][0] == "KCC Specialist Children's Services" and re.fullmatch(r"Case\d\d/2024 R\d+", cells[0][1])
    assert {c[2] for c in cells} == {"5 January 2026"}
    assert "2026-01-05" not in awaiting.group(1)

    response = cst.get(f"/reports/steering-group.csv?{PERIOD}")
    assert response.headers["Content-Type"] == "text/csv; charset=utf-8"  # the charset once
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.data.startswith(b"\xef\xbb\xbf")  # so Excel reads it as UTF-8 (and "£" as a pound sign)
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))[1:]
    comparable = [r for r in rows if r[0] in {"Reviews", "Status", "Theme", "Lead agency",
                                              "Awaiting feedback by agency"}]
    assert comparable == shown
    assert ["Costs", "Total", "£0.00", ""] in rows

    xlsx = cst.get(f"/reports/steering-group.xlsx?{PERIOD}")
    assert xlsx.headers["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    book = load_workbook(io.BytesIO(xlsx.data))
    cells = list(book["Figures"].iter_rows(min_row=3, values_only=True))
    assert len(cells) == len(rows)
    for (section, item, figure, share), (a, b, c, d) in zip(rows, cells, strict=True):
        assert (a, b) == (section, item)
        if section == "Costs":
            assert c == pytest.approx(float(figure.lstrip("£").replace(",", "")))
        else:
            assert c == int(figure) and isinstance(c, int), item
        if share:  # the exact share, which Excel shows rounded as the page does
            assert int(d * 100 + 0.5) == int(share.rstrip("%")), item
        else:
            assert d is None, item

    pdf = cst.get(f"/reports/steering-group.pdf?{PERIOD}")
    assert pdf.headers["Content-Type"] == "application/pdf"
    text = " ".join("".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.data)).pages).split())
    assert "47 (56%)" in text and "Kent Police" in text
    assert "Awareness and Training for Healthcare Professionals" in text  # whole, however long

    register = cst.get("/register.csv")
    assert register.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert register.data.startswith("\ufeffCase,Number,".encode())  # a byte order mark: Excel reads "£" right


def test_the_report_period_is_checked_next_to_its_fields(seeded_web: Web) -> None:
    cst = seeded_web.as_user("cst")
    first = cst.get("/reports/steering-group").get_data(as_text=True)
    assert "(optional)" not in first  # both days are needed
    page = cst.get("/reports/steering-group?start.day=31&start.month=2&start.year=2026"
                   "&end.day=1&end.month=3&end.year=2026").get_data(as_text=True)
    assert 'data-testid="error-summary"' in page
    assert re.search(r'data-testid="error-start"[^>]*>.*From must be a real date', page)
    assert_no_report(page)
    backwards = cst.get("/reports/steering-group?start.day=1&start.month=3&start.year=2026"
                        "&end.day=1&end.month=2&end.year=2026").get_data(as_text=True)
    assert re.search(r'data-testid="error-end"[^>]*>.*The period must end on or after the day it starts', backwards)
    assert_no_report(backwards)
    empty = cst.get("/reports/steering-group?start.day=&start.month=&start.year="
                    "&end.day=&end.month=&end.year=").get_data(as_text=True)
    assert re.search(r'data-testid="error-start"[^>]*>.*Enter the first day of the period', empty)
    assert re.search(r'data-testid="error-end"[^>]*>.*Enter the last day of the period', empty)
    assert_no_report(empty)
    tomorrow = cst.get("/reports/steering-group?start.day=1&start.month=4&start.year=2026"
                       "&end.day=2&end.month=4&end.year=2026").get_data(as_text=True)
    assert re.search(r'data-testid="error-end"[^>]*>.*The period must end today or earlier', tomorrow)
    assert '<a href="#end-day">The period must end today or earlier</a>' in tomorrow  # in the summary too
    assert_no_report(tomorrow)
    today = cst.get("/reports/steering-group?start.day=1&start.month=4&start.year=2026"
                    "&end.day=1&end.month=4&end.year=2026").get_data(as_text=True)
    assert "1 April 2026 to 1 April 2026" in today and 'data-testid="error-summary"' not in today

    endless = cst.get("/reports/steering-group?start=0001-01-01&end=9999-12-31")
    assert endless.status_code == 200
    assert re.search(r'data-testid="error-end"[^>]*>.*The period must end today or earlier',
                     endless.get_data(as_text=True))
    assert_no_report(endless.get_data(as_text=True))
    endless_csv = cst.get("/reports/steering-group.csv?start=0001-01-01&end=9999-12-31")
    assert endless_csv.status_code == 400
    assert endless_csv.get_data(as_text=True) == "The period must end today or earlier"
    since_year_one = cst.get("/reports/steering-group.csv?start=0001-01-01&end=2026-04-01")
    assert since_year_one.status_code == 200 and b"Status,Completed,47,56%" in since_year_one.data
    assert cst.get("/reports/steering-group.csv?start=2026-03-01&end=2026-02-01").status_code == 400
    assert cst.get("/reports/steering-group.csv?start=2026-02-30&end=2026-03-01").status_code == 400
    assert cst.get("/reports/steering-group.exe").status_code == 404
    seeded_web.clock.set(datetime(2027, 3, 31, 22, 30, tzinfo=UTC))  # 31 March in London (BST)
    default = cst.get("/reports/steering-group").get_data(as_text=True)  # this financial year to today
    assert "1 April 2026 to 31 March 2027" in default
    seeded_web.clock.set(datetime(2027, 3, 31, 22, 30, tzinfo=UTC) + timedelta(hours=1))
    assert "1 April 2027 to 1 April 2027" in cst.get("/reports/steering-group").get_data(as_text=True)


def assert_no_report(page: str) -> None:
    """The form with its errors, and no figures or downloads of some other period."""
    for absent in ('data-testid="report-period"', 'data-testid="downloads"', "data-chart=", 'data-testid="reviews"'):
        assert absent not in page, absent
    assert 'data-testid="period-form"' in page


def test_who_sees_the_report_and_the_register(seeded_web: Web) -> None:
    for username in ROLE_USERS:
        client = seeded_web.as_user(username)
        report = client.get(f"/reports/steering-group?{PERIOD}")
        assert report.status_code == (200 if username in REPORT_ROLES else 403), username
        if username in REPORT_ROLES:
            assert 'data-chart="status"' in report.get_data(as_text=True), username
        if username == "admin":
            continue
        page = client.get("/register").get_data(as_text=True)
        count = re.search(r'data-testid="register-count">(\d+) recommendation', page)
        assert count, username
        # panel members and action holders see the recommendations of their own cases only
        expected = "0" if username in ("panel", "holder") else "84"
        assert count.group(1) == expected, username


def test_a_member_sees_the_recommendations_and_agencies_of_their_own_case_only(seeded_web: Web) -> None:
    from engine.bpmn import runtime
    from engine.platform import access

    with seeded_web.db.sessions() as s, s.begin():
        case = runtime.get_case(s, "Case08/2024")  # 9 recommendations, for two national bodies
        access.add_member(s, case, find_user(s, "panel"), actor="cst", at=seeded_web.clock.now())
    panel = seeded_web.as_user("panel")
    page = panel.get("/register").get_data(as_text=True)
    assert re.search(r'data-testid="register-count">9 recommendations', page)
    agencies = re.search(r'data-testid="filter-agency">(.*?)</select>', page, re.S)
    assert agencies and re.findall(r'<option value="([^"]+)"', agencies.group(1)) == [
        "Department of Health and Social Care", "Home Office"]
    rows = _csv(panel.get("/register.csv").get_data(as_text=True))
    assert len(rows) == 1 + 9 and {row[0] for row in rows[1:]} == {"Case08/2024"}
    assert panel.get("/register/agency?name=Home+Office").status_code == 200
    assert panel.get("/register/agency?name=Kent+Police").status_code == 404  # none of its cases names it
    assert seeded_web.as_user("steering").get("/register/agency?name=Nobody+at+all").status_code == 404


def test_register_filters_a_recommendation_and_an_agency(seeded_web: Web) -> None:
    steering = seeded_web.as_user("steering")
    page = steering.get("/register?agency=Kent+Police&status=awaiting_feedback").get_data(as_text=True)
    assert 'data-testid="register-count">8 recommendations' in page
    national = steering.get("/register?national=1").get_data(as_text=True)
    assert 'data-testid="register-count">12 recommendations' in national
    theme = steering.get("/register?theme=Risk+Assessment&case=").get_data(as_text=True)
    assert 'data-testid="register-count">8 recommendations' in theme
    rows = _csv(steering.get("/register.csv?agency=Kent+Police").get_data(as_text=True))
    assert len(rows) == 1 + 20 and {r[4] for r in rows[1:]} == {"Kent Police"}

    with seeded_web.db.sessions() as s:
        answered = s.scalars(select(Recommendation).where(Recommendation.status == "completed")).first()
        assert answered is not None
        rec_id, holder = answered.id, seed_001.holder_name("holder", answered.lead_agency)
    shown = steering.get(f"/register/{rec_id}").get_data(as_text=True)
    assert "Update given" in shown and "Update requested" in shown and "Agreed in the action plan" in shown
    assert "Done so far" in shown and f">{holder}<" in shown  # given by its lead agency's action holder
    police = steering.get("/register/agency?name=Kent+Police").get_data(as_text=True)
    assert "20 recommendations open (8 awaiting feedback); 0 completed." in police
    assert steering.get("/register/999999").status_code == 404
    assert seeded_web.as_user("holder").get(f"/register/{rec_id}").status_code == 404  # not a member


def test_the_steering_group_asks_every_action_holder_at_once(seeded_web: Web) -> None:
    assert seeded_web.as_user("holder").post("/register/request-updates").status_code == 403
    assert seeded_web.as_user("holder").get("/register/request-updates").status_code == 403
    steering = seeded_web.as_user("steering")
    register_page = steering.get("/register").get_data(as_text=True)
    assert 'href="/register/request-updates"' in register_page  # a confirmation first, not a POST at once
    confirm = steering.get("/register/request-updates").get_data(as_text=True)
    scope = re.search(r'data-testid="request-scope">(.*?)</p>', confirm, re.S)
    assert scope and scope.group(1).startswith("27 open recommendations of 5 cases: Case")  # 37 open, 27 in open cases
    assert 'data-testid="confirm-request-updates"' in confirm and 'name="csrf_token"' in confirm
    response = steering.post("/register/request-updates", follow_redirects=True)
    page = response.get_data(as_text=True)
    # the fixture's reviews have their update requests open already
    assert "Update requests sent for 0 cases" in page and "already being asked" in page
    assert "govuk-notification-banner--success" not in page  # nothing was sent: not a success
    with seeded_web.db.sessions() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.event_type == "UPDATES_REQUESTED")).one()
        assert event.actor == "steering" and len(event.details["already_asked"]) > 0
