"""Costs per case and per financial year against the budget."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from sqlalchemy import func, select

from engine.platform.models import AuditEvent
from engine.review.costs import CaseCost
from tests.web.conftest import ROLE_USERS, Web


def _cost(amount: str, day: str, month: str, year: str, category: str = "Independent chair fee") -> dict[str, str]:
    return {"category": category, "description": "Invoice 42", "amount": amount,
            "incurred_on.day": day, "incurred_on.month": month, "incurred_on.year": year}


def _rows(page: str, testid: str) -> list[str]:
    return [" ".join(re.sub(r"<[^>]+>", " ", row).split())
            for row in re.findall(rf'data-testid="{testid}">(.*?)</tr>', page, re.S)]


def test_who_sees_and_records_costs(web: Web) -> None:
    web.deploy()
    case_id = web.start()
    for username in ROLE_USERS:
        client = web.as_user(username)
        assert client.get("/costs").status_code == (200 if username in ("cst", "chair", "steering", "auditor")
                                                    else 403), username
        assert client.get(f"/cases/{case_id}/costs/new").status_code == (200 if username == "cst" else 403), username
    steering = web.as_user("steering")
    assert steering.post("/costs/budget", {"financial_year": "2026-27", "budget": "1"}).status_code == 403


def test_costs_of_a_case_split_by_financial_year_against_the_budget(web: Web) -> None:
    web.deploy()
    case_id = web.start()
    cst = web.as_user("cst")
    web.clock.set(datetime(2027, 4, 1, 9, 0, tzinfo=UTC))  # every cost has been paid (none is in the future)
    for cost in (_cost("6,000", "31", "3", "2026"), _cost("£4,500.50", "1", "4", "2026", "Overview report author fee"),
                 _cost("600", "31", "3", "2027", "Other")):
        response = cst.post(f"/cases/{case_id}/costs/new", cost)
        assert response.status_code == 302 and response.headers["Location"].endswith(f"/cases/{case_id}#costs")
    case_page = cst.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'data-testid="case-cost-total">£11,100.50<' in case_page
    assert len(_rows(case_page, "case-cost-row")) == 3

    web.clock.set(datetime(2026, 8, 31, 9, 0, tzinfo=UTC))
    chair = web.as_user("chair")
    response = chair.post("/costs/budget", {"financial_year": "2026-27", "budget": "5,000"}, follow_redirects=True)
    page = response.get_data(as_text=True)
    assert "The budget for 2026-27 is now £5,000.00." in page
    years = _rows(page, "year-row")
    assert years == ["2026-27 £0.00 £4,500.50 £600.00 £5,100.50 £5,000.00 Over budget by £100.50",
                     "2025-26 £6,000.00 £0.00 £0.00 £6,000.00 Not set –"]
    assert len(_rows(page, "cost-row")) == 2  # the costs of 2026-27, the year shown
    chair.post("/costs/budget", {"financial_year": "2026-27", "budget": "10000"})
    assert "£4,899.50 left" in chair.get("/costs").get_data(as_text=True)
    with web.db.sessions() as s:
        kinds = [e.event_type for e in s.scalars(select(AuditEvent).where(
            AuditEvent.event_type.in_(["COST_ADDED", "BUDGET_SET"])).order_by(AuditEvent.id))]
    assert kinds == ["COST_ADDED"] * 3 + ["BUDGET_SET"] * 2


def test_a_bad_amount_or_date_is_shown_by_its_field_and_nothing_is_stored(web: Web) -> None:
    web.deploy()
    case_id = web.start()
    cst = web.as_user("cst")
    for amount, message in (("12.345", "at most 2 decimal places"), ("abc", "must be in pounds, like 1250"),
                            ("0", "more than £0")):
        response = cst.post(f"/cases/{case_id}/costs/new", _cost(amount, "1", "4", "2026"))
        page = response.get_data(as_text=True)
        assert response.status_code == 400
        assert re.search(rf'data-testid="error-amount"[^>]*>.*{re.escape(message)}', page), amount
        assert f'value="{amount}"' in page  # kept as typed
    no_date = cst.post(f"/cases/{case_id}/costs/new", _cost("10", "31", "2", "2026")).get_data(as_text=True)
    assert "must be a real date" in no_date
    ahead = cst.post(f"/cases/{case_id}/costs/new", _cost("10", "1", "9", "2026"))  # the clock: 31 August
    assert ahead.status_code == 400 and re.search(
        r'data-testid="error-incurred_on"[^>]*>.*Date of the invoice or payment must be today or in the past',
        ahead.get_data(as_text=True))
    bad_budget = web.as_user("chair").post("/costs/budget", {"financial_year": "2026-27", "budget": "lots"})
    assert bad_budget.status_code == 400 and 'data-testid="error-budget"' in bad_budget.get_data(as_text=True)
    with web.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(CaseCost)) == 0


def test_a_cost_can_be_removed_and_the_removal_is_audited(web: Web) -> None:
    web.deploy()
    case_id = web.start()
    cst = web.as_user("cst")
    cst.post(f"/cases/{case_id}/costs/new", _cost("100", "1", "5", "2026"))
    with web.db.sessions() as s:
        cost_id = s.scalars(select(CaseCost.id)).one()
    assert web.as_user("chair").post(f"/cases/{case_id}/costs/{cost_id}/remove").status_code == 403
    assert cst.post(f"/cases/{case_id}/costs/{cost_id}/remove").status_code == 302
    assert cst.post(f"/cases/{case_id}/costs/{cost_id}/remove").status_code == 404
    with web.db.sessions() as s:
        assert s.scalar(select(func.count()).select_from(CaseCost)) == 0
        removed = s.scalars(select(AuditEvent).where(AuditEvent.event_type == "COST_REMOVED")).one()
        assert removed.details["amount_pence"] == 10000 and removed.actor == "cst"
