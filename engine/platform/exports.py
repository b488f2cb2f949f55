"""Every file the product hands out: one writer for CSV and Excel, and the text rules for PDF and Word.

Whatever a person typed into a case can end up in a download, so every download goes through here:
- a text cell that a spreadsheet would run as a formula (it starts with `=`, `+`, `-`, `@`, a tab
  or a carriage return) gets a leading `'`, so it is shown as the text it is; numbers written as
  numbers stay numbers;
- characters no document can hold (the control characters XML forbids, which make openpyxl and
  python-docx refuse the whole file) are replaced, so one odd character in one case cannot stop a
  report or a letter for everyone;
- PDFs are written in a Unicode font (DejaVu Sans) so that "–", "’" and Welsh "ŵ" print as
  themselves.
"""

from __future__ import annotations

import csv
import io
import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from .calendar import LONDON

log = logging.getLogger(__name__)

REPLACEMENT = "\ufffd"
# C0 controls but tab, line feed and carriage return (XML 1.0 forbids them), DEL and the C1 controls
# (a terminal may act on them), lone surrogates (not UTF-8) and the two non-characters XML forbids.
_UNPRINTABLE = re.compile("[\x00-\x08\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
EXCEL_CELL_CHARACTERS = 32767  # Excel's limit: a longer cell makes it "repair" the workbook
DATE_FORMAT = "d mmmm yyyy"
DATETIME_FORMAT = "d mmmm yyyy hh:mm"


def _replace_unprintable(text: str) -> str:
    # Word pastes a line break as \v and a page break as \f: they stay breaks
    return _UNPRINTABLE.sub(REPLACEMENT, text.replace("\x0b", "\n").replace("\x0c", "\n"))


def printable(text: str, *, one_line: bool = False) -> str:
    """Text for a document (PDF, Word, a terminal): what none can hold replaced, line ends as "\\n";
    on `one_line`, every run of white space as one space."""
    text = _replace_unprintable(text.replace("\r\n", "\n").replace("\r", "\n"))
    return " ".join(text.split()) if one_line else text


def spreadsheet_text(text: str) -> str:
    """Text for a spreadsheet cell: what no file can hold replaced, and a leading `'` if a
    spreadsheet would run it as a formula."""
    text = _replace_unprintable(text)
    return "'" + text if text.lstrip(" ")[:1] in _FORMULA_START else text


# ---------------------------------------------------------------------------------------------
# CSV and Excel


@dataclass(frozen=True)
class Formatted:
    """A number a spreadsheet shows in a format (money, a percentage), and the text a CSV carries."""

    value: int | float | Decimal
    excel_format: str
    text: str


Cell = str | int | float | Decimal | date | datetime | Formatted | None


def _csv_cell(value: Cell) -> str | int | float | Decimal:
    if value is None:
        return ""
    if isinstance(value, Formatted):
        return spreadsheet_text(value.text)
    if isinstance(value, bool):
        return "Yes" if value else "No"
    if isinstance(value, datetime):
        return value.astimezone(LONDON).isoformat(timespec="minutes") if value.tzinfo else value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, int | float | Decimal):
        return value  # a number stays a number, "-1" and all
    return spreadsheet_text(str(value))


def csv_text(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> str:
    """The rows as CSV under their header, every text cell made safe to open in a spreadsheet."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow([_csv_cell(h) for h in header])
    writer.writerows([_csv_cell(value) for value in row] for row in rows)
    return buffer.getvalue()


def csv_bytes(header: Sequence[str], rows: Iterable[Sequence[Cell]]) -> bytes:
    """The CSV as UTF-8 with a byte order mark, so that Excel reads "£" and "’" as themselves."""
    return csv_text(header, rows).encode("utf-8-sig")


@dataclass
class Sheet:
    """One worksheet: rows above the header (a title), the header in bold, the rows, column widths."""

    title: str
    header: Sequence[str]
    rows: Sequence[Sequence[Cell]]
    widths: Sequence[float] = ()
    above: Sequence[Sequence[Cell]] = field(default_factory=list)


def xlsx_bytes(sheets: Sequence[Sheet]) -> bytes:
    """A workbook of the sheets: numbers as numbers, dates as dates, text as text (never a formula)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    book = Workbook()
    book.remove(book.active)
    for sheet in sheets:
        work = book.create_sheet(sheet.title)
        for number, row in enumerate([*sheet.above, sheet.header, *sheet.rows], start=1):
            _write_row(work, number, row)
        for cell in work[len(sheet.above) + 1]:
            cell.font = Font(bold=True)
        for index, width in enumerate(sheet.widths, start=1):
            work.column_dimensions[get_column_letter(index)].width = width
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def _write_row(work: Any, number: int, row: Sequence[Cell]) -> None:
    for column, value in enumerate(row, start=1):
        cell = work.cell(number, column)
        if value is None:
            continue
        if isinstance(value, Formatted):
            cell.value, cell.number_format = value.value, value.excel_format
        elif isinstance(value, bool):
            cell.value = value
        elif isinstance(value, datetime):
            local = value.astimezone(LONDON).replace(tzinfo=None) if value.tzinfo else value
            cell.value, cell.number_format = local, DATETIME_FORMAT
        elif isinstance(value, date):
            cell.value, cell.number_format = value, DATE_FORMAT
        elif isinstance(value, int | float | Decimal):
            cell.value = value
        else:
            text = spreadsheet_text(str(value))
            if len(text) > EXCEL_CELL_CHARACTERS:
                text = text[:EXCEL_CELL_CHARACTERS - 1] + "…"
            cell.value = text
            cell.data_type = "s"  # text, whatever it starts with: openpyxl takes "=…" for a formula


# ---------------------------------------------------------------------------------------------
# PDF

# DejaVu Sans, from Debian's fonts-dejavu-core (`make setup` installs it); other systems keep it elsewhere.
FONT_DIRS = (Path("/usr/share/fonts/truetype/dejavu"), Path("/usr/share/fonts/dejavu"),
             Path("/usr/share/fonts/TTF"), Path("/usr/local/share/fonts"), Path("/opt/homebrew/share/fonts"))
FONT_FILES = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf"}
FONT = "DejaVu"


def font_files() -> dict[str, Path] | None:
    """DejaVu Sans's regular and bold files, or None when the font is not installed."""
    for folder in FONT_DIRS:
        found = {style: folder / name for style, name in FONT_FILES.items()}
        if all(path.is_file() for path in found.values()):
            return found
    return None


class Pdf:
    """An A4 PDF in DejaVu Sans, every text put through `text()` first.

    Without the font (a machine set up by hand, not by `make setup`) it falls back to the PDF core
    font Helvetica, which holds Latin-1 only: other characters then print as "?", and a warning
    says why.
    """

    def __init__(self, margin: float) -> None:
        from fpdf import FPDF

        self.fpdf = FPDF(format="A4")
        self.fpdf.set_margins(margin, margin, margin)
        files = font_files()
        self.unicode = files is not None
        if files is not None:
            for style, path in files.items():
                self.fpdf.add_font(FONT, style, str(path))
            self.family = FONT
        else:
            log.warning("DejaVu Sans is not installed (Debian: fonts-dejavu-core): PDFs keep to Latin-1")
            self.family = "Helvetica"

    def font(self, size: float, bold: bool = False) -> None:
        self.fpdf.set_font(self.family, "B" if bold else "", size)

    def text(self, value: Any, *, one_line: bool = True) -> str:
        """Case data as the PDF can print it: printable and, without the Unicode font, Latin-1."""
        text = printable(str(value), one_line=one_line).replace("\t", "    ")  # the font has no tab
        return text if self.unicode else text.encode("latin-1", "replace").decode("latin-1")

    def output(self) -> bytes:
        return bytes(self.fpdf.output())
