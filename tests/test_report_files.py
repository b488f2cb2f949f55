"""The Steering Group's report as files (engine/report_files.py), read back with real readers: `csv`,
`openpyxl` and `pypdf`, and compared with the report's own figures (the `seed_001` fixture)."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import date, datetime

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from engine.review import report_files, reporting
from engine.review.reporting import Awaiting, Money, Percent, SteeringReport

from . import seed_001
from .conftest import World

COSTS = {"Independent chair fee": 125050, "Overview report author fee": 98000, "Other": 1999}


@pytest.fixture
def report(seeded: World) -> SteeringReport:
    with seeded.db.sessions() as s:
        found = reporting.steering_report(s, *seed_001.PERIOD, today=seed_001.PERIOD[1])
    return replace(found, costs_by_category=COSTS)  # the seed has no costs: give it some money to show


def _pdf_text(content: bytes) -> str:
    """The PDF's text with its line breaks as spaces (a wrapped label reads as one)."""
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages).split())


def test_csv_xlsx_and_pdf_carry_the_figures_of_the_page(report: SteeringReport) -> None:
    expected = [[str(v) if v is not None else "" for v in row] for row in report.rows()]

    content = report_files.csv_bytes(report)
    assert content.startswith(b"\xef\xbb\xbf")  # the byte order mark Excel needs to read UTF-8
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    assert rows[0] == list(report_files.HEADER)
    assert rows[1:] == expected
    assert ["Status", "Completed", "47", "56%"] in rows and ["Costs", "Total", "£2,250.49", ""] in rows

    book = load_workbook(io.BytesIO(report_files.as_xlsx(report)))
    sheet = book["Figures"]
    cells = list(sheet.iter_rows(min_row=3))
    assert len(cells) == len(report.rows())
    for (section, item, figure, share), (a, b, c, d) in zip(report.rows(), cells, strict=True):
        assert (a.value, b.value) == (section, item)
        if isinstance(figure, int):
            assert c.value == figure and isinstance(c.value, int), (section, item)
        else:  # money: the pence as pounds, shown as pounds
            assert section == "Costs" and isinstance(figure, Money)
            pence = report.costs_total if item == "Total" else report.costs_by_category[item]
            assert figure.pence == pence
            assert c.value == pytest.approx(pence / 100) and c.number_format == "£#,##0.00", item
        if isinstance(share, Percent):  # the exact share, which Excel shows rounded as the page does
            assert d.value == pytest.approx(share.value / 100) and d.number_format == "0%", item
            assert int(d.value * 100 + 0.5) == share.whole_percent, item
        else:
            assert d.value is None, item
    completed = next(row for row in cells if (row[0].value, row[1].value) == ("Status", "Completed"))
    assert (completed[2].value, completed[3].value) == (47, pytest.approx(47 / 84))
    by_status = {f.label: f for f in report.by_status}
    assert abs(completed[3].value * 100 - by_status["Completed"].share) <= 0.5
    assert next(row for row in cells if row[1].value == "Independent chair fee")[2].value == pytest.approx(1250.50)

    waiting = book["Awaiting feedback"]
    assert waiting.max_row == 1 + 24
    first = [cell for cell in waiting[2]]
    assert first[3].is_date and first[3].value == datetime(2026, 1, 5)  # a date Excel can sort and filter
    assert [cell.value for cell in waiting["A"][1:]] == sorted(cell.value for cell in waiting["A"][1:])
    assert book["National"].max_row == 1 + 12

    text = _pdf_text(report_files.as_pdf(report))
    assert "1 April 2024 to 31 March 2026" in text and "01 April" not in text
    assert "Awaiting feedback" in text and "24 (29%)" in text and "47 (56%)" in text
    for theme in ("Awareness and Training for Healthcare Professionals",
                  "Complex Needs (Alcohol, Drugs, Mental Health)", "Information Sharing and Multi-Agency Working"):
        assert theme in text  # whole, however long
    assert "Recommendations awaiting feedback" in text
    assert text.count("awaiting since 5 January 2026") == 24
    assert "£1,250.50" in text


def test_the_pdf_lists_what_each_agency_owes(report: SteeringReport) -> None:
    never_asked = replace(report, awaiting=[
        Awaiting("Case01/2024", 2, "St Mary’s Trust", None),
        Awaiting("Case00/2024", 3, "Kent Police", date(2026, 1, 5)),
        Awaiting("Case02/2024", 1, "Kent Police", date(2025, 12, 1))])
    text = _pdf_text(report_files.as_pdf(never_asked))
    listed = text[text.index("Recommendations awaiting feedback"):text.index("National recommendations")]
    assert listed.index("Kent Police") < listed.index("Case02/2024") < listed.index("Case00/2024")
    assert "Case02/2024 Recommendation 1 awaiting since 1 December 2025" in listed
    assert "St Mary’s Trust Case01/2024 Recommendation 2 not asked yet" in listed
    assert report_files.awaiting_since(never_asked.awaiting[0]) == "not asked yet"
