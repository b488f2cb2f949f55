"""Moving running cases onto a newer version of their process: timers keep their due times."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from lxml import etree
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from engine.bpmn import migration, runtime
from engine.bpmn.library import read_folder
from engine.bpmn.timers import run_due
from engine.platform.audit import AuditType
from engine.platform.errors import NotAllowed
from engine.platform.models import AuditEvent, OpenTask, Timer

from .conftest import DIAGRAMS, POSTGRES_IN_SECOND_STEP, World
from .dhr_driver import PROCESSES, Dhr, base_policy

# moving a case rewrites its state text and rows the ORM writes alike; `dhr` on PostgreSQL is in test_cli
pytestmark = POSTGRES_IN_SECOND_STEP

SIX = "completion_due_date = add_months(clock_start_date, 6)"
TWELVE = "completion_due_date = add_months(clock_start_date, 12)"
REMINDER = '<bpmn:timeDate xsi:type="bpmn:tFormalExpression">deadline_reminder_at</bpmn:timeDate>'


def _deploy_changed(world: World, tmp_path: Path, *changes: tuple[str, str], file: str = "dhr_review.bpmn") -> int:
    folder = tmp_path / "v2"
    shutil.copytree(PROCESSES, folder)
    text = (folder / file).read_text()
    for old, new in changes:
        assert old in text
        text = text.replace(old, new)
    (folder / file).write_text(text)
    with world.uow() as s:
        version, created = runtime.deploy(s, read_folder(folder), actor="test", clock=world.clock)
        assert created
        return version.id


def _migrate(world: World, reference: str, to: int, *, dry_run: bool = False) -> migration.Plan:
    with world.uow() as s:
        return migration.migrate(s, reference, to, actor="test", clock=world.clock, dry_run=dry_run)


def _until(bpmn_id: str):  # noqa: ANN202
    return lambda d: d.find(bpmn_id) is not None


def _state(world: World, reference: str) -> tuple[list[tuple[str, str, object, str]], list[tuple[str, str]], int]:
    with world.db.sessions() as s:
        case = runtime.get_case(s, reference)
        timers = [(t.id, t.bpmn_id, t.due_at, t.status) for t in s.scalars(
            select(Timer).where(Timer.case_id == case.id).order_by(Timer.id))]
        tasks = [(t.id, t.bpmn_id) for t in s.scalars(
            select(OpenTask).where(OpenTask.case_id == case.id).order_by(OpenTask.id))]
        return timers, tasks, case.version_id


def test_a_case_before_the_decision_gets_the_new_deadline(dhr: World, tmp_path: Path) -> None:
    d = Dhr(dhr)
    d.drive(base_policy, {}, until=_until("decide_on_review"))
    old_version = d.world.case(d.reference).version_id
    new_version = _deploy_changed(dhr, tmp_path, (SIX, TWELVE))
    before = _state(dhr, d.reference)

    preview = _migrate(dhr, d.reference, new_version, dry_run=True)
    assert preview.allowed, preview.refusal
    assert preview.changed_steps == ["Start the six-month clock (start_six_month_clock): script"]
    assert _state(dhr, d.reference) == before  # a dry run changes nothing

    done = _migrate(dhr, d.reference, new_version)
    assert done.allowed
    timers, tasks, version = _state(dhr, d.reference)
    assert version == new_version
    assert [t[:3] for t in timers] == [t[:3] for t in before[0]]
    assert tasks == before[1]

    d.drive(base_policy, {}, until=lambda x: x.world.case(x.reference).deadline_on is not None)
    case = dhr.case(d.reference)
    with dhr.db.sessions() as s:
        workflow = runtime.load_workflow(case, s)
        start = next(t.data["clock_start_date"] for t in workflow.get_tasks() if "clock_start_date" in t.data)
    start_day = date.fromisoformat(start)
    assert case.deadline_on == date(start_day.year + 1, start_day.month, start_day.day)  # twelve months, not six
    with dhr.db.sessions() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.event_type == AuditType.CASE_MIGRATED.value)).one()
        assert event.details["from_version"] == old_version and event.details["to_version"] == new_version


def _waiting_timers(world: World, reference: str) -> dict[str, object]:
    """The due times the workflow itself holds for its waiting timers, by task id."""
    with world.db.sessions() as s:
        workflow = runtime.load_workflow(runtime.get_case(s, reference), s)
        return {str(t.id): t.internal_data.get("event_value")
                for each in (workflow, *workflow.subprocesses.values())
                for t in each.get_tasks(state=TaskState.WAITING) if t.internal_data.get("event_value")}


def test_a_case_after_the_decision_keeps_its_timers_due_times(dhr: World, tmp_path: Path) -> None:
    d = Dhr(dhr)
    d.drive(base_policy, {}, until=lambda x: x.world.case(x.reference).deadline_on is not None)
    case = dhr.case(d.reference)
    deadline = case.deadline_on
    before = _state(dhr, d.reference)
    held = _waiting_timers(dhr, d.reference)
    assert len(before[0]) >= 2 and held
    # the new version also changes the reminder's own timer expression: a waiting timer keeps its due time anyway
    folder_version = _deploy_changed(dhr, tmp_path, (SIX, TWELVE),
                                     (REMINDER, REMINDER.replace("deadline_reminder_at", "deadline_breach_at")))
    dhr.clock.advance(timedelta(days=20))
    preview = _migrate(dhr, d.reference, folder_version, dry_run=True)
    assert preview.allowed, preview.refusal
    assert not preview.timers_moved and not preview.timers_cancelled and not preview.timers_set
    assert len(preview.timers_kept) == len(before[0])

    _migrate(dhr, d.reference, folder_version)
    timers, tasks, version = _state(dhr, d.reference)
    assert version == folder_version
    assert timers == before[0]  # the same rows, due times and states: no deadline restarted
    assert tasks == before[1]
    assert _waiting_timers(dhr, d.reference) == held
    assert dhr.case(d.reference).deadline_on == deadline  # six months: the decision was taken on the old version

    # the case still moves on, read afresh: a task is completed and a timer fires on its old due time
    task = d.open()[0]
    d.complete(task, base_policy(d, task, {}))
    kept_id, _, first, _ = min(timers, key=lambda t: t[2])  # type: ignore[arg-type, return-value]
    dhr.clock.set(first)  # type: ignore[arg-type]
    fired = {f.timer_id: f for f in run_due(dhr.db.sessions, dhr.clock)}
    assert all(f.error is None for f in fired.values())
    assert fired[kept_id].due_at == first
    assert kept_id not in [t.id for t in d.world.timers(d.reference)]


def _without(text: str, ids: set[str], retarget: dict[str, str]) -> str:
    root = etree.fromstring(text.encode())
    for el in list(root.iter()):
        if not isinstance(el.tag, str):
            continue
        if el.get("id") in ids or (etree.QName(el).localname == "flowNodeRef" and el.text in ids):
            el.getparent().remove(el)
        elif el.get("id") in retarget:
            el.set("targetRef", retarget[el.get("id")])
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8").decode()


DECIDE = {"decide", "decision_reminder", "decision_overdue", "flow_decided", "flow_reminder", "send_reminder",
          "flow_reminder_end", "reminder_end", "flow_overdue"}


def without_decide(tmp_path: Path) -> Path:
    """The test diagrams without the step `decide` (and its timers): the case goes straight to `decide_late`."""
    folder = tmp_path / "v2"
    shutil.copytree(DIAGRAMS, folder)
    path = folder / "review_demo.bpmn"
    path.write_text(_without(path.read_text(), DECIDE, {"flow_due": "decide_late"}))
    return folder


def _deploy_without_decide(world: World, tmp_path: Path) -> int:
    return world.deploy(without_decide(tmp_path))


def _at_decide(world: World) -> str:
    reference = world.start()
    world.complete("record_notification", {"notified_on": "2026-08-31"}, as_user="carol")
    assert world.open_names(reference) == ["decide"]
    return reference


def _with_step_after(tmp_path: Path, flow_id: str, step: str, lane: str) -> Path:
    """The test diagrams with a new task `step` (in `lane`) on the flow `flow_id`."""
    folder = tmp_path / "v2"
    shutil.copytree(DIAGRAMS, folder)
    path = folder / "review_demo.bpmn"
    root = etree.fromstring(path.read_bytes())
    ns = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
    flow = root.find(f".//bpmn:sequenceFlow[@id='{flow_id}']", ns)
    process = flow.getparent()
    target = flow.get("targetRef")
    flow.set("targetRef", step)
    task = etree.SubElement(process, f"{{{ns['bpmn']}}}userTask", id=step, name="A step the new version adds")
    extensions = etree.SubElement(task, f"{{{ns['bpmn']}}}extensionElements")
    props = etree.SubElement(extensions, "{http://spiffworkflow.org/bpmn/schema/1.0/core}properties")
    etree.SubElement(props, "{http://spiffworkflow.org/bpmn/schema/1.0/core}property",
                     name="formJsonSchemaFilename", value="forms/acknowledge.schema.json")
    etree.SubElement(process, f"{{{ns['bpmn']}}}sequenceFlow", id=f"{step}_out", sourceRef=step, targetRef=target)
    lane_el = root.find(f".//bpmn:lane[@name='{lane}']", ns)
    etree.SubElement(lane_el, f"{{{ns['bpmn']}}}flowNodeRef").text = step
    path.write_bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8"))
    return folder


def test_a_step_added_after_a_waiting_timer_is_not_skipped(world: World, tmp_path: Path) -> None:
    reference = _at_decide(world)
    reminder = next(t for t in world.timers(reference) if t.bpmn_id == "decision_reminder")
    new_version = world.deploy(_with_step_after(tmp_path, "flow_reminder", "prepare_reminder", "CSP Chair"))
    plan = _migrate(world, reference, new_version)
    assert "A step the new version adds (prepare_reminder)" in plan.added_steps
    assert [t.due_at for t in world.timers(reference) if t.id == reminder.id] == [reminder.due_at]
    world.clock.set(reminder.due_at)
    assert [f.timer_id for f in run_due(world.db.sessions, world.clock)] == [reminder.id]
    assert world.open_names(reference) == ["decide", "prepare_reminder"]  # not straight to send_reminder
    world.complete("prepare_reminder", {}, as_user="chair", reference=reference)
    assert world.open_names(reference) == ["decide", "send_reminder"]


def test_a_step_added_after_a_running_stage_is_not_skipped(world: World, tmp_path: Path) -> None:
    reference = _at_decide(world)
    world.complete("decide", {"outcome": "DHR"}, as_user="chair", reference=reference)
    assert world.open_names(reference) == ["write_imr"]
    new_version = world.deploy(_with_step_after(tmp_path, "flow_after_panel", "after_panel", "Community Safety Team"))
    _migrate(world, reference, new_version)
    world.complete("write_imr", {"summary": "done"}, as_user="pat", reference=reference)
    assert world.open_names(reference) == ["after_panel"]


def test_a_case_waiting_on_a_removed_step_is_refused_and_nothing_changes(world: World, tmp_path: Path) -> None:
    reference = _at_decide(world)
    new_version = _deploy_without_decide(world, tmp_path)
    before = _state(world, reference)
    with world.db.sessions() as s:
        state = runtime.get_case(s, reference).state
    preview = _migrate(world, reference, new_version, dry_run=True)
    assert not preview.allowed and "Decide whether to hold a review" in (preview.refusal or "")
    with pytest.raises(migration.MigrationRefused, match="Decide whether to hold a review"):
        _migrate(world, reference, new_version)
    assert _state(world, reference) == before
    with world.db.sessions() as s:
        assert runtime.get_case(s, reference).state == state
        assert not s.scalars(select(AuditEvent).where(AuditEvent.event_type == AuditType.CASE_MIGRATED.value)).all()


def test_a_case_before_a_removed_step_moves_past_it(world: World, tmp_path: Path) -> None:
    reference = world.start()
    new_version = _deploy_without_decide(world, tmp_path)
    preview = _migrate(world, reference, new_version, dry_run=True)
    assert preview.allowed, preview.refusal
    assert "Decide whether to hold a review (decide)" in preview.removed_steps
    _migrate(world, reference, new_version)
    world.complete("record_notification", {"notified_on": "2026-08-31"}, as_user="carol")
    assert world.open_names(reference) == ["decide_late"]
    assert world.timers(reference) == []


def test_only_a_process_owner_may_move_a_case(world: World, tmp_path: Path) -> None:
    reference = world.start()
    new_version = _deploy_without_decide(world, tmp_path)
    owner = world.user("olive", "Process Owner")
    with world.uow() as s, pytest.raises(NotAllowed, match="carol"):
        migration.migrate(s, reference, new_version, actor=world.users["carol"], clock=world.clock)
    with world.uow() as s:
        migration.migrate(s, reference, new_version, actor=owner, clock=world.clock)
    assert world.case(reference).version_id == new_version
    with world.db.sessions() as s:
        event = s.scalars(select(AuditEvent).where(AuditEvent.event_type == AuditType.CASE_MIGRATED.value)).one()
        assert event.actor == "olive"
        assert event.details["from_version"] < event.details["to_version"] == new_version


def _dhr(world: World, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DHR_") or k == "DHR_RESTART_EACH_STEP"}
    env.update(DHR_DATABASE_URL=world.db.url)
    return subprocess.run([str(Path(sys.executable).parent / "dhr"), *args], capture_output=True, text=True, env=env,
                          timeout=120)


def test_dhr_cases_migrate_previews_refuses_and_moves(world: World, tmp_path: Path) -> None:
    waiting = _at_decide(world)
    fresh = world.start("Juniper")
    new_version = _deploy_without_decide(world, tmp_path)

    dry = _dhr(world, "cases", "migrate", "Juniper/2026", "--to", str(new_version), "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert f"Juniper/2026: version {world.case(fresh).version_id} -> version {new_version}" in dry.stdout
    assert "step no longer in the diagram: Decide whether to hold a review (decide)" in dry.stdout
    assert "dry run: nothing was changed" in dry.stdout
    assert world.case(fresh).version_id != new_version

    refused = _dhr(world, "cases", "migrate", waiting, "--to", str(new_version))
    assert refused.returncode == 1
    assert "Decide whether to hold a review" in refused.stderr and "Traceback" not in refused.stderr
    assert world.case(waiting).version_id != new_version

    denied = _dhr(world, "cases", "migrate", fresh, "--to", str(new_version), "--as", "carol")
    assert denied.returncode != 0 and "may not move cases" in denied.stderr

    moved = _dhr(world, "cases", "migrate", fresh, "--to", str(new_version))
    assert moved.returncode == 0, moved.stderr
    assert "moved Juniper/2026 from version" in moved.stdout
    assert world.case(fresh).version_id == new_version


def test_dhr_processes_diff_says_a_scripts_old_and_new_lines(world: World, tmp_path: Path) -> None:
    old = world.case(world.start()).version_id
    folder = tmp_path / "v2"
    shutil.copytree(DIAGRAMS, folder)
    path = folder / "review_demo.bpmn"
    path.write_text(path.read_text().replace("add_months(notified_on, 1)", "add_months(notified_on, 2)")
                    .replace('name="Decide whether to hold a review"', 'name="Decide on a review"'))
    new = world.deploy(folder)
    result = _dhr(world, "processes", "diff", str(old), str(new))
    assert result.returncode == 0, result.stderr
    assert "review_demo.bpmn: changed" in result.stdout
    assert "      -decision_due_date = add_months(notified_on, 1)" in result.stdout
    assert "      +decision_due_date = add_months(notified_on, 2)" in result.stdout
    assert "    Name: Decide whether to hold a review -> Decide on a review" in result.stdout
    missing = _dhr(world, "processes", "diff", str(old), "999")
    assert missing.returncode != 0 and "process version 999 does not exist" in missing.stderr


def test_a_timer_whose_kind_changed_starts_afresh_and_the_preview_says_so(world: World, tmp_path: Path) -> None:
    reference = _at_decide(world)
    before = {t.bpmn_id: t.due_at for t in world.timers(reference)}
    folder = tmp_path / "v2"
    shutil.copytree(DIAGRAMS, folder)
    path = folder / "review_demo.bpmn"
    path.write_text(path.read_text().replace("<bpmn:timeDate>reminder_at</bpmn:timeDate>",
                                             '<bpmn:timeDuration>"P3D"</bpmn:timeDuration>'))
    new_version = world.deploy(folder)
    plan = _migrate(world, reference, new_version, dry_run=True)
    assert [(t.title, t.was_due_at, t.due_at) for t in plan.timers_moved] == [
        ("Decision reminder", before["decision_reminder"], world.clock.now() + timedelta(days=3))]
    assert [(t.title, t.due_at) for t in plan.timers_kept] == [("Decision overdue", before["decision_overdue"])]
    _migrate(world, reference, new_version)
    after = {t.bpmn_id: t.due_at for t in world.timers(reference)}
    assert after == {"decision_reminder": world.clock.now() + timedelta(days=3),
                     "decision_overdue": before["decision_overdue"]}
