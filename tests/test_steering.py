"""Steering Group rules: quorum, financial years and amounts, the dashboard's stage times; the schema."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import select

from engine.platform.calendar import add_months
from engine.platform.errors import FormDataInvalid
from engine.platform.models import AuditEvent, Base
from engine.review import costs, reporting
from engine.review.meetings import Attendee, is_quorate, parse_attendees, record_meeting

from .conftest import Db, World


def _present(*organisations: str) -> list[Attendee]:
    return [Attendee(name=f"Member {i}", organisation=o) for i, o in enumerate(organisations)]


@pytest.mark.parametrize(("organisations", "quorate"), [
    (("Kent Police", "KCC", "NHS Kent"), False),  # 3 members of 3 organisations
    (("Kent Police", "Kent Police", "KCC", "NHS Kent"), False),  # 4 members of 3 organisations
    (("Kent Police", "KCC", "NHS Kent", "Probation"), True),  # 4 of 4
    (("Kent Police", "kent  police ", "KCC", "NHS Kent", "KCC"), False),  # spelling does not make one more
    (("Kent Police", "KCC", "NHS Kent", "Probation", "Probation"), True),
])
def test_quorum_is_four_members_from_different_organisations(organisations: tuple[str, ...], quorate: bool) -> None:
    assert is_quorate(_present(*organisations)) is quorate


def test_attendees_are_read_one_per_line_and_a_bad_line_is_named() -> None:
    found = parse_attendees("Sam Example, Kent Police\n\n  Alex Sample ,  NHS   Kent  \n")
    assert [(a.name, a.organisation) for a in found] == [("Sam Example", "Kent Police"), ("Alex Sample", "NHS Kent")]
    with pytest.raises(FormDataInvalid) as raised:
        parse_attendees("Sam Example, Kent Police\nJust a name")
    assert raised.value.errors == {"attendees": "Line 2 must be 'Name, Organisation'"}
    with pytest.raises(FormDataInvalid):
        parse_attendees("  \n")


def test_a_recorded_meeting_is_audited_with_its_quorum(world: World) -> None:
    at = datetime(2026, 9, 1, 9, 0, tzinfo=UTC)
    with world.uow() as s:
        meeting = record_meeting(s, held_on=date(2026, 9, 1), attendees=_present("A", "B", "C", "D"),
                                 decisions=" Chase the police. ", report_from=None, report_to=None,
                                 actor="carol", at=at)
        assert meeting.quorate and meeting.decisions == "Chase the police."
    with world.db.sessions() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.event_type == "MEETING_RECORDED")).one()
        assert event.details["quorate"] is True and event.details["organisations"] == 4


@pytest.mark.parametrize(("day", "year"), [
    (date(2026, 3, 31), 2025), (date(2026, 4, 1), 2026), (date(2027, 1, 1), 2026), (date(2026, 12, 31), 2026)])
def test_the_financial_year_starts_on_1_april(day: date, year: int) -> None:
    assert costs.financial_year(day) == year
    assert costs.year_label(2025) == "2025-26" and costs.year_label(2099) == "2099-00"


@pytest.mark.parametrize(("text", "pence"), [("1250", 125000), ("£1,250.50", 125050), (" 0.01 ", 1), ("7.5", 750)])
def test_amounts_in_pounds(text: str, pence: int) -> None:
    assert costs.parse_amount(text, "amount") == pence
    assert costs.pounds(125050) == "£1,250.50"


@pytest.mark.parametrize("text", ["", "abc", "12.345", "0", "-5", "NaN", "Infinity", "100000000.01", "1e3", "1_000"])
def test_a_bad_amount_is_refused_on_its_field(text: str) -> None:
    with pytest.raises(FormDataInvalid) as raised:
        costs.parse_amount(text, "amount")
    assert list(raised.value.errors) == ["amount"]


def test_totals_per_financial_year_against_the_budget(world: World) -> None:
    reference = world.start()
    at = datetime(2027, 4, 1, tzinfo=UTC)  # every cost has been paid (none is in the future)
    with world.uow() as s:
        case = s.get(reporting.Case, world.case(reference).id)
        assert case is not None
        costs.add_cost(s, case, category="Independent chair fee", description="", amount=600000,
                       incurred_on=date(2026, 3, 31), actor="carol", at=at)
        costs.add_cost(s, case, category="Overview report author fee", description="", amount=450000,
                       incurred_on=date(2026, 4, 1), actor="carol", at=at)
        costs.add_cost(s, case, category="Other", description="Venue", amount=60000,
                       incurred_on=date(2027, 3, 31), actor="carol", at=at)
        costs.set_budget(s, 2026, 500000, actor="chair", at=at)
        with pytest.raises(FormDataInvalid):
            costs.add_cost(s, case, category="Lunch", description="", amount=1, incurred_on=date(2026, 5, 1),
                           actor="carol", at=at)
    with world.db.sessions() as s:
        years = {t.label: t for t in costs.totals_by_year(s)}
    assert set(years) == {"2026-27", "2025-26"}
    assert years["2026-27"].total == 510000 and years["2026-27"].budget == 500000
    assert years["2026-27"].over_budget and years["2026-27"].remaining == -10000
    assert years["2025-26"].by_category["Independent chair fee"] == 600000 and years["2025-26"].budget is None


def test_the_largest_amount_allowed_is_stored_and_read_back(world: World) -> None:
    reference = world.start()
    largest = costs.parse_amount("100,000,000", "amount")
    at = datetime(2026, 9, 1, tzinfo=UTC)
    with world.uow() as s:
        case = s.get(reporting.Case, world.case(reference).id)
        assert case is not None
        costs.add_cost(s, case, category="Other", description="", amount=largest, incurred_on=date(2026, 5, 1),
                       actor="carol", at=at)
        costs.set_budget(s, 2026, largest, actor="chair", at=at)
    with world.db.sessions() as s:
        (year,) = costs.totals_by_year(s)
    assert (year.total, year.budget) == (largest, largest) == (10_000_000_000, 10_000_000_000)


def test_calendar_months_from_the_decision() -> None:
    assert add_months(date(2025, 8, 31), 6) == date(2026, 2, 28)
    assert add_months(date(2024, 8, 31), 6) == date(2025, 2, 28)
    assert add_months(date(2023, 8, 31), 6) == date(2024, 2, 29)


def test_the_migrations_build_the_tables_the_models_describe(db: Db) -> None:
    import engine.platform.heartbeat  # noqa: F401
    import engine.platform.notifications  # noqa: F401
    import engine.platform.second_factor  # noqa: F401
    import engine.platform.sessions  # noqa: F401
    import engine.review.chasing  # noqa: F401  (every module with tables)
    import engine.review.costs  # noqa: F401
    import engine.review.meetings  # noqa: F401

    with db.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"include_schemas": False})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []
