"""The Steering Group's report as files: CSV, Excel (XLSX) and PDF, each with the page's figures."""

from __future__ import annotations

import csv
import io
from typing import Any

from .costs import pounds
from .reporting import Figure, SteeringReport

HEADER = ("Section", "Item", "Figure", "Share")


def as_csv(report: SteeringReport) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    writer.writerows(report.rows())
    return buffer.getvalue()


def as_xlsx(report: SteeringReport) -> bytes:
    """A workbook: the figures (as the CSV), the recommendations awaiting feedback, the national ones."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = "Figures"
    sheet.append(["DHR Steering Group report", f"{report.start.isoformat()} to {report.end.isoformat()}"])
    sheet.append(list(HEADER))
    for cell in sheet[2]:
        cell.font = Font(bold=True)
    for row in report.rows():
        sheet.append(list(row))
    for column, width in zip("ABCD", (30, 50, 14, 8), strict=True):
        sheet.column_dimensions[column].width = width
    waiting = book.create_sheet("Awaiting feedback")
    waiting.append(["Case", "Recommendation", "Lead agency", "Awaiting since"])
    for item in report.awaiting:
        waiting.append([item.reference, item.number, item.lead_agency, item.since])
    national = book.create_sheet("National")
    national.append(["Case", "Recommendation", "National body", "Status", "Text"])
    for nat in report.national:
        national.append([nat.reference, nat.number, nat.national_body, nat.status, nat.text])
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
    pdf.cell(0, 7, f"{report.start:%d %B %Y} to {report.end:%d %B %Y}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)

    def heading(text: str) -> None:
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
    """Horizontal bars: label, bar scaled to the largest figure, count and share."""
    largest = max((f.count for f in figures), default=0) or 1
    label_width, bar_width = 78.0, 70.0
    for figure in figures:
        if pdf.will_page_break(6):
            pdf.add_page()
        x, y = pdf.get_x(), pdf.get_y()
        pdf.cell(label_width, 6, _latin(figure.label[:48]))
        pdf.set_fill_color(29, 112, 184)  # GOV.UK blue
        if figure.count:
            pdf.rect(x + label_width, y + 1, bar_width * figure.count / largest, 4, style="F")
        pdf.set_xy(x + label_width + bar_width + 2, y)
        pdf.cell(0, 6, f"{figure.count} ({figure.percent})", new_x="LMARGIN", new_y="NEXT")
