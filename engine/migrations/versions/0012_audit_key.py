"""The audit trail sealed under DHR_AUDIT_KEY, with the values of confidential fields redacted.

The first releases chained events with plain SHA-256, which anyone who can write the database could
recompute, and kept every changed form value, the victim's name and date of birth included. This
migration, once:
- checks the existing chain under the old rule (what it finds wrong is kept on record, below);
- replaces each confidential value in `TASK_COMPLETED` and `MESSAGE_RECEIVED` events by its keyed
  hash. The fields are those any deployed version's forms (process_file) or the forms in
  DHR_PROCESSES_DIR (the release being installed, deployed next) mark `"x-confidential": true`;
- re-seals every event with HMAC-SHA256 under DHR_AUDIT_KEY, and appends `AUDIT_REDACTED` (what was
  redacted and why) and `AUDIT_RESEALED` (how many events, the old head, what was wrong before).

Revision ID: 0012
Revises: 0010
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from alembic import op

import engine.platform.models
from engine.bpmn.confidential import Confidential, from_files
from engine.bpmn.library import read_folder
from engine.platform import audit
from engine.platform.errors import DhrError
from engine.platform.settings import Settings

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

ACTOR = "dhr db upgrade"
BATCH = 500
SHOWN_PROBLEMS = 50
REASON = ("Values of fields that name a person (marked \"x-confidential\" in their forms) were kept in the audit "
          "trail, where every member of a case could read them in its history. They are replaced by a keyed hash "
          "(HMAC-SHA256 under DHR_AUDIT_KEY) that proves what they were without showing them.")

events = sa.table(
    "audit_event",
    sa.column("id", sa.Integer), sa.column("at", engine.platform.models.UTCDateTime()),
    sa.column("actor", sa.String), sa.column("event_type", sa.String), sa.column("case_id", sa.Integer),
    sa.column("task_id", sa.String), sa.column("task_name", sa.String), sa.column("details", sa.JSON),
    sa.column("prev_hash", sa.String), sa.column("hash", sa.String),
)
head = sa.table("audit_head", sa.column("id", sa.Integer), sa.column("last_id", sa.Integer),
                sa.column("last_hash", sa.String))
process_file = sa.table("process_file", sa.column("version_id", sa.Integer), sa.column("path", sa.String),
                        sa.column("content", sa.Text))

Hash = Callable[[str, dict[str, Any]], str]


def upgrade() -> None:
    _reseal(op.get_bind(), check=audit.unkeyed_hash, seal=audit.chain_hash, redact=True,
            how="HMAC-SHA256 under DHR_AUDIT_KEY")


def downgrade() -> None:
    """Chain the trail with plain SHA-256 again, as the release before this one checks it; what was
    redacted stays redacted."""
    _reseal(op.get_bind(), check=audit.chain_hash, seal=audit.unkeyed_hash, redact=False,
            how="plain SHA-256 (for an older release)")


def _confidential(bind: Any) -> Confidential:
    """Every field marked confidential by a deployed version or by the forms about to be deployed."""
    by_version: dict[int, dict[str, str]] = {}
    for version_id, path, text in bind.execute(sa.select(process_file).where(process_file.c.path.like("%.json"))):
        by_version.setdefault(version_id, {})[path] = text
    found: dict[str, str] = {}
    for files in by_version.values():
        found.update(from_files(files))
    with contextlib.suppress(DhrError, OSError):  # no process folder here: the deployed versions say it all
        found.update(from_files(read_folder(Settings().processes_dir)))
    return Confidential(found)


def _redacted(row: Any, secret: Confidential, fields: dict[str, list[int]]) -> dict[str, Any]:
    """The row's details with confidential values sealed; what was sealed is noted in `fields`."""
    details = dict(row.details or {})
    key = {"TASK_COMPLETED": "changed", "MESSAGE_RECEIVED": "payload"}.get(row.event_type)
    values = details.get(key) if key else None
    if not isinstance(values, dict):
        return details
    if row.event_type == "TASK_COMPLETED":
        sealed = secret.seal_changes(values, row.case_id)
    else:
        sealed = {name: secret.seal(name, value, row.case_id) for name, value in values.items()}
    for name in values:
        if sealed[name] != values[name]:
            fields.setdefault(name, []).append(row.id)
    details[key] = sealed
    return details


def _reseal(bind: Any, *, check: Hash, seal: Hash, redact: bool, how: str) -> None:
    """Check the chain with `check`, redact (if asked) and re-chain every event with `seal`."""
    if not bind.scalar(sa.select(sa.func.count()).select_from(events)):
        return  # a new database: nothing to seal
    secret = _confidential(bind) if redact else Confidential()
    problems: list[str] = []
    redacted: dict[str, list[int]] = {}
    old_hash = new_hash = audit.GENESIS
    expected = 1
    last_id = 0
    while True:
        rows = bind.execute(sa.select(events).where(events.c.id > last_id).order_by(events.c.id).limit(BATCH)).all()
        if not rows:
            break
        changes = []
        for row in rows:
            fields = _content(row)
            if row.id != expected:
                problems.append(f"event {expected}: missing (the next event is {row.id})")
            if row.prev_hash != old_hash:
                problems.append(f"event {row.id}: does not follow the event before it")
            if check(row.prev_hash, fields) != row.hash:
                problems.append(f"event {row.id}: {audit.EDITED}")
            fields["details"] = _redacted(row, secret, redacted)
            old_hash, expected, last_id = row.hash, row.id + 1, row.id
            prev, new_hash = new_hash, seal(new_hash, fields)
            changes.append({"b_id": row.id, "b_details": fields["details"], "b_prev": prev, "b_hash": new_hash})
        bind.execute(events.update().where(events.c.id == sa.bindparam("b_id")).values(
            details=sa.bindparam("b_details"), prev_hash=sa.bindparam("b_prev"), hash=sa.bindparam("b_hash")),
            changes)
    old_head = bind.execute(sa.select(head).where(head.c.id == 1)).one()
    if old_head.last_id != last_id or old_head.last_hash != old_hash:
        problems.append(f"event {old_head.last_id}: the newest event(s) are missing")
    now, resealed = datetime.now(UTC), last_id
    if redacted:
        new_hash, last_id = _append(bind, seal, new_hash, last_id, now, audit.AuditType.AUDIT_REDACTED, {
            "fields": {name: len(ids) for name, ids in sorted(redacted.items())},
            "events": sorted({i for ids in redacted.values() for i in ids}),
            "reason": REASON,
        })
    new_hash, last_id = _append(bind, seal, new_hash, last_id, now, audit.AuditType.AUDIT_RESEALED, {
        "events": resealed, "sealed_with": how,
        "previous_head": f"{old_head.last_id}:{old_head.last_hash}",
        "problems_found": problems[:SHOWN_PROBLEMS], "problem_count": len(problems),
    })
    bind.execute(head.update().where(head.c.id == 1).values(last_id=last_id, last_hash=new_hash))


def _content(row: Any) -> dict[str, Any]:
    """What an event's hash covers, as `audit.content` gives it for a stored event."""
    return {"id": row.id, "at": row.at, "actor": row.actor, "type": row.event_type, "case": row.case_id,
            "task": row.task_id, "task_name": row.task_name, "details": row.details}


def _append(bind: Any, seal: Hash, prev: str, last_id: int, now: datetime, kind: audit.AuditType,
            details: dict[str, Any]) -> tuple[str, int]:
    """Append one event to the re-sealed chain; return its hash and id."""
    event_id = last_id + 1
    fields = {"id": event_id, "at": now, "actor": ACTOR, "type": kind.value, "case": None, "task": None,
              "task_name": None, "details": details}
    digest = seal(prev, fields)
    bind.execute(events.insert().values(id=event_id, at=now, actor=ACTOR, event_type=kind.value, case_id=None,
                                        task_id=None, task_name=None, details=details, prev_hash=prev, hash=digest))
    return digest, event_id
