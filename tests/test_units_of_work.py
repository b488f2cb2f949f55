"""Each change is one unit of work: all of it is applied, or a plain error and nothing at all."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm.exc import StaleDataError

from engine.bpmn import runtime
from engine.bpmn.library import read_folder
from engine.platform.errors import FormDataInvalid, NotAllowed, NothingWaiting, ScriptError, TaskAlreadyCompleted
from engine.platform.models import AuditEvent, Case, OpenTask, Timer

from .conftest import DIAGRAMS, World


def state_of(w: World) -> dict[str, Any]:
    """Everything a unit of work may change, to compare before and after a failure."""
    with w.db.sessions() as s:
        case = s.scalars(select(Case)).one()
        return {
            "state": case.state,
            "revision": case.revision,
            "tasks": sorted((t.id, t.bpmn_id) for t in s.scalars(select(OpenTask))),
            "timers": sorted((t.id, t.due_at) for t in s.scalars(select(Timer))),
            "audit": s.scalar(select(func.count()).select_from(AuditEvent)),
        }


def test_invalid_form_data_is_rejected_field_by_field_and_nothing_changes(world: World) -> None:
    world.start()
    before = state_of(world)
    with pytest.raises(FormDataInvalid) as caught:
        world.complete("record_notification", {"notified_on": "31/08/2026", "secret": 1}, "carol")
    assert caught.value.errors == {
        "notified_on": "Date the police notified the CSP must be a valid date, like 2026-03-27",
        "secret": "is not a field of this form",
    }
    with pytest.raises(FormDataInvalid) as caught:
        world.complete("record_notification", {}, "carol")
    assert caught.value.errors == {"notified_on": "Enter date the police notified the CSP"}
    assert state_of(world) == before


def test_only_the_lane_role_may_complete_a_task(world: World) -> None:
    world.start()
    before = state_of(world)
    with pytest.raises(NotAllowed, match="chair \\(CSP Chair\\) may not complete 'Record the notification'"):
        world.complete("record_notification", {"notified_on": "2026-08-31"}, "chair")
    assert state_of(world) == before


def test_a_task_completed_by_someone_else_names_who_and_when(world: World) -> None:
    world.start()
    task = world.task("record_notification")
    world.complete("record_notification", {"notified_on": "2026-08-31"}, "carol")
    world.user("colin", "Community Safety Team")
    before = state_of(world)
    world.clock.advance(runtime.timedelta(minutes=5))
    with pytest.raises(TaskAlreadyCompleted) as caught, world.uow() as s:
        runtime.complete_task(s, task.id, {"notified_on": "2026-09-01"}, user=world.users["colin"],
                              clock=world.clock)
    assert caught.value.by == "carol"
    assert "already completed by carol at 2026-08-31 08:00:00 UTC" in str(caught.value)
    assert state_of(world) == {**before, "audit": before["audit"]}


def test_a_message_nobody_waits_for_is_refused(world: World) -> None:
    ref = world.start()
    before = state_of(world)
    with pytest.raises(NothingWaiting, match="not waiting for 'report_received'"), world.uow() as s:
        runtime.send_message(s, ref, "report_received", {}, actor="test", clock=world.clock)
    assert state_of(world) == before


def _one_script_diagram(folder: Path, script: str) -> Path:
    folder.mkdir()
    (folder / "form.schema.json").write_text('{"type": "object", "properties": {}}')
    (folder / "scripted.bpmn").write_text(f"""<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
    xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" targetNamespace="t">
  <bpmn:process id="scripted" isExecutable="true">
    <bpmn:laneSet id="ls"><bpmn:lane id="l" name="Community Safety Team">
      <bpmn:flowNodeRef>first</bpmn:flowNodeRef></bpmn:lane></bpmn:laneSet>
    <bpmn:startEvent id="s"/>
    <bpmn:sequenceFlow id="f0" sourceRef="s" targetRef="first"/>
    <bpmn:userTask id="first" name="First">
      <bpmn:extensionElements><spiffworkflow:properties>
        <spiffworkflow:property name="formJsonSchemaFilename" value="form.schema.json"/>
      </spiffworkflow:properties></bpmn:extensionElements>
    </bpmn:userTask>
    <bpmn:sequenceFlow id="f1" sourceRef="first" targetRef="script"/>
    <bpmn:scriptTask id="script" name="Tidy the data"><bpmn:script>{script}</bpmn:script></bpmn:scriptTask>
    <bpmn:sequenceFlow id="f2" sourceRef="script" targetRef="e"/>
    <bpmn:endEvent id="e"/>
  </bpmn:process>
</bpmn:definitions>""")
    return folder


@pytest.mark.parametrize(
    ("script", "detail"),
    [
        ("x = missing_value + 1", "the variable 'missing_value' is not set at this step"),
        ("x = {}['k']", "the key 'k' is missing"),
        ("x = 1 / 0", "division by zero"),
    ],
)
def test_a_failing_script_names_the_task_and_changes_nothing(world: World, tmp_path: Path, script: str,
                                                             detail: str) -> None:
    world.deploy(_one_script_diagram(tmp_path / "scripted", script))
    world.start("Iris", process="scripted")
    before = state_of(world)
    with pytest.raises(ScriptError) as caught:
        world.complete("first", {}, "carol", "Iris/2026")
    assert caught.value.task == "Tidy the data" and detail in str(caught.value)
    assert state_of(world) == before


def test_a_stale_writer_gets_a_conflict_not_a_lost_update(world: World) -> None:
    """A writer that skipped the row lock still cannot overwrite: the revision check catches it."""
    if world.db.backend == "sqlite":
        pytest.skip("SQLite transactions take the write lock at BEGIN, so no stale writer can exist")
    world.start()
    task = world.task("record_notification")
    with world.db.sessions() as stale:
        case = stale.get(Case, task.case_id)
        assert case is not None
        world.complete("record_notification", {"notified_on": "2026-08-31"}, "carol")
        case.stage = "edited on an old copy"
        with pytest.raises(StaleDataError):
            stale.flush()
        stale.rollback()
    assert world.case().revision == 2


def test_a_rolled_back_deployment_never_lends_its_diagrams_to_a_later_one(world: World, tmp_path: Path) -> None:
    def variant(period: str) -> Path:
        folder = tmp_path / period
        shutil.copytree(DIAGRAMS, folder)
        bpmn = folder / "panel_work.bpmn"
        bpmn.write_text(bpmn.read_text().replace('"P14D"', f'"{period}"'))
        return folder

    with pytest.raises(RuntimeError), world.uow() as s:
        runtime.deploy(s, read_folder(variant("P21D")), actor="test", clock=world.clock)
        raise RuntimeError("the request failed after deploying")
    world.deploy(variant("P7D"))  # on SQLite this reuses the rolled-back version's id
    reference = world.start()
    world.complete("record_notification", {"notified_on": "2026-08-31"}, "carol", reference)
    world.complete("decide", {"outcome": "DHR"}, "chair", reference)
    assert world.timers(reference)[0].due_at == world.clock.now() + timedelta(days=7)
