"""A deployed version's specs, stored when it is deployed: a new process restores them instead of
parsing the diagrams, and gets what parsing would give; a version without them is parsed."""

from __future__ import annotations

import json

from sqlalchemy import delete, select, update

from engine.bpmn import runtime, serialization
from engine.bpmn.library import SPEC_FORMAT, load_bundle
from engine.platform.models import Case, ProcessFile, ProcessVersionSpec

from .conftest import POSTGRES_IN_SECOND_STEP, World
from .dhr_driver import PROCESSES

# the specs stored as text at deployment; deploying on PostgreSQL is in test_cli
pytestmark = POSTGRES_IN_SECOND_STEP


def _version(w: World, reference: str = "Rosemary/2026") -> int:
    return w.case(reference).version_id


def test_a_version_restored_from_its_stored_specs_is_the_version_parsed(world: World) -> None:
    version_id = world.deploy(PROCESSES)
    with world.db.sessions() as s:
        names = set(s.scalars(select(ProcessVersionSpec.name).where(ProcessVersionSpec.version_id == version_id)))
        stored = runtime.bundle_for(s, version_id)  # the suite restarts every step: nothing is cached
        files = {f.path: f.content for f in s.scalars(select(ProcessFile).where(ProcessFile.version_id == version_id))}
    parsed = load_bundle(files, trusted=True)
    assert stored.parser is None and names == {"", *parsed.process_ids}
    assert (stored.content_hash, stored.process_ids) == (parsed.content_hash, parsed.process_ids)
    assert (stored.process_files, stored.spec_files) == (parsed.process_files, parsed.spec_files)
    assert stored.forms == parsed.forms and stored.forms
    for process_id in parsed.process_ids:
        assert json.loads(stored.pristine(process_id)) == json.loads(parsed.pristine(process_id))
        assert stored.stages(process_id) == parsed.stages(process_id)
        assert stored.process_name(process_id) == parsed.process_name(process_id)


def test_a_version_without_stored_specs_is_parsed_and_runs_the_same(world: World) -> None:
    ref = world.start()
    with world.uow() as s:  # as a version deployed before the specs were stored
        s.execute(delete(ProcessVersionSpec).where(ProcessVersionSpec.version_id == _version(world)))
    with world.db.sessions() as s:
        assert runtime.bundle_for(s, _version(world)).parser is not None
    world.complete("record_notification", {"notified_on": "2026-08-31"}, "carol", ref)
    assert world.open_names(ref) == ["decide"]
    world.complete("decide", {"outcome": "DHR", "reason": "meets the criteria"}, "chair", ref)
    assert "write_imr" in world.open_names(ref)


def test_specs_stored_in_another_format_are_not_used(world: World) -> None:
    ref = world.start()
    with world.uow() as s:  # as written by another release of SpiffWorkflow
        s.execute(update(ProcessVersionSpec).where(ProcessVersionSpec.version_id == _version(world))
                  .values(format="dhr-specs-0", content="not what this release reads"))
    assert SPEC_FORMAT != "dhr-specs-0"
    with world.db.sessions() as s:
        assert runtime.bundle_for(s, _version(world)).parser is not None
    world.complete("record_notification", {"notified_on": "2026-08-31"}, "carol", ref)
    with world.db.sessions() as s:
        assert s.scalar(select(Case.status).where(Case.reference == ref)) == "open"
    assert world.open_names(ref) == ["decide"]


def test_a_case_restores_only_the_called_processes_it_uses_and_writes_the_others_back_as_they_were(
        world: World) -> None:
    version_id = world.deploy(PROCESSES)
    ref = world.start(process="dhr_review")
    with world.db.sessions() as s:
        case = runtime.get_case(s, ref)
        pristine = runtime.bundle_for(s, version_id).pristine("dhr_review")
        state = case.state
    workflow = serialization.loads(state, pristine)
    specs = workflow.subprocess_specs
    assert isinstance(specs, serialization.SubprocessSpecs)
    used = {sub.spec.name for sub in workflow.subprocesses.values()}
    every = set(json.loads(pristine)["subprocess_specs"])
    assert used < every and set(specs) == every and "dissemination" in specs  # all known, few restored
    assert specs.restored() == used
    assert json.loads(serialization.dumps(workflow, pristine)) == json.loads(state)
    assert specs["dissemination"].name == "dissemination" and specs.restored() == used | {"dissemination"}
    assert json.loads(serialization.dumps(workflow, pristine)) == json.loads(state)  # restored, unchanged
