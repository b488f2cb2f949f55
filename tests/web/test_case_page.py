"""The case pages: the report deadline with the days left, the stages, and uploaded documents."""

from __future__ import annotations

from datetime import UTC, date, datetime

from sqlalchemy import select

from engine.platform.db import unit_of_work
from engine.platform.models import Case
from tests.conftest import POSTGRES_IN_SECOND_STEP
from tests.web.conftest import Web
from webforms.display import deadline

# what the case page shows; its queries run on PostgreSQL in test_read_models and test_page_statements
pytestmark = POSTGRES_IN_SECOND_STEP


def test_days_left_are_counted_in_london_days() -> None:
    late_evening = datetime(2026, 6, 30, 23, 30, tzinfo=UTC)  # already 1 July in London (BST)
    assert deadline(date(2026, 7, 1), late_evening) == "1 July 2026 (due today)"
    assert deadline(date(2026, 7, 2), late_evening) == "2 July 2026 (1 day left)"
    assert deadline(date(2027, 2, 28), late_evening) == "28 February 2027 (242 days left)"
    assert deadline(date(2026, 6, 28), late_evening) == "28 June 2026 (overdue by 3 days)"
    assert deadline(None, late_evening) == ""


def test_the_case_list_and_page_show_the_report_deadline(web: Web) -> None:
    web.deploy()
    case_id = web.start()
    with unit_of_work(web.db.sessions) as s:
        case = s.get(Case, case_id)
        assert case is not None
        case.deadline_on = date(2027, 2, 28)  # as the DHR diagram's deadline timer projects it
    cst = web.as_user("cst")
    today = web.clock.now().date()
    expected = f"28 February 2027 ({(date(2027, 2, 28) - today).days} days left)"
    assert expected in cst.get("/cases").get_data(as_text=True)
    assert expected in cst.get(f"/cases/{case_id}").get_data(as_text=True)


def test_the_case_page_shows_the_stages_done_current_and_to_come(web: Web) -> None:
    from pathlib import Path

    web.deploy(Path(__file__).resolve().parent.parent.parent / "processes")
    case_id = web.start("Iris", process="dhr_review")
    with unit_of_work(web.db.sessions) as s:
        case = s.get(Case, case_id)
        assert case is not None
        case.stage = "Conducting the review"  # as if commissioning were done
    page = web.as_user("cst").get(f"/cases/{case_id}").get_data(as_text=True)
    stages = page.split('data-testid="stages"')[1].split("</ol>")[0]
    assert stages.count('data-state="done"') == 1 and stages.count('data-state="current"') == 1
    assert stages.count('data-state="to come"') == 3
    assert stages.index("Commissioning the review") < stages.index("Dissemination and learning")


def test_uploaded_documents_are_listed_and_download_as_attachments(web: Web) -> None:
    from pathlib import Path

    from engine.bpmn import runtime
    from engine.platform.users import find_user

    web.deploy(Path(__file__).resolve().parent.parent / "documents")
    case_id = web.start("Docs", process="papers")
    with unit_of_work(web.db.sessions) as s:
        runtime.complete_task(s, web.task(case_id, "upload").id, {
            "summary": "IMR", "report": "data:text/plain;name=imr.txt;base64,SU1S"},
            user=find_user(s, "cst"), clock=web.clock)
    cst = web.as_user("cst")
    page = cst.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "imr.txt" in page and '<span data-testid="document-label">Report</span>' in page
    link = page.split('data-testid="document-link"')[0].rsplit('href="', 1)[1].split('"')[0]
    response = cst.get(link)
    assert response.status_code == 200 and response.data == b"IMR"
    assert response.headers["Content-Disposition"] == 'attachment; filename="imr.txt"'
    assert cst.get(f"/cases/{case_id}/documents/0").status_code == 404
    assert web.as_user("panel").get(link).status_code == 404  # not a member of the case


def test_letters_are_listed_and_download_as_pdf_and_word(web: Web) -> None:
    import io
    from pathlib import Path

    import pypdf

    from engine.review import letters

    web.deploy(Path(__file__).resolve().parent.parent.parent / "processes")
    case_id = web.start("Iris", process="dhr_review")
    with unit_of_work(web.db.sessions) as s:
        s.add(letters.Letter(case_id=case_id, task_id="t", kind="reminder", title="Reminder to the agency",
                             text="To: Police\nReminder: records\n", created_at=web.clock.now()))
    cst = web.as_user("cst")
    page = cst.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "Reminder to the agency" in page
    pdf_link = page.split('data-testid="letter-pdf"')[0].rsplit('href="', 1)[1].split('"')[0]
    response = cst.get(pdf_link)
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "To: Police" in pypdf.PdfReader(io.BytesIO(response.data)).pages[0].extract_text()
    assert cst.get(pdf_link.replace(".pdf", ".docx")).status_code == 200
    assert cst.get(pdf_link.replace(".pdf", ".exe")).status_code == 404


def _case_with_a_stuck_timer(web: Web) -> int:
    """A case whose timer failed to fire five times (its script divides by zero): stuck."""
    from datetime import timedelta
    from pathlib import Path

    from engine.bpmn import runtime, timers

    web.deploy(Path(__file__).resolve().parent.parent / "timers")
    due = web.clock.now() + timedelta(hours=1)
    with unit_of_work(web.db.sessions) as s:
        case_id = runtime.start_case(s, process_id="waiting", pseudonym="Broken", year=2026, actor="test",
                                     clock=web.clock, data={"due": due.isoformat(), "divisor": 0}).id
    web.clock.set(due)
    for _ in range(timers.MAX_ATTEMPTS):
        timers.run_due(web.db.sessions, web.clock)
        web.clock.advance(timedelta(hours=1))
    return case_id


def test_a_stuck_timer_shows_its_error_and_a_process_owner_can_retry_it(web: Web) -> None:
    case_id = _case_with_a_stuck_timer(web)
    owner = web.as_user("owner")
    page = owner.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'data-testid="stuck"' in page and "division by zero" in page and 'data-testid="retry"' in page
    assert 'data-testid="retry"' not in web.as_user("cst").get(f"/cases/{case_id}").get_data(as_text=True)
    timer_id = page.split("/timers/")[1].split("/retry")[0]
    assert web.as_user("cst").post(f"/cases/{case_id}/timers/{timer_id}/retry").status_code == 403
    assert owner.post(f"/cases/{case_id}/timers/{timer_id}/retry").status_code == 302
    assert 'data-testid="stuck"' not in owner.get(f"/cases/{case_id}").get_data(as_text=True)


def test_an_administrator_finds_and_retries_a_stuck_timer_without_seeing_the_case(web: Web) -> None:
    from engine.platform.audit import AuditType
    from engine.platform.models import AuditEvent, Timer

    case_id = _case_with_a_stuck_timer(web)
    admin = web.as_user("admin")
    assert admin.get(f"/cases/{case_id}").status_code == 404  # an administrator sees no case data
    page = admin.get("/admin/timers").get_data(as_text=True)
    assert 'data-testid="failed-timer"' in page and "Broken/2026" in page and "division by zero" in page
    timer_id = page.split("/timers/")[1].split("/retry")[0]
    response = admin.post(f"/cases/{case_id}/timers/{timer_id}/retry")
    assert response.status_code == 302 and response.headers["Location"].endswith("/admin/timers")
    with web.db.sessions() as s:
        timer = s.get(Timer, timer_id)
        assert timer is not None and (timer.status, timer.attempts) == ("waiting", 0)
        retried = s.scalars(select(AuditEvent).where(AuditEvent.event_type == AuditType.TIMER_RETRIED.value)).one()
        assert retried.actor == "admin"
    assert 'data-testid="no-failed-timers"' in admin.get("/admin/timers").get_data(as_text=True)
    assert web.as_user("panel").get("/admin/timers").status_code == 403
