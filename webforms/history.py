"""The audit trail as people read it: who did what when, in words, with old and new values."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from engine.platform import exports
from engine.platform.audit import AuditType, readable
from engine.platform.models import AuditEvent, CaseView

from .display import london, plain

# Every audit type in plain words (tests/web/test_history.py checks that none is missing).
EVENT_WORDS = {
    "PROCESS_DEPLOYED": "Diagrams deployed",
    "CASE_STARTED": "Case started",
    "CASE_COMPLETED": "Case completed",
    "CASE_STALLED": "Case stalled: nothing can move it on",
    "CASE_RESUMED": "Case can move on again",
    "CASE_RETRIED": "Case retried by a process owner",
    "CASE_UPGRADED": "Stored state upgraded",
    "CASE_MIGRATED": "Case moved to a new version of its process",
    "TASK_CREATED": "Task created",
    "TASK_COMPLETED": "Task completed",
    "TASK_CANCELLED": "Task withdrawn",
    "TASK_CLAIMED": "Task claimed",
    "TASK_RELEASED": "Task released",
    "TIMER_SET": "Deadline set",
    "TIMER_RESCHEDULED": "Deadline moved",
    "TIMER_FIRED": "Deadline reached",
    "TIMER_CANCELLED": "Deadline cancelled",
    "TIMER_FAILED": "Deadline failed to fire",
    "TIMER_STUCK": "Deadline stuck",
    "TIMER_RETRIED": "Deadline retried",
    "MESSAGE_RECEIVED": "Message received",
    "USER_ADDED": "User added",
    "USER_CHANGED": "User changed",
    "PASSWORD_CHANGED": "Password changed",
    "SESSIONS_ENDED": "Signed out everywhere",
    "SECOND_FACTOR_ENROLLED": "Authenticator app set up",
    "SECOND_FACTOR_RESET": "Authenticator app reset",
    "RECOVERY_CODE_USED": "Recovery code used to sign in",
    "AGENCY_ADDED": "Agency added",
    "MEMBER_ADDED": "Person added to the case",
    "MEMBER_REMOVED": "Person removed from the case",
    "CASE_VIEWED": "Case read by someone not on it",
    "VIEWS_SEALED": "Reads of cases sealed into the audit trail",
    "CLOCK_CHANGED": "Simulated clock moved",
    "RECOMMENDATION_ADDED": "Recommendation added to the register",
    "RECOMMENDATION_REVISED": "Recommendation revised",
    "RECOMMENDATION_REQUESTED": "Update asked for",
    "RECOMMENDATION_UPDATED": "Update given",
    "RECOMMENDATION_WITHDRAWN": "Recommendation withdrawn",
    "UPDATES_REQUESTED": "Every action holder asked for an update",
    "MEETING_RECORDED": "Steering Group meeting recorded",
    "COST_ADDED": "Cost recorded",
    "COST_REMOVED": "Cost removed",
    "BUDGET_SET": "Budget set",
    "DOCUMENT_UPLOADED": "Document uploaded",
    "CONFIDENTIAL_VIEWED": "Confidential details viewed",
    "AUDIT_REDACTED": "Confidential values removed from the history",
    "AUDIT_RESEALED": "History re-sealed under the audit key",
}
# Details in words; those mapped to None are for machines (the diagram's element id) and not shown.
DETAIL_WORDS: dict[str, str | None] = {
    "bpmn_id": None, "lane": "For", "page": "Page read", "role": "Their role", "fields": "Fields shown",
    "recommendation": "Recommendation", "lead_agency": "Lead agency", "status": "Status",
    "awaiting_since": "Awaiting feedback since", "process": "Process", "version": "Version", "data": "Data given",
    "reason": "Why", "error": "Error", "attempts": "Attempts", "name": "Name", "field": "Field",
    "document_id": None, "user": "Person", "payload": "Message", "message": "Message name",
    "claimed_by": "Claimed by", "document": "Document", "theme": "Theme", "agency": "Agency",
    "was_stalled": "Was stalled", "was_on": "Was on version", "hash": None,
}
# The pages whose reads are audited (`CASE_VIEWED`'s "page", a view's endpoint), in words.
PAGE_WORDS = {
    "cases.show": "the case page", "cases.history_page": "the history", "cases.history_csv": "the history (CSV)",
    "cases.diagram_page": "the diagram", "cases.diagram_file": "the diagram", "cases.document": "a document",
    "cases.letter": "a letter", "tasks.show": "a task", "costs.add": "the costs", "register.show": "a recommendation",
}
CONFIDENTIAL = "(confidential)"  # what a reader sees of a value the trail keeps only as a keyed hash
GROUPED = {AuditType.CASE_VIEWED.value}  # repeated in a row by one person: one row says how many times


@dataclass
class HistoryRow:
    id: int | str
    at: str
    actor: str
    what: str
    task: str
    changes: list[str]
    event_type: str = ""
    times: int = 1  # the events of a group of repeated views
    until: str = ""  # the last of them
    day: str = field(default="", repr=False)


def describe(event: AuditEvent | CaseView, labels: dict[str, str] | None = None) -> HistoryRow:
    """An event in words; `labels` name form fields (dotted path -> label) where the event names them."""
    labels = labels or {}
    details: dict[str, Any] = readable(event.details or {}, CONFIDENTIAL)
    changes: list[str] = []
    changed = details.get("changed")
    if isinstance(changed, dict):
        for key, pair in changed.items():
            old, new = (pair + [None, None])[:2] if isinstance(pair, list) else (None, pair)
            changes.append(f"{labels.get(key, key)}: {plain(old) or '(empty)'} → {plain(new)}")
    what = EVENT_WORDS.get(event.event_type) or event.event_type.replace("_", " ").capitalize()
    if event.event_type in (AuditType.MEMBER_ADDED.value, AuditType.MEMBER_REMOVED.value) and details.get("user"):
        whom = f"{details['user']} ({details['role']})" if details.get("role") else str(details["user"])
        verb = "Added" if event.event_type == AuditType.MEMBER_ADDED.value else "Removed"
        what = f"{verb} {whom} {'to' if verb == 'Added' else 'from'} the case"
        details = {k: v for k, v in details.items() if k not in ("user", "role")}
    for key, value in details.items():
        if key == "changed" or DETAIL_WORDS.get(key, key) is None:
            continue
        if key == "field" and isinstance(value, str):
            value = labels.get(value, value)
        if key == "page" and isinstance(value, str):
            value = PAGE_WORDS.get(value, value)
        if isinstance(value, list) and len(value) == 2 and key == "due_at":
            changes.append(f"Due: {_when(value[0])} → {_when(value[1])}")
        elif key == "due_at" and value:
            changes.append(f"Due: {_when(value)}")
        elif value not in (None, "", [], {}):
            changes.append(f"{DETAIL_WORDS.get(key) or key.replace('_', ' ').capitalize()}: {plain(value)}")
    number: int | str = f"view {event.id}" if isinstance(event, CaseView) else event.id  # the view log's own ids
    return HistoryRow(number, london(event.at), event.actor, what, event.task_name or "", changes,
                      event_type=event.event_type, day=london(event.at, with_time=False))


def grouped(rows: list[HistoryRow]) -> list[HistoryRow]:
    """The rows with each run of repeated views by one person on one day made one row."""
    found: list[HistoryRow] = []
    for row in rows:
        last = found[-1] if found else None
        if (last is not None and row.event_type in GROUPED and last.event_type == row.event_type
                and last.actor == row.actor and last.day == row.day):
            last.times += 1
            last.until = row.at
            for change in row.changes:
                if change not in last.changes:
                    last.changes.append(change)
            continue
        found.append(row)
    for row in found:
        if row.times > 1:
            row.what = f"{row.what} ({row.times} times, the last at {row.until.rsplit(', ', 1)[-1]})"
    return found


def _when(value: Any) -> str:
    try:
        return london(datetime.fromisoformat(str(value)))
    except ValueError:
        return str(value)


def to_csv(rows: list[HistoryRow]) -> bytes:
    """The rows as CSV through the one export writer (what a spreadsheet would run is defused)."""
    return exports.csv_bytes(["event", "when (London)", "who", "what", "task", "details"],
                             [[row.id, row.at, row.actor, row.what, row.task, "; ".join(row.changes)]
                              for row in rows])
