"""The Steering Group's report as files: CSV, Excel (XLSX) and PDF, each with the page's figures."""

from __future__ import annotations

import csv
import io
import re
from decimal import Decimal
from itertools import groupby
from typing import Any

from ..platform.calendar import long_date, parse_day
from .costs import pounds
from .reporting import Awaiting, Figure, SteeringReport

HEADER = ("Section", "Item", "Figure", "Share")
PERCENT_FORMAT, MONEY_FORMAT, DATE_FORMAT = "0%", "£#,##0.00", "d mmmm yyyy"
_MONEY = re.compile(r"^(-?)£([\d,]+\.\d\d)$")


def as_csv(report: SteeringReport) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerows(report.rows())
    return buffer.getvalue()


def csv_bytes(report: SteeringReport) -> bytes:
    """The CSV as UTF-8 with a byte order mark, so that Excel reads "£" as a pound sign."""
    return as_csv(report).encode("utf-8-sig")


def awaiting_since(item: Awaiting) -> str:
    """'5 January 2026', or 'not asked yet' when the recommendation has never been asked about."""
    day = parse_day(item.since)
    return long_date(day) if day else "not asked yet"


def _figure_cell(value: int | str) -> tuple[int | Decimal | str, str | None]:
    """A figure of `rows()` as a number and its Excel format: counts as they are, money in pounds."""
    if isinstance(value, int):
        return value, None
    money = _MONEY.match(value)
    if money:
        return Decimal(money.group(1) + money.group(2).replace(",", "")), MONEY_FORMAT
    return value, None


def _share_cell(share: str) -> Decimal | None:
    """'56%' as 0.56 (the share the page shows, so the sheet reads the same); None when there is none."""
    return Decimal(share.rstrip("%")) / 100 if share.endswith("%") else None


def as_xlsx(report: SteeringReport) -> bytes:
    """A workbook: the figures (as the CSV, as numbers), the recommendations awaiting feedback, the national ones."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = "Figures"
    sheet.append(["DHR Steering Group report", f"{long_date(report.start)} to {long_date(report.end)}"])
    sheet.append(list(HEADER))
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for section, item, figure, share in report.rows():
        value, number_format = _figure_cell(figure)
        sheet.append([section, item, value, _share_cell(share)])
        row = sheet.max_row
        if number_format:
            sheet.cell(row, 3).number_format = number_format
        if share:
            sheet.cell(row, 4).number_format = PERCENT_FORMAT
    for column, width in zip("ABCD", (30, 50, 14, 8), strict=True):
        sheet.column_dimensions[column].width = width
    waiting = book.create_sheet("Awaiting feedback")
    waiting.append(["Lead agency", "Case", "Recommendation", "Awaiting since"])
    for awaited in report.awaiting:
        waiting.append([awaited.lead_agency, awaited.reference, awaited.number, parse_day(awaited.since)])
        waiting.cell(waiting.max_row, 4).number_format = DATE_FORMAT
    national = book.create_sheet("National")
    national.append(["Case", "Recommendation", "National body", "Status", "Text"])
    for nat in report.national:
        national.append([nat.reference, nat.number, nat.national_body, nat.status, nat.text])
    for extra, widths in ((waiting, (40, 16, 16, 18)), (national, (16, 16, 40, 28, 60))):
        for cell in extra[1]:
            cell.font = Font(bold=True)
        for column, width in zip("ABCDE", widths, strict=False):
            extra.column_dimensions[column].width = width
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _latin(text: str) -> str:
    return text.encode("latin-1", "replace").decode("latin-1")  # the PDF core fonts are Latin-1


def as_pdf(report: SteeringReport, *, title: str = "DHR Steering Group report") -> bytes:
    """The report on A4: the figures, a bar chart per breakdown, the awaiting and national lists."""
    from fpdf import FPDF

    pdf = FPDF(format="A4")
    pdf.set_margins(18, 18, 18)
    pdf.set_auto_page_break(True, 18)
    pdf.add_page()
    pdf.set_font("Helvetica", "B", 16)
    pdf.cell(0, 10, _latin(title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=11)
    pdf.cell(0, 7, f"{long_date(report.start)} to {long_date(report.end)}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)

    def heading(text: str) -> None:
        if pdf.will_page_break(18):  # keep a heading with what follows it
            pdf.add_page()
        pdf.ln(2)
        pdf.set_font("Helvetica", "B", 12)
        pdf.cell(0, 8, _latin(text), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=10)

    def line(label: str, value: str) -> None:
        pdf.cell(120, 6, _latin(label))
        pdf.cell(0, 6, _latin(value), new_x="LMARGIN", new_y="NEXT")

    heading("Reviews")
    for item, figure in report.reviews():
        line(item, str(figure))
    heading("Recommendations")
    line("Total", str(report.recommendations))
    line("National", str(len(report.national)))
    for name, figures in (("By status", report.by_status), ("By theme", report.by_theme),
                          ("By lead agency", report.top_agencies()),
                          ("Awaiting feedback, by lead agency", report.awaiting_by_agency)):
        heading(name)
        _bars(pdf, figures)
    if report.awaiting:
        heading("Recommendations awaiting feedback")
        _awaiting(pdf, report.awaiting)
    if report.national:
        heading("National recommendations")
        for nat in report.national:
            pdf.multi_cell(0, 5, _latin(f"{nat.reference} R{nat.number} ({nat.national_body}, {nat.status}): "
                                        f"{nat.text}"), new_x="LMARGIN", new_y="NEXT")
    heading("Costs in the period")
    for category, pence in report.costs_by_category.items():
        line(category, pounds(pence))
    line("Total", pounds(report.costs_total))
    return bytes(pdf.output())


def _bars(pdf: Any, figures: list[Figure]) -> None:
    """Horizontal bars: the label whole (wrapped), a bar scaled to the largest figure, count and share."""
    largest = max((f.count for f in figures), default=0) or 1
    label_width, gap, bar_width, line_height = 78.0, 2.0, 68.0, 5.0
    for figure in figures:
        label = _latin(figure.label)
        lines = pdf.multi_cell(label_width, line_height, label, dry_run=True, output="LINES")
        height = max(len(lines), 1) * line_height + 1.5
        if pdf.will_page_break(height):
            pdf.add_page()
        x, y = pdf.get_x(), pdf.get_y()
        pdf.multi_cell(label_width, line_height, label, new_x="RIGHT", new_y="TOP")
        pdf.set_fill_color(29, 112, 184)  # GOV.UK blue
        if figure.count:
            pdf.rect(x + label_width + gap, y + 0.75, bar_width * figure.count / largest, line_height - 1.5,
                     style="F")
        pdf.set_xy(x + label_width + gap + bar_width + gap, y)
        pdf.cell(0, line_height, f"{figure.count} ({figure.percent})")
        pdf.set_xy(x, y + height)


def _awaiting(pdf: Any, awaiting: list[Awaiting]) -> None:
    """Each lead agency's recommendations awaiting its feedback: case, number and since when."""
    def by_agency(item: Awaiting) -> str:
        return item.lead_agency

    for agency, items in groupby(sorted(awaiting, key=lambda a: (a.lead_agency, a.since, a.reference, a.number)),
                                 key=by_agency):
        if pdf.will_page_break(12):  # keep the agency's name with its first recommendation
            pdf.add_page()
        pdf.set_font("Helvetica", "B", 10)
        pdf.multi_cell(0, 6, _latin(agency), new_x="LMARGIN", new_y="NEXT")
        pdf.set_font("Helvetica", size=10)
        for item in items:
            pdf.cell(6, 6)
            pdf.cell(40, 6, _latin(item.reference))
            pdf.cell(40, 6, f"Recommendation {item.number}")
            since = awaiting_since(item)
            pdf.cell(0, 6, f"awaiting since {since}" if parse_day(item.since) else since,
                     new_x="LMARGIN", new_y="NEXT")
