"""Confidential form fields: the victim's and other people's identifiers never enter the audit trail,
letters or logs; the trail keeps a keyed hash that proves what a value was."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from engine.bpmn import confidential, runtime
from engine.bpmn.library import load_bundle, read_folder
from engine.platform import audit
from engine.platform.errors import DiagramInvalid
from engine.platform.models import AuditEvent, User
from engine.platform.notifications import OutboxMessage
from engine.review.letters import Letter

from .conftest import POSTGRES_IN_SECOND_STEP, World
from .dhr_driver import PROCESSES, Dhr, base_policy

# what reaches the trail is decided before it is written; the trail on PostgreSQL is in test_audit
pytestmark = POSTGRES_IN_SECOND_STEP

VICTIM = "Alex Example"
BORN = "1980-03-04"
DIED = "2025-08-20"


def notified(dhr: World) -> Dhr:
    """A DHR case whose police notification has been recorded (base_policy names the victim)."""
    case = Dhr(dhr, "Rosemary", 2025)
    task = case.find("record_notification")
    assert task is not None
    case.complete(task, base_policy(case, task, {}))
    return case


def trail_text(world: World) -> str:
    with world.db.sessions() as s:
        return json.dumps([e.details for e in s.scalars(select(AuditEvent))], ensure_ascii=False)


def test_the_victims_identifiers_are_sealed_in_the_trail(dhr: World) -> None:
    case = notified(dhr)
    text = trail_text(dhr)
    assert VICTIM not in text and BORN not in text and DIED not in text
    with dhr.db.sessions() as s:
        event = next(e for e in audit.events_for_case(s, dhr.case(case.reference).id)
                     if e.event_type == "TASK_COMPLETED")
        changed = event.details["changed"]
        # that it changed is on record, with a keyed hash that proves what it was
        assert changed["victim_name"][0] is None
        assert changed["victim_name"][1] == {"confidential": audit.seal_value(event.case_id, "victim_name", VICTIM)}
        assert changed["victim_name"][1] != {"confidential": audit.seal_value(event.case_id, "victim_name", "Other")}
        assert changed["victim_age"] == [None, 45]  # not confidential: kept as it was
        count, problems = audit.verify(s)
    assert problems == [] and count > 0


def test_a_confidential_field_inside_a_list_is_sealed_item_by_item(dhr: World) -> None:
    case = notified(dhr)
    contacts = [{"relationship_to_victim": "Sister", "name": "Sam Sibling", "preferred_contact": "07700 900123"}]
    with dhr.uow() as s:
        case_id = runtime.get_case(s, case.reference).id
    with dhr.db.sessions() as s:
        fields = confidential.deployed(s)
    assert fields.fields["family_key_contacts.*.name"] == "Key family members and friends: Name"
    changed = fields.seal_changes({"family_key_contacts": [None, contacts]}, case_id)
    item = changed["family_key_contacts"][1][0]
    assert item["relationship_to_victim"] == "Sister"
    assert item["name"] == {"confidential": audit.seal_value(case_id, "family_key_contacts.*.name", "Sam Sibling")}
    assert "07700" not in json.dumps(changed)
    # sealing twice changes nothing: a migration that runs again finds nothing more to do
    assert fields.seal_changes(changed, case_id) == changed


def test_a_mark_in_any_deployed_version_protects_cases_on_older_versions(world: World, tmp_path: Path) -> None:
    """A case pinned to a version without the mark is protected once a version with it is deployed."""
    folder = tmp_path / "v1"
    shutil.copytree(Path(__file__).parent / "diagrams", folder)
    form = next(p for p in folder.rglob("*.json") if "notified_on" in p.read_text())
    world.deploy(folder)
    world.start()
    schema = json.loads(form.read_text())
    schema["properties"]["notified_on"]["x-confidential"] = True
    form.write_text(json.dumps(schema))
    world.deploy(folder)  # the case stays on the first version, which has no mark
    world.complete("record_notification", {"notified_on": "2026-08-31"}, "carol")
    assert "2026-08-31" not in trail_text(world)


def test_a_mark_that_is_not_true_or_false_is_refused_at_validation() -> None:
    files = read_folder(Path(__file__).parent / "diagrams")
    path = next(p for p, text in files.items() if p.endswith(".json") and "notified_on" in text)
    schema = json.loads(files[path])
    schema["properties"]["notified_on"]["x-confidential"] = "yes"
    with pytest.raises(DiagramInvalid) as caught:
        load_bundle({**files, path: json.dumps(schema)})
    assert "'x-confidential' at notified_on must be true or false" in str(caught.value)


def test_every_form_field_that_names_a_person_is_marked() -> None:
    found = confidential.from_files(read_folder(PROCESSES))
    for path in ("victim_name", "victim_date_of_birth", "date_of_death", "notifying_officer",
                 "senior_investigating_officer", "family_key_contacts.*.name", "applicants.*.name",
                 "independent_chair_name", "panel_member_name", "agencies.*.contact_name", "mediator_name"):
        assert path in found, path
    assert "victim_age" not in found and "case_pseudonym" not in found
    # the action plan is published: its action holders are shown in the register
    assert "recommendations.*.action_holder" not in found


def test_letters_e_mails_and_logs_never_carry_the_victims_name(dhr: World, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)  # as an operator who turns logging up would
    with dhr.uow() as s:
        for user in s.scalars(select(User)):
            user.email = f"{user.username}@example.org"
    case = notified(dhr)
    while case.find("decide_on_review") is None:  # on to the letters to the Home Office and the family
        task = case.open()[0]
        case.complete(task, base_policy(case, task, {}))
    task = case.find("decide_on_review")
    assert task is not None
    case.complete(task, base_policy(case, task, {}))
    with dhr.db.sessions() as s:
        letters = [letter.text for letter in s.scalars(select(Letter))]
        mails = [m.subject + m.body for m in s.scalars(select(OutboxMessage))]
    assert letters and mails
    logged = [str(vars(r)) for r in caplog.records]
    assert logged, "nothing was logged: the check below would prove nothing"
    for text in letters + mails + logged:
        assert VICTIM not in text and BORN not in text


def test_letters_are_written_without_confidential_values() -> None:
    fields = confidential.Confidential({"victim_name": "Victim's full name",
                                        "family_key_contacts.*.name": "Key family members: Name"})
    data = {"victim_name": VICTIM, "review_type": "DHR",
            "family_key_contacts": [{"name": "Sam Sibling", "relationship_to_victim": "Sister"}]}
    assert fields.without(data) == {"review_type": "DHR",
                                    "family_key_contacts": [{"relationship_to_victim": "Sister"}]}
    assert data["victim_name"] == VICTIM  # the case's own data is untouched


def test_a_mark_reached_through_a_reference_counts() -> None:
    person = {"type": "object", "properties": {"name": {"type": "string", "title": "Name", "x-confidential": True},
                                               "role": {"type": "string"}}}
    files = {
        "people.schema.json": json.dumps({"$id": "https://dhr.local/processes/people.schema.json",
                                          "$defs": {"person": person,
                                                    "birthday": {"type": "string", "x-confidential": True}}}),
        "form.schema.json": json.dumps({"$id": "https://dhr.local/processes/form.schema.json",
                                        "type": "object", "properties": {
            "chair": {"$ref": "#/$defs/chair", "title": "Chair"},
            "witnesses": {"type": "array", "title": "Witnesses", "items": {"$ref": "people.schema.json#/$defs/person"}},
            "born": {"$ref": "people.schema.json#/$defs/birthday", "title": "Born"},
        }, "$defs": {"chair": person}}),
    }
    found = confidential.from_files(files)
    assert found == {"chair.name": "Chair: Name", "witnesses.*.name": "Witnesses: Name", "born": "Born"}


def test_an_auditor_holding_the_key_can_confirm_what_a_sealed_value_was(dhr: World,
                                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from engine.cli import cli

    case = notified(dhr)
    with dhr.db.sessions() as s:
        event = next(e for e in audit.events_for_case(s, dhr.case(case.reference).id)
                     if e.event_type == "TASK_COMPLETED")
    monkeypatch.setenv("DHR_DATABASE_URL", dhr.db.url)

    def confirm(*args: str) -> tuple[int, str]:
        result = CliRunner().invoke(cli, ["audit", "confirm", str(event.id), *args])
        return result.exit_code, result.output

    assert confirm("victim_name", VICTIM) == (0, f"yes: event {event.id} sealed 'victim_name' with the value given\n")
    assert confirm("victim_date_of_birth", BORN)[0] == 0
    code, output = confirm("victim_name", "Someone Else")
    assert code == 1 and "error: no: the value given is not what event" in output
    code, output = confirm("victim_age", "45", "--json")
    assert code == 1 and "keeps no confidential value of 'victim_age'" in output
    shown = CliRunner().invoke(cli, ["audit", "show", case.reference]).output
    assert '"victim_name": [null, "(confidential)"]' in shown and VICTIM not in shown
