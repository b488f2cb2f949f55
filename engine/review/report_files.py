"""The Steering Group's report as text, CSV, Excel (XLSX) and PDF, each with the page's figures.

Each writer formats the report's typed values itself: the text and the CSV as the page shows them
("£1,250.50", "56%"), the workbook as numbers in a format (money in pounds, shares as percentages,
days as dates). CSV and Excel go through the one export writer (`platform.exports`), which keeps
what people typed from running as a formula; the PDF is written in a Unicode font.
"""

from __future__ import annotations

from itertools import groupby
from typing import cast

from ..platform import exports
from ..platform.calendar import long_date
from ..platform.exports import Cell, Formatted, Pdf, Sheet, printable
from .costs import pounds
from .reporting import Awaiting, Figure, Money, Percent, Row, SteeringReport, awaiting_order

HEADER = ("Section", "Item", "Figure", "Share")
PERCENT_FORMAT, MONEY_FORMAT = "0%", "£#,##0.00"


def awaiting_since(item: Awaiting) -> str:
    """'5 January 2026', or 'not asked yet' when the recommendation has never been asked about."""
    return long_date(item.since) if item.since else "not asked yet"


def as_text(report: SteeringReport) -> str:
    """The figures as lines for a terminal, one a line, in columns."""
    return "".join(f"{printable(section, one_line=True):<28} {printable(item, one_line=True):<50} "
                   f"{figure!s:>10} {share or ''!s:>5}".rstrip() + "\n"
                   for section, item, figure, share in report.rows())


def _cell(value: int | Money | Percent | None) -> Cell:
    """A figure as a spreadsheet cell: counts as they are, money in pounds, shares as fractions."""
    if isinstance(value, Money):
        return Formatted(value.in_pounds, MONEY_FORMAT, str(value))
    if isinstance(value, Percent):
        return Formatted(value.fraction, PERCENT_FORMAT, str(value))
    return value


def _figure_rows(report: SteeringReport) -> list[list[Cell]]:
    rows: list[Row] = report.rows()
    return [[section, item, _cell(figure), _cell(share)] for section, item, figure, share in rows]


def csv_bytes(report: SteeringReport) -> bytes:
    """The figures as CSV (UTF-8 with a byte order mark, so that Excel reads "£" as a pound sign)."""
    return exports.csv_bytes(HEADER, _figure_rows(report))


def as_xlsx(report: SteeringReport) -> bytes:
    """A workbook: the figures (as the CSV, as numbers), the recommendations awaiting feedback, the national ones."""
    return exports.xlsx_bytes([
        Sheet("Figures", HEADER, _figure_rows(report), widths=(30, 50, 14, 8),
              above=[["DHR Steering Group report", f"{long_date(report.start)} to {long_date(report.end)}"]]),
        Sheet("Awaiting feedback", ("Lead agency", "Case", "Recommendation", "Awaiting since"),
              [[a.lead_agency, a.reference, a.number, a.since] for a in report.awaiting], widths=(40, 16, 16, 18)),
        Sheet("National", ("Case", "Recommendation", "National body", "Status", "Text"),
              [[n.reference, n.number, n.national_body, n.status, n.text] for n in report.national],
              widths=(16, 16, 40, 28, 60)),
    ])


def as_pdf(report: SteeringReport, *, title: str = "DHR Steering Group report") -> bytes:
    """The report on A4: the figures, a bar chart per breakdown, the awaiting and national lists."""
    doc = Pdf(margin=18)
    pdf = doc.fpdf
    pdf.set_auto_page_break(True, 18)
    pdf.add_page()
    doc.font(16, bold=True)
    pdf.cell(0, 10, doc.text(title), new_x="LMARGIN", new_y="NEXT")
    doc.font(11)
    pdf.cell(0, 7, f"{long_date(report.start)} to {long_date(report.end)}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)

    def heading(text: str) -> None:
        if pdf.will_page_break(18):  # keep a heading with what follows it
            pdf.add_page()
        pdf.ln(2)
        doc.font(12, bold=True)
        pdf.cell(0, 8, doc.text(text), new_x="LMARGIN", new_y="NEXT")
        doc.font(10)

    def line(label: str, value: str) -> None:
        pdf.cell(120, 6, doc.text(label))
        pdf.cell(0, 6, doc.text(value), new_x="LMARGIN", new_y="NEXT")

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
        _bars(doc, figures)
    if report.awaiting:
        heading("Recommendations awaiting feedback")
        _awaiting(doc, report.awaiting)
    if report.national:
        heading("National recommendations")
        for nat in report.national:
            said = doc.text(f"{nat.reference} R{nat.number} ({nat.national_body}, {nat.status}):")
            pdf.multi_cell(0, 5, f"{said} {doc.text(nat.text, one_line=False)}", new_x="LMARGIN", new_y="NEXT")
    heading("Costs in the period")
    for category, pence in report.costs_by_category.items():
        line(category, pounds(pence))
    line("Total", pounds(report.costs_total))
    return doc.output()


def _bars(doc: Pdf, figures: list[Figure]) -> None:
    """Horizontal bars: the label whole (wrapped), a bar scaled to the largest figure, count and share."""
    pdf = doc.fpdf
    largest = max((f.count for f in figures), default=0) or 1
    label_width, gap, bar_width, line_height = 78.0, 2.0, 68.0, 5.0
    for figure in figures:
        label = doc.text(figure.label)
        lines = cast(list[str], pdf.multi_cell(label_width, line_height, label, dry_run=True, output="LINES"))
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


def _awaiting(doc: Pdf, awaiting: list[Awaiting]) -> None:
    """Each lead agency's recommendations awaiting its feedback: case, number and since when."""
    pdf = doc.fpdf

    def by_agency(item: Awaiting) -> str:
        return item.lead_agency

    for agency, items in groupby(sorted(awaiting, key=awaiting_order), key=by_agency):
        if pdf.will_page_break(12):  # keep the agency's name with its first recommendation
            pdf.add_page()
        doc.font(10, bold=True)
        pdf.multi_cell(0, 6, doc.text(agency), new_x="LMARGIN", new_y="NEXT")
        doc.font(10)
        for item in items:
            pdf.cell(6, 6)
            pdf.cell(40, 6, doc.text(item.reference))
            pdf.cell(40, 6, f"Recommendation {item.number}")
            since = awaiting_since(item)
            pdf.cell(0, 6, f"awaiting since {since}" if item.since else since, new_x="LMARGIN", new_y="NEXT")
