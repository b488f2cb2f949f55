"""What reviews cost: costs per case, and totals per financial year against the CSP's budget.

Amounts are kept in pence. The financial year runs 1 April to 31 March and is named by the year
it starts in (2026 is 2026-27).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal

from sqlalchemy import BigInteger, Date, ForeignKey, Integer, String, select
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from ..platform.audit import AuditType, record
from ..platform.calendar import london_day
from ..platform.checks import future_problems, refuse
from ..platform.errors import FormDataInvalid, NotFound
from ..platform.models import Base, Case

CATEGORIES = ("Independent chair fee", "Overview report author fee", "Other")
LIMIT_PENCE = 100_000_000_00  # £100m: anything above is a typing mistake


class CaseCost(Base):
    __tablename__ = "case_cost"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("case_instance.id"), index=True)
    category: Mapped[str] = mapped_column(String(60))
    description: Mapped[str] = mapped_column(String(300), default="")
    amount_pence: Mapped[int] = mapped_column(BigInteger)
    incurred_on: Mapped[date] = mapped_column(Date, index=True)
    recorded_by: Mapped[str] = mapped_column(String(120))
    recorded_at: Mapped[datetime]
    case: Mapped[Case] = relationship(lazy="joined")


class Budget(Base):
    __tablename__ = "dhr_budget"

    financial_year: Mapped[int] = mapped_column(Integer, primary_key=True)  # the year it starts in
    amount_pence: Mapped[int] = mapped_column(BigInteger)
    set_by: Mapped[str] = mapped_column(String(120))
    set_at: Mapped[datetime]


def financial_year(day: date) -> int:
    """The financial year a day falls in, named by the year it starts in (1 April)."""
    return day.year if day.month >= 4 else day.year - 1


def year_label(year: int) -> str:
    return f"{year}-{(year + 1) % 100:02d}"


def pounds(pence: int) -> str:
    sign = "-" if pence < 0 else ""
    return f"{sign}£{abs(pence) // 100:,}.{abs(pence) % 100:02d}"


def parse_amount(text: str, field: str) -> int:
    """'£1,250.50' -> 125050 pence.

    Raises:
        FormDataInvalid: on `field`, if it is not an amount of money from £0.01 to £100m.
    """
    cleaned = re.sub(r"[£,\s]", "", text or "")
    if not re.fullmatch(r"\d+(\.\d+)?|\.\d+", cleaned):  # digits and a point: not 1e3, NaN or -5
        raise FormDataInvalid({field: "The amount must be in pounds, like 1250 or 1,250.50"})
    whole, _, fraction = cleaned.partition(".")
    if len(whole.lstrip("0")) > 9:  # over £100m, however many digits (Decimal would run out of them)
        return _pence(LIMIT_PENCE + 1, field)
    value = Decimal(cleaned)
    if len(fraction.rstrip("0")) > 2:
        raise FormDataInvalid({field: "The amount can have at most 2 decimal places (pence)"})
    return _pence(int(value * 100), field)


def _pence(pence: int, field: str) -> int:
    """Raises: FormDataInvalid: on `field`, if `pence` is not from £0.01 to £100m."""
    if pence <= 0 or pence > LIMIT_PENCE:
        raise FormDataInvalid({field: "The amount must be more than £0 and no more than £100,000,000"})
    return pence


def add_cost(session: Session, case: Case, *, category: str, description: str, amount: int | str,
             incurred_on: date, actor: str, at: datetime) -> CaseCost:
    """Record a cost of a review, paid or invoiced on or before today (London, at `at`). `amount` is
    in pence, or in pounds as typed ('1,250.50', read by `parse_amount`).

    Raises:
        FormDataInvalid: on every field with a problem at once: `category` (not one of
        `CATEGORIES`), `amount`, `incurred_on` (in the future).
    """
    found, amount_pence = _checked(category, amount, incurred_on, london_day(at))
    refuse(found)
    cost = CaseCost(case_id=case.id, category=category, description=description.strip()[:300],
                    amount_pence=amount_pence, incurred_on=incurred_on, recorded_by=actor, recorded_at=at)
    session.add(cost)
    session.flush()
    record(session, AuditType.COST_ADDED, actor=actor, at=at, case_id=case.id,
           details={"cost": cost.id, "category": category, "amount_pence": amount_pence,
                    "incurred_on": incurred_on.isoformat()})
    return cost


def problems(*, category: str | None, amount: int | str | None, incurred_on: date | None,
             today: date) -> dict[str, str]:
    """What `add_cost` would refuse, by field, of the values given (None: not given, or not
    readable, which is the form's to say). A form with problems of its own shows these with them."""
    return _checked(category, amount, incurred_on, today)[0]


def _checked(category: str | None, amount: int | str | None, incurred_on: date | None,
             today: date) -> tuple[dict[str, str], int]:
    found = future_problems(today, {"incurred_on": ("Date of the invoice or payment", incurred_on)})
    if category is not None and category not in CATEGORIES:
        found["category"] = "Choose what the cost is for"
    pence = 0
    try:
        if amount is not None:
            pence = parse_amount(amount, "amount") if isinstance(amount, str) else _pence(amount, "amount")
    except FormDataInvalid as exc:
        found.update(exc.errors)
    return found, pence


def remove_cost(session: Session, cost_id: int, *, actor: str, at: datetime) -> None:
    """Raises: NotFound."""
    cost = session.get(CaseCost, cost_id)
    if cost is None:
        raise NotFound(f"there is no cost {cost_id}")
    record(session, AuditType.COST_REMOVED, actor=actor, at=at, case_id=cost.case_id,
           details={"cost": cost.id, "category": cost.category, "amount_pence": cost.amount_pence,
                    "incurred_on": cost.incurred_on.isoformat()})
    session.delete(cost)
    session.flush()


def set_budget(session: Session, year: int, amount_pence: int, *, actor: str, at: datetime) -> Budget:
    """Set the CSP's budget for reviews in a financial year.

    Raises: FormDataInvalid: on `budget`, an amount out of bounds.
    """
    _pence(amount_pence, "budget")
    budget = session.get(Budget, year)
    before = budget.amount_pence if budget else None
    if budget is None:
        budget = Budget(financial_year=year, amount_pence=amount_pence, set_by=actor, set_at=at)
        session.add(budget)
    else:
        budget.amount_pence, budget.set_by, budget.set_at = amount_pence, actor, at
    session.flush()
    record(session, AuditType.BUDGET_SET, actor=actor, at=at,
           details={"financial_year": year_label(year), "amount_pence": [before, amount_pence]})
    return budget


def costs_for_case(session: Session, case_id: int) -> list[CaseCost]:
    return list(session.scalars(select(CaseCost).where(CaseCost.case_id == case_id)
                                .order_by(CaseCost.incurred_on, CaseCost.id)))


def costs_between(session: Session, start: date, end: date) -> list[CaseCost]:
    return list(session.scalars(select(CaseCost).where(CaseCost.incurred_on >= start, CaseCost.incurred_on <= end)
                                .order_by(CaseCost.incurred_on, CaseCost.id)))


@dataclass(frozen=True)
class YearTotal:
    year: int
    by_category: dict[str, int]
    total: int
    budget: int | None

    @property
    def label(self) -> str:
        return year_label(self.year)

    @property
    def remaining(self) -> int | None:
        return None if self.budget is None else self.budget - self.total

    @property
    def over_budget(self) -> bool:
        return self.budget is not None and self.total > self.budget


def totals_by_year(session: Session) -> list[YearTotal]:
    """Every financial year with a cost or a budget, newest first."""
    spent: dict[int, dict[str, int]] = {}
    for cost in session.scalars(select(CaseCost)):
        year = spent.setdefault(financial_year(cost.incurred_on), dict.fromkeys(CATEGORIES, 0))
        year[cost.category] = year.get(cost.category, 0) + cost.amount_pence
    budgets = {b.financial_year: b.amount_pence for b in session.scalars(select(Budget))}
    return [YearTotal(year, spent.get(year, dict.fromkeys(CATEGORIES, 0)), sum(spent.get(year, {}).values()),
                      budgets.get(year))
            for year in sorted(spent.keys() | budgets.keys(), reverse=True)]
