"""The studio's Timer panel: the date a draft's timer gives for an example case, worked out by the
engine from the draft's own scripts, messages and forms (real diagrams of processes/)."""

from __future__ import annotations

from datetime import UTC, datetime

from engine.bpmn.library import read_folder
from engine.bpmn.timer_example import timer_example
from engine.platform.clock import SettableClock
from tests.web.conftest import PROCESSES

AUGUST_31 = SettableClock(datetime(2026, 8, 31, 10, 0, tzinfo=UTC))


def test_the_six_month_deadline_of_an_example_case_is_in_calendar_months() -> None:
    files = read_folder(PROCESSES)
    breach = timer_example(files, "dhr_review.bpmn", "deadline_passed", AUGUST_31)
    reminder = timer_example(files, "dhr_review.bpmn", "deadline_month_away", AUGUST_31)
    # decided on 31 August: due 28 February (calendar months), breached the morning after, reminded a month before
    assert breach.ok and breach.fires_at == datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
    assert breach.text.startswith("1 March 2027, 09:00")
    assert reminder.fires_at == datetime(2027, 1, 28, 9, 0, tzinfo=UTC)


def test_an_edited_script_moves_the_example_date() -> None:
    files = read_folder(PROCESSES)
    files["dhr_review.bpmn"] = files["dhr_review.bpmn"].replace("add_months(clock_start_date, 6)",
                                                                "add_months(clock_start_date, 12)")
    breach = timer_example(files, "dhr_review.bpmn", "deadline_passed", AUGUST_31)
    assert breach.fires_at == datetime(2027, 9, 1, 8, 0, tzinfo=UTC)  # 09:00 in British Summer Time


def test_a_timer_of_a_called_process_takes_its_request_from_the_caller() -> None:
    example = timer_example(read_folder(PROCESSES), "chase.bpmn", "reminder_due", AUGUST_31)
    assert example.ok and example.fires_at is not None and example.fires_at > AUGUST_31.now()


def test_what_cannot_be_worked_out_is_said_plainly() -> None:
    files = read_folder(PROCESSES)
    files["dhr_review.bpmn"] = files["dhr_review.bpmn"].replace(">deadline_breach_at<", ">no_such_variable<")
    missing = timer_example(files, "dhr_review.bpmn", "deadline_passed", AUGUST_31)
    assert not missing.ok and "sets no_such_variable" in missing.text
    files["dhr_review.bpmn"] = files["dhr_review.bpmn"].replace(">no_such_variable<", ">1 / 0<")
    failing = timer_example(files, "dhr_review.bpmn", "deadline_passed", AUGUST_31)
    assert not failing.ok and "ZeroDivisionError" in failing.text
    assert not timer_example(files, "dhr_review.bpmn", "start_six_month_clock", AUGUST_31).ok  # not a timer


def test_every_timer_of_the_processes_gives_an_example_date() -> None:
    from lxml import etree

    files = read_folder(PROCESSES)
    timers = [(path, event.getparent().get("id")) for path, text in files.items() if path.endswith(".bpmn")
              for event in etree.fromstring(text.encode()).iter("{http://www.omg.org/spec/BPMN/20100524/MODEL}"
                                                                 "timerEventDefinition")]
    assert len(timers) >= 10
    answers = {timer: timer_example(files, timer[0], timer[1], AUGUST_31) for timer in timers}
    assert {timer: a.text for timer, a in answers.items() if not a.ok} == {}
