"""The one export writer (engine/platform/exports.py) and every file made of case data: what a
spreadsheet would run stays text, numbers stay numbers, control characters cannot break a file, and
PDFs print Unicode. Read back with the real readers: `csv`, `openpyxl`, `pypdf`, `python-docx`."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import docx
import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from engine.platform import exports
from engine.platform.exports import Formatted, Sheet
from engine.review import letters, report_files, reporting

from . import hostile
from .conftest import World

NASTY = ["=1+1", "+1", "-1", "@SUM(A1)", "\t=1", "\r=1", "  =1", "=HYPERLINK(\"http://x\",\"y\")"]
# every character XML 1.0 (so Excel and Word) cannot hold, and the ones a terminal acts on
CONTROL = "".join(chr(c) for c in [*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), *range(0x7F, 0xA0)])


def csv_rows(content: bytes) -> list[list[str]]:
    assert content.startswith(b"\xef\xbb\xbf")  # a byte order mark: Excel reads UTF-8
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def no_formulas(content: bytes) -> list[object]:
    """Every cell value of the workbook, after checking that none is a formula."""
    book = load_workbook(io.BytesIO(content))
    values: list[object] = []
    for sheet in book.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                values.append(cell.value)
    return values


def pdf_text(content: bytes) -> str:
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages).split())


def test_text_a_spreadsheet_would_run_gets_a_quote_and_numbers_stay_numbers() -> None:
    for text in NASTY:
        assert exports.spreadsheet_text(text) == "'" + text, repr(text)
    for text in ("Kent Police", "1", "£5", "a=b", "e-mail", "", "’Tis", "ŵ"):
        assert exports.spreadsheet_text(text) == text

    rows = [[text, -1, 2.5, Decimal("-3.10"), None, date(2026, 1, 5)] for text in NASTY]
    got = csv_rows(exports.csv_bytes(["Text", "Int", "Float", "Decimal", "None", "Day"], rows))
    assert got[1:] == [["'" + text, "-1", "2.5", "-3.10", "", "2026-01-05"] for text in NASTY]

    book = load_workbook(io.BytesIO(exports.xlsx_bytes([Sheet("S", ["Text", "Int", "Money"], [
        [text, -1, Formatted(Decimal("-3.10"), "£#,##0.00", "-£3.10")] for text in NASTY])])))
    for (text, number, money), nasty in zip(book["S"].iter_rows(min_row=2), NASTY, strict=True):
        assert (text.data_type, text.value) == ("s", "'" + nasty)
        assert (number.data_type, number.value) == ("n", -1)
        assert (money.value, money.number_format) == (pytest.approx(-3.10), "£#,##0.00")
    no_formulas(exports.xlsx_bytes([Sheet("S", ["Text"], [[text] for text in NASTY])]))
    [[long]] = load_workbook(io.BytesIO(exports.xlsx_bytes([Sheet("S", ["Text"], [["x" * 40000]])])))[
        "S"].iter_rows(min_row=2, values_only=True)
    assert len(long) == 32767 and long.endswith("…")  # as much as Excel opens without a repair


def test_control_characters_are_replaced_in_every_format() -> None:
    text = f"a{CONTROL}b"
    # \v and \f, as Word pastes line and page breaks, become new lines; the rest "�"
    assert exports.printable(text) == "a" + "".join("\n" if c in "\v\f" else "\ufffd" for c in CONTROL) + "b"
    assert exports.printable("x\r\ny\rz\u000bw", one_line=True) == "x y z w"
    assert exports.printable("Gwasanaeth ŵ’r – ‘Tân’") == "Gwasanaeth ŵ’r – ‘Tân’"

    [cell] = csv_rows(exports.csv_bytes(["Text"], [[text]]))[1]
    assert cell == exports.printable(text) and not set(CONTROL) & set(cell)
    [value] = load_workbook(io.BytesIO(exports.xlsx_bytes([Sheet("S", ["Text"], [[text]])])))["S"]["A2":"A2"][0]
    assert value.value == exports.printable(text)
    moment = datetime(2026, 7, 1, 8, 30, tzinfo=UTC)  # an aware time goes in as London's wall clock
    [[written]] = load_workbook(io.BytesIO(exports.xlsx_bytes([Sheet("S", ["When"], [[moment]])])))["S"].iter_rows(
        min_row=2, values_only=True)
    assert written == datetime(2026, 7, 1, 9, 30)

    letter = letters.Letter(id=1, case_id=1, task_id="t", kind="reminder", title="Reminder",
                            text=f"To: Gwasanaeth Tân ŵ’r – Cymru\nRecords{CONTROL}due\n", created_at=moment)
    paragraphs = [p.text for p in docx.Document(io.BytesIO(letters.as_docx(letter))).paragraphs]
    assert paragraphs[0] == "To: Gwasanaeth Tân ŵ’r – Cymru"
    assert paragraphs == exports.printable(letter.text).split("\n")  # Word's breaks as paragraphs
    assert paragraphs[1].startswith("Records\ufffd") and paragraphs[3].endswith("\ufffddue")
    text_of_pdf = pdf_text(letters.as_pdf(letter))
    assert "To: Gwasanaeth Tân ŵ’r – Cymru" in text_of_pdf and not set(CONTROL) & set(text_of_pdf)


def test_the_pdfs_print_unicode_from_case_data(world: World) -> None:
    reference = hostile.build(world, "carol")
    with world.db.sessions() as s:
        report = reporting.steering_report(s, *hostile.PERIOD, today=hostile.PERIOD[1])
    text = pdf_text(report_files.as_pdf(report))
    assert "Heddlu – Gwasanaeth ŵ’r Cymoedd" in text  # the lead agency, in the bars and the awaiting list
    assert "Swyddfa’r Cabinet – ŵ" in text and "Swyddfa?r" not in text
    assert f"{reference} R2" in text and not set(CONTROL) & set(text)

    letter = letters.Letter(id=1, case_id=1, task_id="t", kind="reminder", title="Reminder",
                            text="Annwyl – ‘Gwasanaeth ŵ’\n", created_at=world.clock.now())
    assert "Annwyl – ‘Gwasanaeth ŵ’" in pdf_text(letters.as_pdf(letter))


def test_the_report_files_keep_what_was_typed_as_text(world: World) -> None:
    hostile.build(world, "carol")
    with world.db.sessions() as s:
        report = reporting.steering_report(s, *hostile.PERIOD, today=hostile.PERIOD[1])

    rows = csv_rows(report_files.csv_bytes(report))
    assert ["Lead agency", "'+1", "1", "33%"] in rows and ["Lead agency", "'@SUM(A1:A9)", "1", "33%"] in rows
    assert ["Recommendations", "Total", "3", ""] in rows
    assert not any(cell[:1] in ("=", "+", "-", "@") for row in rows for cell in row)

    values = no_formulas(report_files.as_xlsx(report))
    assert "'+1" in values and "'@SUM(A1:A9)" in values and f"'{hostile.HYPERLINK}" in values
    assert "'=cmd|' /C calc'!A0" in values  # the national body
    book = load_workbook(io.BytesIO(report_files.as_xlsx(report)))
    national = list(book["National"].iter_rows(min_row=2, values_only=True))
    assert national[0][4] == f"'{hostile.HYPERLINK}"
    assert national[1][2] == "Swyddfa’r Cabinet – ŵ" and national[1][4] == exports.printable(hostile.CONTROLS)
    figures = {(r[0], r[1]): r[2] for r in book["Figures"].iter_rows(min_row=3, values_only=True)}
    assert figures[("Lead agency", "'+1")] == 1
    assert figures[("Lead agency", "Heddlu – Gwasanaeth ŵ’r Cymoedd\ufffd")] == 1

    text = report_files.as_text(report)
    assert "+1" in text and "\x1b" not in text and "\x01" not in text
