"""Every download of case data through the web: the register CSV, the Steering Group report (CSV,
Excel, PDF), a case's history CSV and its letters, with what a hostile or careless user typed into
an action plan (tests/hostile.py). Read back with `csv`, `openpyxl`, `pypdf` and `python-docx`."""

from __future__ import annotations

import io
from datetime import UTC, datetime

import docx
import pytest
from openpyxl import load_workbook

from engine.bpmn import runtime
from engine.platform.db import unit_of_work
from engine.platform.users import find_user
from engine.review import letters
from tests import hostile
from tests.conftest import World
from tests.test_exports import CONTROL, csv_rows, no_formulas, pdf_text
from tests.web.conftest import Web

PERIOD = "start=2024-04-01&end=2026-03-31"


@pytest.fixture
def hostile_web(web: Web) -> tuple[Web, int]:
    world = World(web.db, web.clock)
    with web.db.sessions() as s:
        world.users = {"cst": find_user(s, "cst")}
    reference = hostile.build(world, "cst")
    web.clock.set(datetime(2026, 4, 1, 9, 0, tzinfo=UTC))  # the report's period has ended
    with web.db.sessions() as s:
        return web, runtime.get_case(s, reference).id


def test_the_register_csv_keeps_formulas_as_text(hostile_web: tuple[Web, int]) -> None:
    web, _ = hostile_web
    response = web.as_user("cst").get("/register.csv")
    assert response.status_code == 200
    rows = csv_rows(response.data)
    assert rows[0][:3] == ["Case", "Number", "Recommendation"]
    first, second, third = rows[1:]
    assert first[:3] == [hostile.REFERENCE, "1", f"'{hostile.HYPERLINK}"]  # the number stays a number
    assert (first[4], first[6], first[7], first[8]) == ("'+1", "'=cmd|' /C calc'!A0", "'-1", "'@SUM(A1:A9)")
    assert (third[2], third[4], third[7]) == ("'-1", "'@SUM(A1:A9)", "'+1")
    assert second[2] == "Share records\ufffd now\nthen\nagain\ufffd[2J\ufffd review"  # Word's breaks as new lines
    assert second[4] == "Heddlu – Gwasanaeth ŵ’r Cymoedd\ufffd" and second[6] == "Swyddfa’r Cabinet – ŵ"
    assert not any(set(CONTROL) & set(cell) for row in rows for cell in row)


def test_the_report_downloads_keep_formulas_as_text_and_print_welsh(hostile_web: tuple[Web, int]) -> None:
    web, _ = hostile_web
    cst = web.as_user("cst")
    page = cst.get(f"/reports/steering-group?{PERIOD}")
    assert page.status_code == 200 and "Heddlu – Gwasanaeth ŵ’r Cymoedd" in page.get_data(as_text=True)

    rows = csv_rows(cst.get(f"/reports/steering-group.csv?{PERIOD}").data)
    assert ["Lead agency", "'+1", "1", "33%"] in rows and ["Lead agency", "'@SUM(A1:A9)", "1", "33%"] in rows
    assert ["Lead agency", "Heddlu – Gwasanaeth ŵ’r Cymoedd\ufffd", "1", "33%"] in rows

    xlsx = cst.get(f"/reports/steering-group.xlsx?{PERIOD}")
    assert xlsx.status_code == 200
    values = no_formulas(xlsx.data)
    assert "'+1" in values and f"'{hostile.HYPERLINK}" in values and "'=cmd|' /C calc'!A0" in values
    figures = load_workbook(io.BytesIO(xlsx.data))["Figures"]
    plus_one = next(row for row in figures.iter_rows(min_row=3) if row[1].value == "'+1")
    assert (plus_one[1].data_type, plus_one[2].data_type, plus_one[2].value) == ("s", "n", 1)

    pdf = cst.get(f"/reports/steering-group.pdf?{PERIOD}")
    assert pdf.status_code == 200
    text = pdf_text(pdf.data)
    assert "Heddlu – Gwasanaeth ŵ’r Cymoedd" in text and "Swyddfa’r Cabinet – ŵ" in text


def test_the_history_csv_and_letters_survive_control_characters(hostile_web: tuple[Web, int]) -> None:
    web, case_id = hostile_web
    cst = web.as_user("cst")
    history = cst.get(f"/cases/{case_id}/history.csv")
    assert history.status_code == 200
    rows = csv_rows(history.data)
    assert any("Heddlu – Gwasanaeth ŵ’r Cymoedd\ufffd" in row[5] for row in rows[1:])
    assert not any(set(CONTROL) & set(cell) for row in rows for cell in row)
    assert not any(cell[:1] in ("=", "+", "-", "@") for row in rows for cell in row)

    with unit_of_work(web.db.sessions) as s:
        letter = letters.Letter(case_id=case_id, task_id="t", kind="reminder", title="Reminder to the agency",
                                text=f"To: {hostile.WELSH_AGENCY}\n{hostile.CONTROLS}\n", created_at=web.clock.now())
        s.add(letter)
        s.flush()
        letter_id = letter.id
    pdf = cst.get(f"/cases/{case_id}/letters/{letter_id}.pdf")
    assert pdf.status_code == 200
    text = pdf_text(pdf.data)
    assert "To: Heddlu – Gwasanaeth ŵ’r Cymoedd" in text and not set(CONTROL) & set(text)
    word = cst.get(f"/cases/{case_id}/letters/{letter_id}.docx")
    assert word.status_code == 200
    paragraphs = [p.text for p in docx.Document(io.BytesIO(word.data)).paragraphs]
    assert paragraphs[0] == "To: Heddlu – Gwasanaeth ŵ’r Cymoedd\ufffd"
    assert paragraphs[1:4] == ["Share records\ufffd now", "then", "again\ufffd[2J\ufffd review"]
