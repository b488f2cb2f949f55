"""The audit trail as people read it: who did what when, with old and new values."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.platform import exports
from engine.platform.audit import readable
from engine.platform.models import AuditEvent, CaseView

from .display import london, plain

EVENT_WORDS = {
    "CASE_STARTED": "Case started",
    "CASE_COMPLETED": "Case completed",
    "CASE_STALLED": "Case stalled: nothing can move it on",
    "CASE_RESUMED": "Case can move on again",
    "CASE_RETRIED": "Case retried by a process owner",
    "CASE_UPGRADED": "Stored state upgraded",
    "TASK_CREATED": "Task created",
    "TASK_COMPLETED": "Task completed",
    "TASK_CANCELLED": "Task withdrawn",
    "TIMER_SET": "Deadline set",
    "TIMER_RESCHEDULED": "Deadline moved",
    "TIMER_FIRED": "Deadline reached",
    "TIMER_CANCELLED": "Deadline cancelled",
    "TIMER_FAILED": "Deadline failed to fire",
    "TIMER_STUCK": "Deadline stuck",
    "TIMER_RETRIED": "Deadline retried",
    "MESSAGE_RECEIVED": "Message received",
    "DOCUMENT_UPLOADED": "Document uploaded",
    "CONFIDENTIAL_VIEWED": "Confidential details viewed",
    "CASE_VIEWED": "Case read by someone not on it",
    "MEMBER_ADDED": "Person added to the case",
    "MEMBER_REMOVED": "Person removed from the case",
    "TASK_CLAIMED": "Task claimed",
    "TASK_RELEASED": "Task released",
    "RECOMMENDATION_REQUESTED": "Update asked for",
    "RECOMMENDATION_UPDATED": "Update given",
}
CONFIDENTIAL = "(confidential)"  # what a reader sees of a value the trail keeps only as a keyed hash


@dataclass
class HistoryRow:
    id: int | str
    at: str
    actor: str
    what: str
    task: str
    changes: list[str]


def describe(event: AuditEvent | CaseView) -> HistoryRow:
    details: dict[str, Any] = readable(event.details or {}, CONFIDENTIAL)
    changes: list[str] = []
    changed = details.get("changed")
    if isinstance(changed, dict):
        for key, pair in changed.items():
            old, new = (pair + [None, None])[:2] if isinstance(pair, list) else (None, pair)
            changes.append(f"{key}: {plain(old) or '(empty)'} → {plain(new)}")
    for key, value in details.items():
        if key == "changed":
            continue
        if isinstance(value, list) and len(value) == 2 and key == "due_at":
            changes.append(f"due: {_when(value[0])} → {_when(value[1])}")
        elif key in ("due_at",) and value:
            changes.append(f"due: {_when(value)}")
        elif value not in (None, "", [], {}):
            changes.append(f"{key}: {plain(value)}")
    what = EVENT_WORDS.get(event.event_type) or event.event_type.replace("_", " ").capitalize()
    number: int | str = f"view {event.id}" if isinstance(event, CaseView) else event.id  # the view log's own ids
    return HistoryRow(number, london(event.at), event.actor, what, event.task_name or "", changes)


def _when(value: Any) -> str:
    from datetime import datetime

    try:
        return london(datetime.fromisoformat(str(value)))
    except ValueError:
        return str(value)


def to_csv(rows: list[HistoryRow]) -> bytes:
    """The rows as CSV through the one export writer (what a spreadsheet would run is defused)."""
    return exports.csv_bytes(["event", "when (London)", "who", "what", "task", "details"],
                             [[row.id, row.at, row.actor, row.what, row.task, "; ".join(row.changes)]
                              for row in rows])
