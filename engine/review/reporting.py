"""The Steering Group's report for a period (seed 001), and dashboard figures.

The report counts, for the period chosen:
- reviews considered (the CSP chair's decision fell in the period), commissioned (the decision was
  a DHR or a joint review), completed (the report was approved in the period), and of those
  completed, how many within 6 and within 12 calendar months of the decision;
- the recommendations of the reviews completed by the end of the period (seed 001 considers "the
  recommendations within all 9 completed DHRs"), each by its status at the end of the period (so
  a past period's statuses read the same later; text, theme and lead agency are as the plan
  stands now), by theme, by lead agency; the ones awaiting feedback by agency, with since when;
  the national ones; and the costs incurred in the period.

`rows()` is the one list of figures that the page and the files (`report_files`) all show. Its
values are typed (counts as ints, money as `Money` in whole pence, shares as `Percent`, days as
dates): each writer formats them itself, so a spreadsheet gets numbers, never text to parse back.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, NamedTuple

from sqlalchemy import ColumnElement, func, literal, select, union_all
from sqlalchemy.orm import Session

from ..platform.calendar import add_months, end_of_day, london_day, parse_day
from ..platform.checks import period_problems, refuse
from ..platform.models import Case, CaseStage, UTCDateTime
from .costs import CATEGORIES, costs_between, pounds
from .register import AWAITING, STATUSES, THEMES, WITHOUT_STATE, Recommendation, awaited_since_on, status_on
from .stage_summary import StageSummary

COMMISSIONED = ("DHR", "Joint or parallel review")


@dataclass(frozen=True)
class Money:
    """An amount in whole pence."""

    pence: int

    def __str__(self) -> str:
        return pounds(self.pence)

    @property
    def in_pounds(self) -> Decimal:
        return Decimal(self.pence) / 100


@dataclass(frozen=True)
class Percent:
    """A share of a whole, in percent (0-100), exact: writers round it as they show it."""

    value: float

    @property
    def whole_percent(self) -> int:
        """Halves rounded up (1 of 8 is 13%), as the page shows it."""
        return int(Decimal(self.value).quantize(Decimal(1), ROUND_HALF_UP))

    @property
    def fraction(self) -> float:
        return self.value / 100

    def __str__(self) -> str:
        return f"{self.whole_percent}%"


@dataclass(frozen=True)
class Figure:
    label: str
    count: int
    share: float  # percent of the section's whole, 0-100

    @property
    def percent(self) -> str:
        """The share in whole percent, halves rounded up (1 of 8 is 13%)."""
        return str(Percent(self.share))


class Row(NamedTuple):
    """One figure of the report: its section and item, the figure (a count or money), its share."""

    section: str
    item: str
    figure: int | Money
    share: Percent | None = None


def _figures(counts: Counter[str], order: list[str] | tuple[str, ...] | None = None) -> list[Figure]:
    whole = sum(counts.values())
    labels = list(order) if order is not None else [k for k, _ in sorted(counts.items(), key=lambda i: (-i[1], i[0]))]
    return [Figure(label, counts.get(label, 0), 100.0 * counts.get(label, 0) / whole if whole else 0.0)
            for label in labels]


@dataclass(frozen=True)
class Awaiting:
    reference: str
    number: int
    lead_agency: str
    since: date | None  # the London day it was first asked for, None if never asked


def awaiting_order(item: Awaiting) -> tuple[str, date, str, int]:
    """By lead agency, then the longest waiting first (never asked before all), then case and number."""
    return item.lead_agency, item.since or date.min, item.reference, item.number


@dataclass(frozen=True)
class National:
    reference: str
    number: int
    national_body: str
    text: str
    status: str


@dataclass
class SteeringReport:
    start: date
    end: date
    considered: int = 0
    commissioned: int = 0
    completed: int = 0
    completed_within_6_months: int = 0
    completed_within_12_months: int = 0
    recommendations: int = 0
    by_status: list[Figure] = field(default_factory=list)
    by_theme: list[Figure] = field(default_factory=list)
    by_agency: list[Figure] = field(default_factory=list)
    awaiting_by_agency: list[Figure] = field(default_factory=list)
    awaiting: list[Awaiting] = field(default_factory=list)
    national: list[National] = field(default_factory=list)
    costs_by_category: dict[str, int] = field(default_factory=dict)

    @property
    def costs_total(self) -> int:
        return sum(self.costs_by_category.values())

    def top_agencies(self, shown: int = 5) -> list[Figure]:
        """The lead agencies with the most recommendations, the rest as "All other agencies" (seed 001)."""
        if len(self.by_agency) <= shown + 1:
            return self.by_agency
        rest = self.by_agency[shown:]
        return [*self.by_agency[:shown], Figure("All other agencies", sum(f.count for f in rest),
                                                sum(f.share for f in rest))]

    def reviews(self) -> list[tuple[str, int]]:
        return [("Considered", self.considered), ("Commissioned", self.commissioned), ("Completed", self.completed),
                ("Completed within 6 months of the decision", self.completed_within_6_months),
                ("Completed within 12 months of the decision", self.completed_within_12_months)]

    def rows(self) -> list[Row]:
        """Every figure of the report, in the page's order."""
        out = [Row("Reviews", item, figure) for item, figure in self.reviews()]
        out += [Row("Recommendations", "Total", self.recommendations),
                Row("Recommendations", "National", len(self.national))]
        for section, figures in (("Status", self.by_status), ("Theme", self.by_theme),
                                 ("Lead agency", self.by_agency), ("Awaiting feedback by agency",
                                                                   self.awaiting_by_agency)):
            out += [Row(section, f.label, f.count, Percent(f.share)) for f in figures]
        out += [Row("Costs", category, Money(pence)) for category, pence in self.costs_by_category.items()]
        out.append(Row("Costs", "Total", Money(self.costs_total)))
        return out

    def as_dict(self) -> dict[str, Any]:
        """The report as plain data (kept with a meeting as the report it tabled)."""
        data = asdict(self)
        data["start"], data["end"] = self.start.isoformat(), self.end.isoformat()
        for awaited in data["awaiting"]:
            awaited["since"] = awaited["since"].isoformat() if awaited["since"] else None
        return data


def steering_report(session: Session, start: date, end: date, *, today: date) -> SteeringReport:
    """Compute the Steering Group's report for the London days `start` to `end` inclusive.

    Raises:
        FormDataInvalid: on `end`: the period ends after `today` (it would count what has not
        happened yet) or before it starts.
    """
    refuse(period_problems(start, end, today))
    report = SteeringReport(start=start, end=end)
    completed_by_end: set[int] = set()  # seed 001 counts the recommendations of completed reviews
    for case_id, facts in session.execute(select(Case.id, Case.facts)):
        facts = facts or {}
        decided = parse_day(facts.get("decision_date"))
        if decided and start <= decided <= end:
            report.considered += 1
            report.commissioned += facts.get("review_type") in COMMISSIONED
        approved = parse_day(facts.get("report_approved_on"))
        if approved and approved <= end:
            completed_by_end.add(case_id)
        if approved and start <= approved <= end:
            report.completed += 1
            if decided:
                report.completed_within_6_months += approved <= add_months(decided, 6)
                report.completed_within_12_months += approved <= add_months(decided, 12)

    moment = end_of_day(end)
    statuses: Counter[str] = Counter()
    themes: Counter[str] = Counter()
    agencies: Counter[str] = Counter()
    awaiting: Counter[str] = Counter()
    for rec in session.scalars(select(Recommendation).where(Recommendation.case_id.in_(completed_by_end))
                               .options(WITHOUT_STATE).order_by(Recommendation.case_id, Recommendation.number)):
        status = status_on(rec, moment)
        if status not in STATUSES:  # not made yet, or withdrawn
            continue
        statuses[STATUSES[status]] += 1
        themes[rec.theme] += 1
        agencies[rec.lead_agency] += 1
        if status == AWAITING:
            awaiting[rec.lead_agency] += 1
            since = awaited_since_on(rec, moment)
            report.awaiting.append(Awaiting(rec.case.reference, rec.number, rec.lead_agency,
                                            london_day(since) if since else None))
        if rec.scope == "National":
            report.national.append(National(rec.case.reference, rec.number, rec.national_body or "",
                                            rec.text, STATUSES[status]))
    report.recommendations = sum(statuses.values())
    report.by_status = _figures(statuses, list(STATUSES.values()))
    report.by_theme = _figures(themes, [*THEMES, *sorted(set(themes) - set(THEMES))])
    report.by_agency = _figures(agencies)
    report.awaiting_by_agency = _figures(awaiting)
    report.awaiting.sort(key=awaiting_order)
    spent = dict.fromkeys(CATEGORIES, 0)
    for cost in costs_between(session, start, end):
        spent[cost.category] = spent.get(cost.category, 0) + cost.amount_pence
    report.costs_by_category = spent
    return report


# ---------------------------------------------------------------------------------------------
# Dashboards


@dataclass(frozen=True)
class StageTime:
    stage: str
    cases: int  # how many cases have been in the stage
    open_now: int
    median_days: float | None  # over stage visits that have ended
    longest_open_days: float | None  # the longest current stay


def stage_times(session: Session, now: datetime, stage_order: list[str]) -> list[StageTime]:
    """Time spent in each stage: finished stays (median) and the longest stay still running.

    Two queries however many cases there are: the stages' counts (kept by the unit of work in
    `stage_summary`), then for each stage its middle finished stay or two and its earliest running
    one, each found by index (`ix_case_stage_stage_stay`) rather than by sorting every stay."""
    found = {row.stage: row for row in session.scalars(select(StageSummary).where(StageSummary.cases > 0))}
    if not found:
        return []
    days = _days(session, CaseStage.entered_at, func.coalesce(CaseStage.left_at, literal(now, UTCDateTime())))
    # PostgreSQL orders a stage's finished stays by their kept length, as the index does; SQLite by the
    # days it computes itself (whole milliseconds), so that its middle stay is the one it always found
    length = CaseStage.stay_us if session.get_bind().dialect.name == "postgresql" else days
    parts = []
    for stage, row in found.items():
        if row.finished:
            middle = (select(days.label("days")).where(CaseStage.stage == stage, CaseStage.stay_us.is_not(None))
                      .order_by(length).offset((row.finished + 1) // 2 - 1).limit(2 - row.finished % 2).subquery())
            parts.append(select(literal(stage).label("stage"), literal("median").label("what"),
                                func.avg(middle.c.days).label("days")))
        if row.running:
            earliest = (select(days.label("days")).where(CaseStage.stage == stage, CaseStage.stay_us.is_(None),
                                                         CaseStage.left_at.is_(None))
                        .order_by(CaseStage.stay_us, CaseStage.entered_at).limit(1).subquery())  # the index's order
            parts.append(select(literal(stage).label("stage"), literal("longest").label("what"), earliest.c.days))
    figures = {(stage, what): value for stage, what, value in session.execute(union_all(*parts))} if parts else {}
    names = [s for s in stage_order if s in found] + sorted(set(found) - set(stage_order))
    return [StageTime(name, found[name].cases, found[name].running, _float(figures.get((name, "median"))),
                      _float(figures.get((name, "longest")))) for name in names]


def _days(session: Session, start: Any, end: Any) -> ColumnElement[Any]:
    """Days (with their fraction) from `start` to `end`, two UTC timestamps, in the database's own words."""
    if session.get_bind().dialect.name == "postgresql":
        return func.extract("epoch", end - start) / 86400.0
    return func.julianday(end) - func.julianday(start)


def _float(value: Any) -> float | None:
    return None if value is None else float(value)

